// `pnpm bench` for @x/server, part 2: a bounded soak of connection churn against the built
// x-server (10 minutes by default; X_CHURN_SOAK_MS shortens it, X_CHURN_SAMPLE_MS sets the
// sampling period, X_CHURN_RATE the new connections per second, default 300). A load process
// keeps CLIENTS loops going: each opens a TCP connection,
// sends OPTIONS one at a time (REQS per connection), closes it and opens the next; some close
// first, some let the server's lifetime close them. Every sample reads the server's RSS
// (/proc/<pid>/status) and its engine's connection records, index entries and armed timers
// (/metrics: x_conn_records, x_conn_index_entries, x_conn_timers). Asserted at the end (exit 1
// and FAIL lines otherwise):
//   * RSS flat: the median of the last fifth of the run is within the warm-up tolerance of the
//     warm-up baseline (tolerance = max(8 MiB, 2 x the RSS spread seen during warm-up));
//   * no leaks: once the load stopped and its connections closed, 0 connection records, 0 index
//     entries, no deadline left in the engine's timer wheel;
//   * the load itself worked: no failed request on a connection that was answered;
//   * with workers (x-server --workers; X_CHURN_WORKERS, default 2 when supported): a worker
//     SIGKILLed (by its PID) half-way is replaced, and the load loses only what that worker
//     held: every failed request falls in the seconds after the kill, no more of them than the
//     client connections open then, and requests are answered again afterwards.
// Everything on 127.0.0.1, ephemeral ports; every process started here is stopped by its PID.
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startXServer } from './lib/x-server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const X_SERVER = join(here, '..', 'dist', 'cli', 'x-server.js');
const RUN_MS = Number(process.env.X_CHURN_SOAK_MS ?? 600_000);
const SAMPLE_MS = Number(process.env.X_CHURN_SAMPLE_MS ?? Math.max(1000, Math.min(10_000, RUN_MS / 60)));
const WARMUP_MS = Math.max(SAMPLE_MS * 4, RUN_MS * 0.2);
const CLIENTS = Number(process.env.X_CHURN_CLIENTS ?? 20);
// new connections per second the load aims at (a steady load, not a flood: the machine is shared)
const RATE = Number(process.env.X_CHURN_RATE ?? 300);
const REQS = 5; // requests per connection
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === 'load') {
  await load(Number(process.argv[3]));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'x-churn-'));
writeFileSync(
  join(dir, 'x.cfg'),
  `log_level = 3
route_script = "./routes.mjs"
tcp_connection_lifetime = 3
tcp_max_connections = 4096
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", 0)
`,
);
writeFileSync(join(dir, 'routes.mjs'), 'export function request(ctx) { if (ctx.message.method === "OPTIONS") ctx.reply(200, "OK").catch(() => {}); }\n');

const HAS_WORKERS = /--workers/.test(spawnSync(process.execPath, [X_SERVER, '--help'], { encoding: 'utf8' }).stdout ?? '');
const WORKERS = HAS_WORKERS ? Number(process.env.X_CHURN_WORKERS ?? 2) : 1;
const { server, port, metricsUrl, stop: stopServer } = await startXServer(X_SERVER, ['-f', join(dir, 'x.cfg'), ...(HAS_WORKERS ? ['--workers', String(WORKERS)] : [])]);
// keep draining the server's log so it never blocks on a full pipe
server.stdout.resume();

/** the server's worker processes (children of the primary); [] with one process */
function workerPids() {
  if (WORKERS === 1) return [];
  const out = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'latin1');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === server.pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}
const rssOf = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
/** RSS of the primary and its workers, KiB */
const rssKb = () => [server.pid, ...workerPids()].reduce((a, p) => a + rssOf(p), 0);
async function metrics(names) {
  const text = await (await fetch(metricsUrl)).text();
  return Object.fromEntries(names.map((n) => [n, Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)]));
}
const WATCH = ['x_conn_records', 'x_conn_index_entries', 'x_conn_timers', 'x_tcp_connections', 'x_tcp_accepted_total', 'x_tcp_closed_total'];

if (WORKERS > 1) {
  // the workers start after the primary logs its listeners: wait for all of them
  const end = Date.now() + 20_000;
  while (workerPids().length < WORKERS && Date.now() < end) await sleep(100);
}
console.log(`churn soak: ${(RUN_MS / 1000).toFixed(0)} s against x-server (pid ${server.pid}, ${WORKERS} worker${WORKERS > 1 ? 's' : ''}), ${CLIENTS} client loops of ${REQS} OPTIONS per connection, up to ${RATE} new connections/s, sample every ${SAMPLE_MS} ms, warm-up ${(WARMUP_MS / 1000).toFixed(0)} s`);
const idle = { rss: rssKb(), ...(await metrics(WATCH)) };
console.log(`idle: RSS ${(idle.rss / 1024).toFixed(1)} MiB, records ${idle.x_conn_records}, index entries ${idle.x_conn_index_entries}, timers ${idle.x_conn_timers}`);

const loader = fork(fileURLToPath(import.meta.url), ['load', String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
let last = { conns: 0, ok: 0, failed: 0, connectFailed: 0, open: 0, failedAt: [], lost: 0, lostAt: [] };
loader.on('message', (m) => (last = m));
const samples = [];
const t0 = Date.now();
let failed = false;
/** the worker kill (with workers): when, which, what the load had open then */
let kill;
try {
  while (Date.now() - t0 < RUN_MS) {
    await sleep(Math.min(SAMPLE_MS, RUN_MS - (Date.now() - t0)));
    if (WORKERS > 1 && !kill && Date.now() - t0 >= RUN_MS / 2) {
      const victim = workerPids()[0];
      if (victim) {
        const okBefore = last.ok;
        process.kill(victim, 'SIGKILL');
        kill = { at: Date.now(), pid: victim, open: last.open, okBefore };
        console.log(`killed worker ${victim} (SIGKILL) at t=${((kill.at - t0) / 1000).toFixed(0)} s; the load had ${last.open} connections open`);
        const end = Date.now() + 20_000;
        while (Date.now() < end && !(workerPids().length === WORKERS && !workerPids().includes(victim))) await sleep(100);
        kill.replacedMs = workerPids().length === WORKERS && !workerPids().includes(victim) ? Date.now() - kill.at : NaN;
        console.log(`  replaced: ${Number.isNaN(kill.replacedMs) ? 'NO' : `in ${kill.replacedMs} ms`}, workers ${workerPids().join(' ')}`);
      }
    }
    const m = await metrics(WATCH);
    const s = { t: (Date.now() - t0) / 1000, rss: rssKb(), ...m, ...last };
    samples.push(s);
    console.log(
      `t=${s.t.toFixed(0).padStart(4)} s RSS ${(s.rss / 1024).toFixed(1).padStart(6)} MiB, records ${String(s.x_conn_records).padStart(4)}, index ${String(s.x_conn_index_entries).padStart(4)}, timers ${String(s.x_conn_timers).padStart(3)}, ` +
        `accepted ${s.x_tcp_accepted_total}, client: conns ${s.conns}, requests ok ${s.ok}, failed ${s.failed}, connects failed ${s.connectFailed} (load ${loadavg().map((x) => x.toFixed(2)).join(' ')})`,
    );
  }
} finally {
  loader.send('stop');
  await Promise.race([new Promise((r) => loader.once('exit', r)), sleep(15_000)]);
  if (loader.exitCode === null && loader.pid) process.kill(loader.pid, 'SIGKILL');
}

// after the load: every connection it opened is closed by it (FIN) or by the lifetime; wait
// until the engine says so (bounded), then check nothing stayed behind
const endBy = Date.now() + 15_000;
let after = await metrics(WATCH);
while ((after.x_conn_records !== 0 || after.x_conn_index_entries !== 0 || after.x_conn_timers !== idle.x_conn_timers) && Date.now() < endBy) {
  await sleep(200);
  after = await metrics(WATCH);
}
const rssAfter = rssKb();

const warm = samples.filter((s) => s.t * 1000 <= WARMUP_MS);
const tail = samples.slice(Math.floor(samples.length * 0.8));
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const warmRss = warm.slice(1).map((s) => s.rss);
const baseline = median(warmRss.slice(Math.floor(warmRss.length / 2)));
const tolerance = Math.max(8 * 1024, 2 * (Math.max(...warmRss) - Math.min(...warmRss)));
const tailRss = median(tail.map((s) => s.rss));
// least-squares slope of RSS after warm-up, KiB per minute
const post = samples.filter((s) => s.t * 1000 > WARMUP_MS);
let slope = NaN;
if (post.length >= 2) {
  const mt = post.reduce((a, s) => a + s.t, 0) / post.length;
  const mr = post.reduce((a, s) => a + s.rss, 0) / post.length;
  slope = (post.reduce((a, s) => a + (s.t - mt) * (s.rss - mr), 0) / post.reduce((a, s) => a + (s.t - mt) ** 2, 0)) * 60;
}
console.log(
  `\nload: ${last.conns} connections opened and closed, ${last.ok} requests answered, ${last.failed} failed, ${last.lost} connections lost, ${last.connectFailed} connects failed; ` +
    `${((last.conns / RUN_MS) * 1000).toFixed(0)} connections/s, ${((last.ok / RUN_MS) * 1000).toFixed(0)} requests/s`,
);
console.log(
  `RSS: idle ${(idle.rss / 1024).toFixed(1)} MiB, warm-up baseline ${(baseline / 1024).toFixed(1)} MiB (tolerance ${(tolerance / 1024).toFixed(1)} MiB), last fifth median ${(tailRss / 1024).toFixed(1)} MiB, ` +
    `slope after warm-up ${(slope / 1024).toFixed(2)} MiB/min, after the load ${(rssAfter / 1024).toFixed(1)} MiB`,
);
console.log(`after the load: records ${after.x_conn_records}, index entries ${after.x_conn_index_entries}, timers ${after.x_conn_timers} (idle ${idle.x_conn_timers}), tcp:connections ${after.x_tcp_connections}`);
const fail = (why) => {
  failed = true;
  console.log(`FAIL: ${why}`);
};
if (samples.length < 5) fail(`only ${samples.length} samples: run longer (X_CHURN_SOAK_MS)`);
if (!(tailRss <= baseline + tolerance)) fail(`RSS grew: last fifth median ${(tailRss / 1024).toFixed(1)} MiB > baseline ${(baseline / 1024).toFixed(1)} + ${(tolerance / 1024).toFixed(1)} MiB`);
if (after.x_conn_records !== 0) fail(`${after.x_conn_records} connection records left after every connection closed`);
if (after.x_conn_index_entries !== 0) fail(`${after.x_conn_index_entries} index entries left after every connection closed`);
if (after.x_conn_timers !== idle.x_conn_timers) fail(`${after.x_conn_timers} timers armed after the load, ${idle.x_conn_timers} when idle`);
if (kill) {
  // what the kill may cost: requests on the connections of that worker, failing at the kill
  const window = 3000 + (Number.isNaN(kill.replacedMs) ? 0 : kill.replacedMs);
  const outside = [...last.failedAt, ...last.lostAt].filter((t) => t < kill.at || t > kill.at + window);
  console.log(
    `worker kill: ${last.lost} connections lost and ${last.failed} requests failed (the load had ${kill.open} connections open at the kill), ${outside.length} of them outside ${window} ms after it; ` +
      `replaced in ${kill.replacedMs} ms; ${last.ok - kill.okBefore} requests answered since`,
  );
  if (last.lost > kill.open) fail(`${last.lost} connections lost: more than the ${kill.open} open at the kill`);
  if (Number.isNaN(kill.replacedMs)) fail(`the killed worker ${kill.pid} was not replaced`);
  if (outside.length) fail(`${outside.length} requests failed or connections lost away from the worker kill`);
  if (last.failed > kill.open) fail(`${last.failed} requests failed: more than the ${kill.open} connections open at the kill`);
  if (!(last.ok > kill.okBefore + 100)) fail('requests were not answered again after the kill');
} else {
  if (last.failed !== 0) fail(`${last.failed} requests failed on open connections`);
  if (last.lost !== 0) fail(`${last.lost} connections closed by the server before their requests were done`);
}
if (!(last.ok > 0)) fail('no request was answered');
await stopServer();
rmSync(dir, { recursive: true, force: true });
console.log(failed ? 'churn soak: FAILED' : 'churn soak: passed (RSS flat, no leaked connection records, index entries or timers)');
process.exit(failed ? 1 : 0);

/**
 * The load process: CLIENTS loops, each connection: connect, REQS OPTIONS one at a time (each
 * waits for its 200), then every other connection closes it itself and the rest wait for the
 * server's tcp_connection_lifetime to close it (bounded), then the next connection. Reports
 * its counts to the parent every second.
 */
async function load(port) {
  let stop = false;
  process.on('message', (m) => {
    if (m === 'stop') stop = true;
  });
  const st = { conns: 0, ok: 0, failed: 0, connectFailed: 0, open: 0, failedAt: [], lost: 0, lostAt: [] };
  const report = setInterval(() => process.send?.(st), 1000);
  let seq = 0;
  const one = (id) =>
    new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      let buf = '';
      let sent = 0;
      let answered = 0;
      let connected = false;
      const waitClose = id % 2 === 1;
      const request = () => {
        sent++;
        const cid = `churn-${process.pid}-${++seq}`;
        s.write(`OPTIONS sip:x@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${cid}\r\nFrom: <sip:l@x>;tag=1\r\nTo: <sip:x@x>\r\nCall-ID: ${cid}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
      };
      s.setTimeout(10_000, () => s.destroy());
      s.on('connect', () => {
        connected = true;
        st.conns++;
        st.open++;
        request();
      });
      s.on('data', (d) => {
        buf += d.toString('latin1');
        let i;
        while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
          const head = buf.slice(0, i);
          buf = buf.slice(i + 4);
          if (head.startsWith('SIP/2.0 200')) {
            answered++;
            st.ok++;
          }
          if (answered === REQS || stop) {
            if (!waitClose || stop) s.end();
          } else if (sent === answered) request();
        }
      });
      s.on('error', () => {});
      s.on('close', () => {
        if (!connected) st.connectFailed++;
        else {
          st.open--;
          // a request sent and not answered before the close is a failure (the lifetime only
          // closes an idle connection once its requests are answered)
          if (sent > answered) {
            st.failed += sent - answered;
            if (st.failedAt.length < 1000) st.failedAt.push(Date.now());
          }
          // closed by the server before its requests were done: a lost connection
          if (answered < REQS && !stop) {
            st.lost++;
            if (st.lostAt.length < 1000) st.lostAt.push(Date.now());
          }
        }
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, k) => {
      // each loop opens its share of RATE: one connection every CLIENTS / RATE seconds
      const every = (1000 * CLIENTS) / RATE;
      let next = Date.now() + (every * k) / CLIENTS;
      for (let id = k; !stop; id += CLIENTS) {
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        next = Math.max(next + every, Date.now() - every);
        if (!stop) await one(id);
      }
    }),
  );
  clearInterval(report);
  process.send?.(st);
  await sleep(100);
}
