// `pnpm bench` for @x/server: a bounded (~60 s) hostile-traffic soak against the built x-server.
// A good client sends OPTIONS one at a time (100/s) and measures each round trip; first alone
// (baseline), then while an attacker process runs garbage, slowloris, CRLF and request floods,
// framed non-SIP messages and never-reading peers; then alone again. Prints the good client's
// p50/p99 in each phase, the ratio attack/baseline, and the server's RSS before/after.
// Everything on 127.0.0.1, ephemeral ports; every process started here is stopped by its PID.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startXServer } from './lib/x-server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const X_SERVER = join(here, '..', 'dist', 'cli', 'x-server.js');
const BASE_MS = Number(process.env.X_SOAK_BASE_MS ?? 15_000);
const ATTACK_MS = Number(process.env.X_SOAK_ATTACK_MS ?? 30_000);
const AFTER_MS = Number(process.env.X_SOAK_AFTER_MS ?? 8_000);
const RATE = 100; // good-client requests per second
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === 'attacker') {
  await attacker(Number(process.argv[3]), Number(process.argv[4]));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'x-soak-'));
// one process: the soak reads the CPU, RSS and event-loop delay of the process that serves SIP
// (x-server's default is one worker per core, where the primary serves no SIP)
writeFileSync(
  join(dir, 'x.cfg'),
  `log_level = 3
tcp_workers = 1
route_script = "./routes.mjs"
tcp_max_msg_time = 2
tcp_connection_lifetime = 10
tcp_max_connections = 2048
tcp_socket_backlog = 512
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("proto_tcp", "tcp_max_msg_chunks", 8)
modparam("httpd", "port", 0)
`,
);
// the route reads the method (throws for a non-SIP start line, had one reached it) and replies
writeFileSync(join(dir, 'routes.mjs'), 'export function request(ctx) { if (ctx.message.method === "OPTIONS") ctx.reply(200, "OK").catch(() => {}); }\n');

let logBytes = 0;
const { server, port, metricsUrl, stop: stopServer } = await startXServer(X_SERVER, ['-f', join(dir, 'x.cfg')], {
  onData: (d) => {
    logBytes += d.length;
  },
});

/** the server's CPU time so far (user + system), ms: /proc/<pid>/stat utime and stime, in clock ticks of 10 ms */
const cpuMs = () => {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? NaN);

/** The good client: one connection, one OPTIONS at a time at RATE/s; round-trip times in ms. */
async function goodClient(ms) {
  const sock = connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise((r, j) => { sock.once('connect', r); sock.once('error', j); });
  const rtts = [];
  let lost = 0;
  let buf = '';
  let waiting = null;
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    const i = buf.indexOf('\r\n\r\n');
    if (i >= 0 && waiting) {
      buf = buf.slice(i + 4);
      const w = waiting;
      waiting = null;
      w();
    }
  });
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    const got = new Promise((r) => (waiting = r));
    sock.write(`OPTIONS sip:soak@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-soak-${n}\r\nFrom: <sip:good@127.0.0.1>;tag=g\r\nTo: <sip:soak@127.0.0.1>\r\nCall-ID: soak-${n++}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
    const ok = await Promise.race([got.then(() => true), sleep(2000).then(() => false)]);
    if (ok) rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
    else {
      lost++;
      waiting = null;
    }
    const next = t0 + BigInt(Math.round(1e9 / RATE));
    const wait = Number(next - process.hrtime.bigint()) / 1e6;
    if (wait > 0) await sleep(wait);
  }
  sock.destroy();
  rtts.sort((a, b) => a - b);
  const q = (f) => rtts[Math.min(rtts.length - 1, Math.floor(f * rtts.length))] ?? NaN;
  return { n: rtts.length, lost, p50: q(0.5), p99: q(0.99), max: rtts.at(-1) ?? NaN };
}

async function metric(name) {
  const text = await (await fetch(metricsUrl)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * The server's own event-loop delay over a phase (prom-client's monitorEventLoopDelay, reset at
 * each scrape): p99 and max in ms. It tells the time the server's loop was busy (or not
 * scheduled) apart from what the good client measured end to end.
 */
async function loopDelay() {
  const text = await (await fetch(metricsUrl)).text();
  const v = (n) => Number(new RegExp(`^${n} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: v('nodejs_eventloop_lag_p99_seconds'), max: v('nodejs_eventloop_lag_max_seconds') };
}

const results = [];
let attackerProc;
try {
  await goodClient(2000); // warm-up
  const rss0 = rssKb();
  await loopDelay(); // resets the server's histogram
  const cpu0 = cpuMs();
  const base = await goodClient(BASE_MS);
  const cpuBase = cpuMs() - cpu0;
  const lagBase = await loopDelay();
  const rssBase = rssKb();
  const logBefore = logBytes;
  attackerProc = fork(fileURLToPath(import.meta.url), ['attacker', String(port), String(ATTACK_MS)], { stdio: 'inherit' });
  const attackStats = new Promise((r) => attackerProc.once('message', r));
  const cpu1 = cpuMs();
  const attack = await goodClient(ATTACK_MS);
  const cpuAttack = cpuMs() - cpu1;
  const lagAttack = await loopDelay();
  const rssAttack = rssKb();
  const a = await attackStats;
  const logAttack = logBytes - logBefore;
  await sleep(1000);
  const after = await goodClient(AFTER_MS);
  const rssAfter = rssKb();
  const fmt = (r) => `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  max ${r.max.toFixed(1)} ms  (${r.n} answered, ${r.lost} lost)`;
  results.push(
    ['baseline', fmt(base)],
    ['under attack', fmt(attack)],
    ['after attack', fmt(after)],
    ['p99 ratio attack/baseline', `${(attack.p99 / base.p99).toFixed(2)}x (aim: <= 2x and < 50 ms)`],
    ['server CPU', `${((100 * cpuBase) / BASE_MS).toFixed(0)}% of a core in the baseline, ${((100 * cpuAttack) / ATTACK_MS).toFixed(0)}% under attack`],
    ['server event-loop delay', `p99 ${lagBase.p99.toFixed(1)} ms (max ${lagBase.max.toFixed(1)}) in the baseline, p99 ${lagAttack.p99.toFixed(1)} ms (max ${lagAttack.max.toFixed(1)}) under attack`],
    ['server RSS', `${(rss0 / 1024).toFixed(1)} MB at start, ${(rssBase / 1024).toFixed(1)} after baseline, ${(rssAttack / 1024).toFixed(1)} at the end of the attack, ${(rssAfter / 1024).toFixed(1)} after`],
    ['attack sent', `${a.connections} connections, ${(a.bytes / 1e6).toFixed(1)} MB (garbage, slowloris x${a.slowloris}, CRLF/request floods, non-SIP, never-reading peers)`],
    ['server counted', `tcp:proto_errors ${await metric('x_tcp_proto_errors_total')}, tcp:limit_closes ${await metric('x_tcp_limit_closes_total')}, tcp:rejected ${await metric('x_tcp_rejected_total')}, core:err_requests ${await metric('x_core_err_requests_total')}`],
    ['log written during the attack', `${(logAttack / 1024).toFixed(1)} KB`],
    ['machine', `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`],
  );
} finally {
  if (attackerProc?.pid && attackerProc.exitCode === null) process.kill(attackerProc.pid, 'SIGKILL');
  await stopServer();
  rmSync(dir, { recursive: true, force: true });
}
console.log('\n@x/server hostile-traffic soak (x-server, 127.0.0.1; good client: 1 connection, 100 OPTIONS/s)');
for (const [k, v] of results) console.log(`  ${k.padEnd(30)} ${v}`);

/** The attacker process: every kind of hostile peer at once, for `ms`. */
async function attacker(port, ms) {
  const end = Date.now() + ms;
  let connections = 0;
  let bytes = 0;
  const open = new Set();
  const peer = () => {
    const s = connect(port, '127.0.0.1');
    connections++;
    open.add(s);
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
    return s;
  };
  const write = (s, b) => {
    if (s.destroyed) return false;
    bytes += b.length;
    return s.write(b);
  };
  const loops = [];
  // 1. framed non-SIP messages (the log-amplification shape), reconnecting when closed
  const junk = Buffer.from('X\r\nl:0\r\n\r\n'.repeat(10_000));
  loops.push((async () => {
    while (Date.now() < end) {
      const s = peer();
      write(s, junk);
      await new Promise((r) => { s.once('close', r); setTimeout(r, 500); });
      s.destroy();
    }
  })());
  // 2. random garbage and a conflicting Content-Length, reconnecting
  loops.push((async () => {
    while (Date.now() < end) {
      const s = peer();
      const g = Buffer.alloc(64 * 1024);
      for (let i = 0; i < g.length; i++) g[i] = (i * 7919 + connections) & 0xff;
      write(s, Buffer.concat([Buffer.from('INVITE sip:x SIP/2.0\r\nContent-Length: 10\r\nContent-Length: 0\r\n\r\n'), g]));
      await new Promise((r) => { s.once('close', r); setTimeout(r, 300); });
      s.destroy();
    }
  })());
  // 3. slowloris: 300 connections, one byte each per second
  const SLOW = 300;
  const req = Buffer.from('OPTIONS sip:slow@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKslow\r\nContent-Length: 0\r\n\r\n');
  const slow = [];
  for (let i = 0; i < SLOW; i++) {
    slow.push({ s: peer(), i: 0 });
    if (i % 50 === 49) await sleep(20);
  }
  const slowTimer = setInterval(() => {
    for (const c of slow) {
      if (c.s.destroyed) {
        c.s = peer();
        c.i = 0;
      }
      write(c.s, req.subarray(c.i % req.length, (c.i % req.length) + 1));
      c.i++;
    }
  }, 1000);
  // 4. CRLF floods and request floods from peers that never read, rate-bounded (2.5 MB/s of
  // CRLF, 2,000 requests/s): one hostile peer, not a bandwidth test of the loopback
  loops.push((async () => {
    const crlf = Buffer.alloc(256 * 1024, '\r\n');
    const reqs = Buffer.from(Array.from({ length: 200 }, (_, i) => `OPTIONS sip:f@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:2;branch=z9hG4bKf${i};pad=${'p'.repeat(2000)}\r\nFrom: <sip:f@x>;tag=f\r\nTo: <sip:f@x>\r\nCall-ID: f${i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`).join(''));
    while (Date.now() < end) {
      const a = peer();
      const b = peer();
      a.pause();
      b.pause();
      for (let k = 0; k < 40 && !(a.destroyed && b.destroyed) && Date.now() < end; k++) {
        write(a, crlf);
        write(b, reqs);
        await sleep(100);
      }
      a.destroy();
      b.destroy();
    }
  })());
  await Promise.all(loops);
  clearInterval(slowTimer);
  for (const s of open) s.destroy();
  process.send({ connections, bytes, slowloris: SLOW });
}
