// `pnpm bench` for @x/proto-tcp: macro benchmark of SIP over TCP on 127.0.0.1.
// See README.md in this folder for method and caveats. Ports: 18400-18419 only.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertFree, cpuMs, forkJobs, startProcess, stopProcess, waitPort } from '@x/test-peers/proc';
import { kamailioArgs, kamailioAvailable } from '@x/test-peers/kamailio';

const here = fileURLToPath(new URL('.', import.meta.url));
const BASE_PORT = Number(process.env.X_BENCH_PORT ?? 18400);
const STEP_MS = Number(process.env.X_BENCH_STEP_MS ?? 1500);
const WARMUP_MS = Number(process.env.X_BENCH_WARMUP_MS ?? 1000);
const only = process.env.X_BENCH_ONLY?.split(',');
// Sections to run: framer (0), roundTrips (1), oneConn and perCall (2); default all.
// X_BENCH_MODES (oneConn,perCall) is the older switch for (2) alone and still applies.
const sections = process.env.X_BENCH_SECTIONS?.split(',');
const modes = process.env.X_BENCH_MODES?.split(',');
const want = (section) => (!sections || sections.includes(section)) && (section === 'framer' || section === 'roundTrips' || !modes || modes.includes(section));
const profileDir = process.env.X_BENCH_CPU_PROF; // node --cpu-prof of the Node servers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- load generator (separate process) ----
const { child: lg, run } = forkJobs(join(here, 'loadgen.mjs'));
function load(job) {
  if (Date.now() > DEADLINE) throw new Error('bench time budget exceeded');
  return run(job);
}

/** One load step with the server's and the load generator's CPU time charged to it. */
async function measured(server, job) {
  const c0 = cpuMs(server.pid);
  const l0 = cpuMs(lg.pid);
  const res = await load(job);
  res.cpuUsPerReq = res.ok ? ((cpuMs(server.pid) - c0) * 1000) / res.ok : NaN;
  res.lgCpuUsPerReq = res.ok ? ((cpuMs(lg.pid) - l0) * 1000) / res.ok : NaN;
  res.offered = job.rate;
  return res;
}

/**
 * Saturate (closed loop) to find the ceiling, then offer rising fractions of it (open loop) and
 * keep the last step with 0 failures. Rising, because an overloaded step leaves backlog (SYN
 * queue, half-closed sockets) that would poison the steps after it.
 */
async function ramp(server, base) {
  const sat = await measured(server, { ...base, durationMs: 1500 });
  const steps = [];
  let best = null;
  const step = async (f) => {
    await sleep(300);
    const rate = Math.max(100, Math.round((sat.rate * f) / 100) * 100);
    // Backlog allowed: 50 ms worth of requests (at least 256). More than that in flight means
    // the server is not keeping up, and the request that finds the window full is a failure.
    const window = Math.max(256, Math.round(rate * 0.05));
    const r = await measured(server, { ...base, rate, window, durationMs: STEP_MS });
    r.fraction = f;
    steps.push(r);
    const pass = r.failures === 0 && r.ok >= rate * (STEP_MS / 1000) * 0.97;
    if (pass && (!best || r.rate > best.rate)) best = r;
    return pass;
  };
  let lastPass = 0;
  for (const f of [0.4, 0.55, 0.7, 0.8, 0.9, 1.0]) {
    if (!(await step(f))) {
      // One bisection between the last passing and the first failing fraction.
      if (lastPass > 0) await step((lastPass + f) / 2);
      break;
    }
    lastPass = f;
  }
  return { sat, best, steps };
}

// ---- servers under test ----
const nodeServer = (file) => () => [process.execPath, [
  ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
  join(here, 'servers', file),
]];
// x-server itself (the built binary of @x/server, when present) with 1 and N workers: a cfg
// with one tcp socket and a route script answering 200, sized like the responder
const WORKERS = Number(process.env.X_BENCH_WORKERS ?? availableParallelism());
const X_SERVER = join(here, '..', '..', '..', 'apps', 'server', 'dist', 'cli', 'x-server.js');
const xServer = (workers) => (port, dir) => {
  writeFileSync(join(dir, 'routes.mjs'), "export function request(ctx) { if (ctx.message.method !== 'ACK') return ctx.reply(200, 'OK'); }\n");
  writeFileSync(join(dir, 'x.cfg'), [
    'log_level = 1', 'route_script = "./routes.mjs"', 'tcp_max_connections = 16384', 'tcp_socket_backlog = 1024', 'server_signature = 0',
    `socket = tcp:127.0.0.1:${port}`, 'loadmodule "proto_tcp.so"', '',
  ].join('\n'));
  return [process.execPath, [X_SERVER, '-f', join(dir, 'x.cfg'), '--workers', String(workers)]];
};
const servers = [
  { key: 'echo', name: 'raw node:net echo', cmd: nodeServer('echo.mjs') },
  { key: 'proto-tcp', name: '@x/proto-tcp', cmd: nodeServer('proto-tcp.mjs') },
  { key: 'proto-tcp-workers', name: `proto-tcp x${WORKERS} workers`, readyMs: 1000, cmd: nodeServer('proto-tcp-workers.mjs') },
  { key: 'x-server-1', name: 'x-server 1 worker', readyMs: 500, startMs: 30_000, portInCfg: true, needs: X_SERVER, cmd: xServer(1) },
  { key: 'x-server-n', name: `x-server x${WORKERS} workers`, readyMs: 3000, startMs: 30_000, portInCfg: true, needs: X_SERVER, cmd: xServer(WORKERS) },
  { key: 'naive', name: 'naive node:net', cmd: nodeServer('naive.mjs') },
  { key: 'kamailio', name: 'Kamailio 5.6 sl', readyMs: 1000, cmd: (port, dir) => ['kamailio', kamailioArgs(dir, port)] },
].filter((s) => !only || only.includes(s.key));
// about 30 s per server (round trips, two ramps), bounded
const DEADLINE = Date.now() + 40_000 * servers.length + 30_000;

const results = { machine: {}, servers: {} };
const loadStart = loadavg()[0];
if (loadStart > 0.5) {
  console.log(`note: 1-min load average is ${loadStart.toFixed(2)} before the run; other work on this machine skews every figure\n`);
}

// Micro-benchmark first (tinybench, a few seconds): the framer alone, no sockets.
if ((!only || only.includes('framer')) && want('framer')) {
  const micro = spawnSync(process.execPath, [join(here, 'framer.bench.mjs')], { encoding: 'utf8', timeout: 30_000 });
  console.log(`(0) framing only, tinybench\n${(micro.stdout || micro.stderr || '').trimEnd()}\n`);
  results.framer = micro.stdout;
}
const work = mkdtempSync(join(tmpdir(), 'x-bench-'));
let failed = false;
try {
  for (const [i, s] of servers.entries()) {
    if (s.key === 'kamailio' && !kamailioAvailable()) { results.servers[s.key] = { skipped: 'kamailio not installed' }; continue; }
    if (s.needs && !existsSync(s.needs)) { results.servers[s.key] = { name: s.name, skipped: 'not built (corepack pnpm --filter @x/server build)' }; continue; }
    const port = BASE_PORT + i;
    await assertFree(port);
    const dir = mkdtempSync(join(work, `${s.key}-`));
    const r = (results.servers[s.key] = { name: s.name });
    let proc;
    try {
      const [cmd, args] = s.cmd(port, dir);
      proc = startProcess(cmd, [...args, ...(cmd === 'kamailio' || s.portInCfg ? [] : [String(port)])]);
      await waitPort(port, proc, s.startMs ?? 8000);
      await sleep(s.readyMs ?? 200);
      const expect = s.key === 'echo' ? 0 : 200;
      // (1) framed round trips on one connection, window 32, after an unmeasured warm-up of the
      // same load (a Node server's first second includes its JIT compiling the hot path).
      if (want('roundTrips')) {
        if (WARMUP_MS > 0) await load({ mode: 'closed', port, conns: 1, window: 32, durationMs: WARMUP_MS, expect });
        r.roundTrips = await measured(proc, { mode: 'closed', port, conns: 1, window: 32, durationMs: 1500, expect });
      }
      if (s.key !== 'echo') {
        if (want('oneConn')) r.oneConn = await ramp(proc, { mode: 'closed', port, conns: 1, window: 32, expect });
        if (want('perCall')) r.perCall = await ramp(proc, { mode: 'percall', port, concurrency: 48, maxInflight: 1024, expect });
      }
      process.stderr.write(`  ${s.name}: done\n`);
    } catch (e) {
      r.error = String(e?.message ?? e);
      failed = true;
      process.stderr.write(`  ${s.name}: ${r.error}\n`);
    } finally {
      if (proc) await stopProcess(proc);
    }
  }
} finally {
  lg.disconnect();
  rmSync(work, { recursive: true, force: true });
}

// ---- report ----
const S = results.servers;
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const rows = [];
for (const [key, r] of Object.entries(S)) {
  if (r.skipped || r.error) { rows.push([r.name ?? key, r.skipped ?? `ERROR ${r.error.split('\n')[0]}`]); continue; }
  for (const [label, x] of [['1 conn', r.oneConn], ['conn/req', r.perCall]]) {
    if (!x) continue;
    const b = x.best;
    rows.push([r.name, label, fmt(x.sat.rate), b ? fmt(b.ok / (b.elapsedMs / 1000)) : 'none', b ? fmt(b.p99, 2) : '-',
      b ? fmt(b.cpuUsPerReq, 1) : '-', b ? fmt(b.lgCpuUsPerReq, 1) : '-']);
  }
}
const rt = (k) => S[k]?.roundTrips?.rate;
console.log('\n(1) framed SIP round trips/s, one connection, window 32 (closed loop)');
for (const k of ['echo', 'proto-tcp', 'proto-tcp-workers', 'x-server-1', 'x-server-n', 'naive', 'kamailio']) {
  if (rt(k)) console.log(`  ${S[k].name.padEnd(20)} ${fmt(rt(k)).padStart(8)}/s   srv ${fmt(S[k].roundTrips.cpuUsPerReq, 2).padStart(6)} µs/req`);
}
if (rt('echo') && rt('proto-tcp')) console.log(`  ratio proto-tcp / raw echo = ${(rt('proto-tcp') / rt('echo')).toFixed(2)} (aim >= 0.8)`);
if (rows.length) {
  console.log('\n(2) OPTIONS -> 200: saturation, highest offered rate with 0 failures, its p99, CPU per request');
  const head = ['server', 'mode', 'sat/s', 'ok rate/s', 'p99 ms', 'srv µs/req', 'loadgen µs/req'];
  const width = [20, 9, 9, 10, 8, 11, 14];
  console.log(head.map((h, i) => h.padEnd(width[i])).join(' '));
  for (const row of rows) console.log(row.map((c, i) => String(c).padEnd(width[i] ?? 0)).join(' '));
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b ? (a / b).toFixed(2) : '-');
const kb = (m) => S.kamailio?.[m]?.best;
for (const key of ['proto-tcp', 'proto-tcp-workers', 'x-server-1', 'x-server-n']) {
  const xb = (m) => S[key]?.[m]?.best;
  for (const m of ['oneConn', 'perCall']) {
    if (kb(m) && xb(m)) {
      console.log(`  ${m}: ${key}/kamailio rate x${ratio(xb(m).rate, kb(m).rate)} (aim >= 2), CPU/req x${ratio(xb(m).cpuUsPerReq, kb(m).cpuUsPerReq)} (aim <= 0.5)`);
    }
  }
}
results.machine = { node: process.version, cpus: cpus().length, loadavgStart: loadStart, loadavgEnd: loadavg()[0], at: new Date().toISOString() };
console.log(`load average (1 min) at start ${loadStart.toFixed(2)}, at end ${loadavg()[0].toFixed(2)}; ${cpus().length} CPUs`);
const out = join(tmpdir(), `x-proto-tcp-bench-${Date.now()}.json`);
writeFileSync(out, JSON.stringify(results, null, 2));
console.log(`\nJSON: ${out}`);
process.exitCode = failed ? 1 : 0;
