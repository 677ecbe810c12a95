// `pnpm bench:idle` for @x/proto-tcp: memory per idle connection. A server process holds N
// idle connections (TCP: X_IDLE_TCP, default 50000; TLS: X_IDLE_TLS, default 10000) opened by a
// client process from 127.0.0.2..21 (20 source addresses, so no source runs out of ports);
// the server's RSS after a forced GC, before and after, divided by the connections it holds, is
// the cost of one. Responders: the current proto-tcp build (createSipTcp / createSipTls, public
// API), optionally a baseline build (X_IDLE_BASELINE, a proto-tcp package directory as for the
// tap bench) and node's own net / tls servers holding the sockets (naive). Both processes get
// their open-files limit raised with prlimit(1) when allowed (CAP_SYS_RESOURCE), else hold as
// many connections as their limit allows (the count held is printed).
// Ports 18440-18449; bounded to about 4 minutes.
import { execFileSync, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const PORT = Number(process.env.X_IDLE_PORT ?? 18440);
const N_TCP = Number(process.env.X_IDLE_TCP ?? 50_000);
const N_TLS = Number(process.env.X_IDLE_TLS ?? 10_000);
const only = process.env.X_IDLE_ONLY?.split(',');
const current = resolve(here, '..');
const baseline = process.env.X_IDLE_BASELINE ? resolve(process.env.X_IDLE_BASELINE) : undefined;
const DEADLINE = Date.now() + 240_000;
const fixture = (f) => readFileSync(join(here, '..', 'test', 'fixtures', 'tls', f), 'utf8');
const env = { ...process.env, X_IDLE_CERT: fixture('cert.pem'), X_IDLE_KEY: fixture('key.pem') };
// X_IDLE_CLIENT_CERT=1: TLS clients present a certificate (the server asks for one), as SIP peers of a tls_mgm domain with require_cert do
const clientCert = process.env.X_IDLE_CLIENT_CERT === '1';

function raiseNofile(pid, n) {
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${n}:${n}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** this process's open-files limit (children inherit it), from /proc */
function nofile() {
  const m = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m ? Number(m[1]) : 1024;
}

const ask = (child, msg, pred = () => true) => new Promise((res, rej) => {
  const t = setTimeout(() => rej(new Error(`no answer to ${JSON.stringify(msg)}`)), Math.max(1000, DEADLINE - Date.now()));
  const on = (m) => { if (pred(m)) { clearTimeout(t); child.off('message', on); res(m); } };
  child.on('message', on);
  if (msg !== undefined) child.send(msg);
});

const variants = [];
for (const [transport, n] of [['tcp', N_TCP], ['tls', N_TLS]]) {
  if (n <= 0) continue;
  variants.push({ key: `naive-${transport}`, kind: 'naive', transport, n, dir: current });
  if (baseline) variants.push({ key: `baseline-${transport}`, kind: 'proto-tcp', transport, n, dir: baseline });
  variants.push({ key: `proto-tcp-${transport}`, kind: 'proto-tcp', transport, n, dir: current });
}
const results = {};
const load0 = loadavg()[0];
for (const [i, v] of variants.entries()) {
  if (only && !only.includes(v.key)) continue;
  if (Date.now() > DEADLINE - 20_000) { results[v.key] = { skipped: 'time budget' }; continue; }
  const port = PORT + i;
  const server = fork(join(here, 'servers', 'idle-server.mjs'), [v.kind, v.transport, String(port), v.dir], { env, execArgv: ['--expose-gc'] });
  const client = fork(join(here, 'idle-client.mjs'), [], { execArgv: [] });
  try {
    await ask(server, undefined, (m) => m === 'ready');
    const raised = raiseNofile(server.pid, v.n + 4096) && raiseNofile(client.pid, v.n + 4096);
    // not raised (no CAP_SYS_RESOURCE, e.g. in a container): as many as the limit allows
    if (!raised) v.n = Math.min(v.n, nofile() - 2048);
    const m0 = await ask(server, 'mem', (m) => m?.rss !== undefined);
    const t0 = Date.now();
    const opened = await ask(client, { cmd: 'open', port, n: v.n, transport: v.transport, ...(clientCert ? { cert: env.X_IDLE_CERT, key: env.X_IDLE_KEY } : {}), sources: 20, par: v.transport === 'tls' ? 64 : 256, deadlineMs: Math.min(150_000, DEADLINE - Date.now() - 15_000) }, (m) => m?.held !== undefined);
    const openMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1000));
    const m1 = await ask(server, 'mem', (m) => m?.rss !== undefined);
    const conns = m1.conns;
    results[v.key] = {
      conns, failed: opened.failed, openMs, raised,
      rssPerConn: (m1.rss - m0.rss) / conns,
      heapPerConn: (m1.heapUsed - m0.heapUsed) / conns,
      externalPerConn: (m1.external - m0.external) / conns,
    };
    process.stderr.write(`  ${v.key}: ${conns} held, ${(results[v.key].rssPerConn / 1024).toFixed(2)} KB RSS each\n`);
    await ask(client, { cmd: 'close' }, (m) => m?.closed);
  } catch (e) {
    results[v.key] = { error: String(e?.message ?? e) };
  } finally {
    server.kill('SIGKILL');
    client.kill('SIGKILL');
  }
  // let the sockets of this step leave before the next (TIME_WAIT is on the client's side)
  await new Promise((r) => setTimeout(r, 500));
}

console.log(`\nidle connections: server RSS per connection after GC${clientCert ? ', TLS clients with a certificate' : ''} (load avg ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end)`);
for (const [k, r] of Object.entries(results)) {
  if (r.error || r.skipped) { console.log(`  ${k.padEnd(18)} ${r.error ?? r.skipped}`); continue; }
  console.log(`  ${k.padEnd(18)} ${String(r.conns).padStart(6)} conns  RSS ${(r.rssPerConn / 1024).toFixed(2).padStart(6)} KB  heap ${(r.heapPerConn / 1024).toFixed(2).padStart(6)} KB  external ${(r.externalPerConn / 1024).toFixed(2).padStart(6)} KB  (opened in ${(r.openMs / 1000).toFixed(1)} s, ${r.failed} failed${r.raised ? '' : ', open-files limit not raised'})`);
}
for (const t of ['tcp', 'tls']) {
  const p = results[`proto-tcp-${t}`];
  const n = results[`naive-${t}`];
  if (p?.rssPerConn && n?.rssPerConn) console.log(`  ${t}: proto-tcp - naive = ${((p.rssPerConn - n.rssPerConn) / 1024).toFixed(2)} KB per connection`);
}
