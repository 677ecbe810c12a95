// `pnpm bench:tap` for @x/proto-tcp: what core-conn's observation tap costs SIP over TCP.
// OPTIONS round trips/s on one connection (window 32, closed loop, as section (1) of run.mjs)
// against three responders, each in its own process, interleaved over several rounds in the
// same run:
//   baseline   the code before the tap (X_TAP_BASELINE: a proto-tcp package directory built
//              from that commit, e.g. a `git worktree` of it after `pnpm install && pnpm build`)
//   no-sub     the current build, nobody subscribed to the tap
//   sub        the current build, one subscriber on every tap channel copying every event's bytes
// Prints the median rate and server CPU µs per request of each, and the ratios no-sub/baseline
// (aim >= 0.98) and sub/no-sub (aim >= 0.85). Ports 18420-18429.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMs, forkJobs, startProcess, stopProcess, waitPort } from '@x/test-peers/proc';

const here = fileURLToPath(new URL('.', import.meta.url));
const PORT = Number(process.env.X_TAP_PORT ?? 18420);
const ROUNDS = Number(process.env.X_TAP_ROUNDS ?? 5);
const MS = Number(process.env.X_TAP_MS ?? 1500);
const current = resolve(here, '..');
const baseline = process.env.X_TAP_BASELINE ? resolve(process.env.X_TAP_BASELINE) : undefined;
if (baseline && !existsSync(join(baseline, 'dist', 'index.js'))) throw new Error(`X_TAP_BASELINE: no dist/index.js under ${baseline}`);

const { child: lg, run: load } = forkJobs(join(here, 'loadgen.mjs'));

const variants = [
  ...(baseline ? [{ key: 'baseline', dir: baseline, mode: 'nosub' }] : []),
  { key: 'no-sub', dir: current, mode: 'nosub' },
  { key: 'sub', dir: current, mode: 'sub' },
];
const results = Object.fromEntries(variants.map((v) => [v.key, []]));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

try {
  for (let round = 0; round < ROUNDS; round++) {
    // rotate the order every round so no variant always runs first or last
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const v of order) {
      const port = PORT + (round % 5) * 2;
      const proc = startProcess(process.execPath, [join(here, 'servers', 'tap-responder.mjs'), String(port), v.dir, v.mode], { limitS: 60 });
      try {
        await waitPort(port, proc);
        await load({ mode: 'closed', port, conns: 1, window: 32, durationMs: 800, expect: 200 });
        const c0 = cpuMs(proc.pid);
        const r = await load({ mode: 'closed', port, conns: 1, window: 32, durationMs: MS, expect: 200 });
        if (r.failures > 0) throw new Error(`${v.key}: ${r.failures} failed round trips`);
        results[v.key].push({ rate: r.rate, cpuUs: ((cpuMs(proc.pid) - c0) * 1000) / r.ok });
      } finally {
        await stopProcess(proc);
      }
      const exit = await proc.exited;
      if (exit.code !== 0 && exit.code !== null) throw new Error(`${v.key} responder exited ${exit.code}: ${proc.log()}`);
    }
  }
} finally {
  lg.kill();
}

console.log(`\ncore-conn tap cost: OPTIONS round trips/s, one connection, window 32; median of ${ROUNDS} interleaved rounds of ${MS} ms (load avg ${loadavg()[0].toFixed(1)})`);
const row = {};
for (const v of variants) {
  row[v.key] = { rate: median(results[v.key].map((x) => x.rate)), cpuUs: median(results[v.key].map((x) => x.cpuUs)) };
  console.log(`  ${v.key.padEnd(9)} ${row[v.key].rate.toFixed(0).padStart(8)}/s   srv ${row[v.key].cpuUs.toFixed(2).padStart(6)} µs/req   (rates ${results[v.key].map((x) => x.rate.toFixed(0)).join(', ')})`);
}
if (row.baseline) {
  console.log(`  no-sub / baseline: rate ${(row['no-sub'].rate / row.baseline.rate).toFixed(3)}, cpu/req ${(row.baseline.cpuUs / row['no-sub'].cpuUs).toFixed(3)} (aim >= 0.98)`);
} else console.log('  no baseline (set X_TAP_BASELINE to a proto-tcp package dir built from the pre-tap code)');
console.log(`  sub / no-sub:      rate ${(row.sub.rate / row['no-sub'].rate).toFixed(3)}, cpu/req ${(row['no-sub'].cpuUs / row.sub.cpuUs).toFixed(3)} (aim >= 0.85)`);
