// `pnpm bench:percall` for @x/proto-tcp: what one connection costs. A new connection per
// OPTIONS (connect, request, 200, close) offered at one fixed rate to every responder, each in
// its own process, interleaved over several rounds in the same run, so that CPU per request is
// compared at the same load (it falls as the rate rises: fixed costs spread over more calls):
//   naive      servers/naive.mjs, a bare node:net responder (no limits, no engine)
//   baseline   a proto-tcp package directory built from older code (X_PERCALL_BASELINE), optional
//   proto-tcp  the current build (servers/tap-responder.mjs, nobody on the tap)
//   kamailio   Kamailio 5.6 sl with 4 TCP children, when installed
// Prints per responder the median server CPU µs per request, p99 and failures, then the cost
// per connection over naive. Ports 18430-18439. X_PERCALL_RATE (default 1500/s),
// X_PERCALL_ROUNDS (3), X_PERCALL_MS (2000), X_PERCALL_ONLY (comma list of the keys above).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, forkJobs, startProcess, stopProcess, waitPort } from '@x/test-peers/proc';
import { kamailioArgs, kamailioAvailable } from '@x/test-peers/kamailio';

const here = fileURLToPath(new URL('.', import.meta.url));
const PORT = Number(process.env.X_PERCALL_PORT ?? 18430);
const RATE = Number(process.env.X_PERCALL_RATE ?? 1500);
const ROUNDS = Number(process.env.X_PERCALL_ROUNDS ?? 3);
const MS = Number(process.env.X_PERCALL_MS ?? 2000);
const only = process.env.X_PERCALL_ONLY?.split(',');
const current = resolve(here, '..');
const baseline = process.env.X_PERCALL_BASELINE ? resolve(process.env.X_PERCALL_BASELINE) : undefined;
if (baseline && !existsSync(join(baseline, 'dist', 'index.js'))) throw new Error(`X_PERCALL_BASELINE: no dist/index.js under ${baseline}`);

const { child: lg, run: load } = forkJobs(join(here, 'loadgen.mjs'));

const node = (file, ...args) => (port) => [process.execPath, [join(here, 'servers', file), String(port), ...args]];
const variants = [
  { key: 'naive', cmd: node('naive.mjs') },
  ...(baseline ? [{ key: 'baseline', cmd: node('tap-responder.mjs', baseline, 'nosub') }] : []),
  { key: 'proto-tcp', cmd: node('tap-responder.mjs', current, 'nosub') },
  ...(kamailioAvailable() ? [{ key: 'kamailio', readyMs: 1000, cmd: (port, dir) => ['kamailio', kamailioArgs(dir, port)] }] : []),
].filter((v) => !only || only.includes(v.key));
const results = Object.fromEntries(variants.map((v) => [v.key, []]));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const work = mkdtempSync(join(tmpdir(), 'x-percall-'));
const load0 = loadavg()[0];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const [i, v] of order.entries()) {
      const port = PORT + (round % 2) * 5 + i;
      const dir = mkdtempSync(join(work, `${v.key}-`));
      const [cmd, args] = v.cmd(port, dir);
      const proc = startProcess(cmd, args, { limitS: 60 });
      try {
        await waitPort(port, proc);
        await sleep(v.readyMs ?? 100);
        // warm-up at the same rate (a fresh Node process compiles its hot path first)
        await load({ mode: 'percall', port, rate: RATE, durationMs: 800, maxInflight: 1024, expect: 200 });
        await sleep(300);
        const c0 = cpuMs(proc.pid);
        const r = await load({ mode: 'percall', port, rate: RATE, durationMs: MS, maxInflight: 1024, expect: 200 });
        results[v.key].push({ cpuUs: ((cpuMs(proc.pid) - c0) * 1000) / Math.max(1, r.ok), p99: r.p99, ok: r.ok, failures: r.failures, rate: r.rate });
      } finally {
        await stopProcess(proc);
      }
    }
  }
} finally {
  lg.kill();
  rmSync(work, { recursive: true, force: true });
}

console.log(`\nconnection per request at ${RATE}/s offered, ${ROUNDS} interleaved rounds of ${MS} ms; load avg ${load0.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`);
const row = {};
for (const v of variants) {
  const rs = results[v.key];
  row[v.key] = { cpuUs: median(rs.map((x) => x.cpuUs)), p99: median(rs.map((x) => x.p99)) };
  console.log(`  ${v.key.padEnd(10)} srv ${row[v.key].cpuUs.toFixed(1).padStart(6)} µs/req (${rs.map((x) => x.cpuUs.toFixed(0)).join(', ')})   p99 ${row[v.key].p99.toFixed(2)} ms   failures ${rs.map((x) => x.failures).join(', ')}`);
}
const over = (k) => (row[k] && row.naive ? `${(row[k].cpuUs - row.naive.cpuUs).toFixed(1)} µs over naive (x${(row[k].cpuUs / row.naive.cpuUs).toFixed(2)})` : '');
if (row.baseline) console.log(`  baseline:  ${over('baseline')}`);
console.log(`  proto-tcp: ${over('proto-tcp')}${row.baseline ? `; vs baseline x${(row['proto-tcp'].cpuUs / row.baseline.cpuUs).toFixed(2)}` : ''}`);
if (row.kamailio) console.log(`  proto-tcp / kamailio CPU per request x${(row['proto-tcp'].cpuUs / row.kamailio.cpuUs).toFixed(2)}`);
