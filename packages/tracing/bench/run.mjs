// `pnpm bench` for @x/tracing: SIP OPTIONS round trips/s through proto-tcp (one connection,
// window 32, closed loop; proto-tcp's load generator in its own process) with tracing of every
// message on, against the same responder without tracing, interleaved over several rounds in
// the same run (aim: on / off >= 0.85, the median of the rounds' ratios), with HEP over UDP (one
// datagram per packet) and over TCP (what one turn of the event loop traced leaves in one write),
// each round's load average printed. Also "idle": tracing attached, switch off; and, only when
// named in X_TRACE_ONLY, "on-tcp-worker": a PROTOTYPE (ring-sink.mjs) whose HEP/TCP writes are
// done by a worker thread, kept to measure that design where there are cores to spare.
// "on-nowrite" (when named in X_TRACE_ONLY): on-tcp's tracing into a sender that writes nothing.
// Two yardsticks, same load, same collector, same run:
//   floor-tcp   not a tracer (responder.mjs): a tap subscriber that only encodes every message
//               as HEPv3 and writes a turn's packets in one write: the least any tracer of every
//               message over TCP costs on this machine;
//   kamailio-*  the peer: Kamailio 5.6 answering OPTIONS (sl), without tracing (kamailio-off) and
//               with siptrace mirroring every message in and out as HEPv3 (trace_mode 1) over TCP
//               (kamailio-on-tcp) and UDP (kamailio-on-udp); its ratios are on / kamailio-off.
// The HEP collector is a UDP socket and a TCP server of this process that count the packets that
// arrive (its CPU is printed: on this machine it competes with the server). Ports 18440-18449.
import dgram from 'node:dgram';
import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { cpuMs, forkJobs, startProcess, stopProcess, waitPort } from '@x/test-peers/proc';
import { kamailioArgs, kamailioAvailable } from '@x/test-peers/kamailio';

const here = fileURLToPath(new URL('.', import.meta.url));
const PORT = Number(process.env.X_TRACE_PORT ?? 18440);
const ROUNDS = Number(process.env.X_TRACE_ROUNDS ?? 5);
const MS = Number(process.env.X_TRACE_MS ?? 1500);

const hepSock = dgram.createSocket('udp4');
let hepPackets = 0;
hepSock.on('message', () => void hepPackets++);
await new Promise((r) => hepSock.bind(0, '127.0.0.1', r));
const hepPort = hepSock.address().port;
// the same port over TCP: HEP3 packets back to back, each announcing its length at offset 4,
// counted as they stream by (no copy of the stream: the collector shares the 2 cores)
const hepTcp = net.createServer((c) => {
  let head = Buffer.alloc(0); // a packet header cut by a read
  let skip = 0; // bytes of the packet in progress still to come
  c.on('data', (d) => {
    let o = 0;
    while (o < d.length) {
      if (skip > 0) {
        const n = Math.min(skip, d.length - o);
        skip -= n;
        o += n;
        if (skip === 0) hepPackets++;
        continue;
      }
      if (head.length + d.length - o < 6) {
        head = Buffer.concat([head, d.subarray(o)]);
        break;
      }
      const take = 6 - head.length;
      const h = head.length ? Buffer.concat([head, d.subarray(o, o + take)]) : d.subarray(o, o + 6);
      head = Buffer.alloc(0);
      o += take;
      skip = h.readUInt16BE(4) - 6;
      if (skip <= 0) {
        skip = 0;
        hepPackets++;
      }
    }
  });
  c.on('error', () => undefined);
});
await new Promise((r) => hepTcp.listen(hepPort, '127.0.0.1', r));

const { child: lg, run: load } = forkJobs(join(here, '..', '..', 'proto-tcp', 'bench', 'loadgen.mjs'));

const kamailio = kamailioAvailable();
if (!kamailio) console.log('kamailio is not installed: the peer rows are left out');
const variants = process.env.X_TRACE_ONLY
  ? process.env.X_TRACE_ONLY.split(',')
  : ['off', 'idle', 'on-udp', 'on-tcp', 'floor-tcp', ...(kamailio ? ['kamailio-off', 'kamailio-on-tcp', 'kamailio-on-udp'] : [])];
const isKamailio = (v) => v.startsWith('kamailio-');
/** starts the server of variant v on port: responder.mjs, or Kamailio (its config in a temp dir) */
function serverOf(v, port) {
  if (!isKamailio(v)) {
    return { proc: startProcess(process.execPath, [...(process.env.X_TRACE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.X_TRACE_PROF}`] : []), join(here, 'responder.mjs'), String(port), v, String(hepPort)], { limitS: 60 }), dir: undefined };
  }
  const dir = mkdtempSync(join(tmpdir(), 'x-trace-bench-'));
  const siptrace = v === 'kamailio-off' ? undefined : { port: hepPort, transport: v === 'kamailio-on-udp' ? 'udp' : 'tcp' };
  return { proc: startProcess('kamailio', kamailioArgs(dir, port, { siptrace }), { limitS: 60 }), dir };
}
const results = Object.fromEntries(variants.map((v) => [v, []]));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const load0 = loadavg()[0];
const loads = [];
const counts = {};

try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    loads.push(loadavg()[0]);
    for (const v of order) {
      const port = PORT + (round % 5) * 2;
      const { proc, dir } = serverOf(v, port);
      const h0 = hepPackets;
      let h1 = h0;
      let ok = 0;
      try {
        await waitPort(port, proc);
        await load({ mode: 'closed', port, conns: 1, window: 32, durationMs: 800, expect: 200 });
        const c0 = cpuMs(proc.pid);
        const b0 = process.cpuUsage();
        const r = await load({ mode: 'closed', port, conns: 1, window: 32, durationMs: MS, expect: 200 });
        if (r.failures > 0) throw new Error(`${v}: ${r.failures} failed round trips`);
        ok = r.ok;
        const b = process.cpuUsage(b0);
        // this process is the HEP collector: its CPU is the collector's (on this machine, it competes with the server)
        results[v][round] = { rate: r.rate, cpuUs: ((cpuMs(proc.pid) - c0) * 1000) / r.ok, collectorUs: (b.user + b.system) / r.ok };
        h1 = hepPackets;
      } finally {
        await stopProcess(proc);
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
      const exit = await proc.exited;
      const traces = (v.includes('on-') && v !== 'on-nowrite') || v.startsWith('floor');
      if (!isKamailio(v)) {
        if (exit.code !== 0 && exit.code !== null) throw new Error(`${v} responder exited ${exit.code}: ${proc.log()}`);
        const m = /COUNTS (.*)/.exec(proc.log());
        if ((traces || v === 'on-nowrite') && m) counts[v] = { ...JSON.parse(m[1]), collected: hepPackets - h0 };
      } else if (traces) {
        // siptrace mirrors each request and its reply: 2 packets per round trip (the warm-up's
        // are counted too); over UDP the collector may lose some, so only half is required
        if (h1 - h0 < ok) throw new Error(`${v}: the collector got ${h1 - h0} HEP packets for ${ok} round trips`);
        counts[v] = { collected: h1 - h0, roundTrips: ok };
      }
      if (!traces && hepPackets !== h0) throw new Error(`${v}: ${hepPackets - h0} HEP packets without tracing`);
    }
  }
} finally {
  lg.kill();
  hepSock.close();
  hepTcp.close();
}

const fmt = (x) => x.toFixed(1);
console.log(`\n@x/tracing: OPTIONS round trips/s, one connection, window 32; median of ${ROUNDS} interleaved rounds of ${MS} ms`);
console.log(`  load average (1 min) ${fmt(load0)} at the start, ${loads.map(fmt).join(' ')} at each round, ${fmt(loadavg()[0])} at the end (${cpus().length} cores)`);
const row = {};
for (const v of variants) {
  row[v] = { rate: median(results[v].map((x) => x.rate)), cpuUs: median(results[v].map((x) => x.cpuUs)) };
  console.log(`  ${v.padEnd(13)} ${row[v].rate.toFixed(0).padStart(8)}/s   srv ${row[v].cpuUs.toFixed(2).padStart(6)} µs CPU/round trip   (rates ${results[v].map((x) => x.rate.toFixed(0)).join(', ')})`);
}
// on / off of each round (same round = same machine load), then the median of those
const perRound = (v, f, base = 'off') => median(results[v].map((x, i) => f(x, results[base][i])));
for (const v of ['idle', 'on-udp', 'on-tcp', 'on-nowrite', 'on-tcp-worker', 'floor-tcp', 'kamailio-on-tcp', 'kamailio-on-udp']) {
  const base = isKamailio(v) ? 'kamailio-off' : 'off';
  if (!row[v] || !row[base]) continue;
  const rate = perRound(v, (x, o) => x.rate / o.rate, base);
  const cpu = perRound(v, (x, o) => o.cpuUs / x.cpuUs, base);
  const extra = perRound(v, (x, o) => (x.cpuUs - o.cpuUs) / 2, base);
  const what = v === 'on-nowrite' ? ' (tracing without the HEP write and the collector)' : v === 'floor-tcp' ? ' (not a tracer: the least tracing every message costs here)' : isKamailio(v) ? ' (the peer)' : v === 'idle' ? '' : ' (aim >= 0.85)';
  console.log(`  ${v} / ${base}: rate ${rate.toFixed(3)}, CPU per round trip ${cpu.toFixed(3)}${what}${v === 'idle' ? '' : `; +${extra.toFixed(2)} µs CPU per traced message (2 per round trip)`}`);
  const c = counts[v];
  if (v !== 'idle') console.log(`    the collector (this process) used ${median(results[v].map((x) => x.collectorUs)).toFixed(2)} µs CPU per round trip`);
  if (c?.sender) console.log(`    last round: ${c.sent} traces handed to the sink, ${c.dropped} dropped; sender sent ${c.sender.sent}, dropped ${c.sender.dropped}; collector got ${c.collected}`);
  else if (c) console.log(`    last round: the collector got ${c.collected} HEP packets for ${c.roundTrips} round trips measured`);
}
