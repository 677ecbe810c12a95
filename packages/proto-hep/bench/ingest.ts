/**
 * HEP ingest figures: packets/s with 0 loss over UDP (steady and bursty senders) and the TCP
 * stream rate, for x (an engine with proto_hep, as x-server runs it) against peers in the same
 * run: a raw node:dgram / node:net reader that only counts, and Kamailio 5.6 sipcapture (UDP;
 * when installed). The load comes from a separate sender process. Loss is counted against what
 * each receiver counted and against the kernel's drop counter of its socket (/proc/net/udp).
 *
 * Env: HEP_BENCH_TRIAL_MS (each trial, default 2000), HEP_BENCH_RATES (comma list, packets/s),
 * HEP_BENCH_KAMAILIO=0 to leave Kamailio out.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, createStatsRegistry } from '@x/core-conn';
import { startKamailio, sipcaptureConfig, type KamailioPeer } from '@x/test-peers';
import { attachHep, hepTcpSpec, hepUdpSpec, PROTO_HEP_DEFAULTS } from '../src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
// the bench is bundled into .bench/: the TCP sender stays in bench/, the UDP one is shared
const SENDER_DIR = join(here, '..', 'bench');
const UDP_SENDER = fileURLToPath(import.meta.resolve('@x/test-peers/hep-udp-sender'));
const TRIAL_MS = Number(process.env.HEP_BENCH_TRIAL_MS ?? 2000);
const RATES = (process.env.HEP_BENCH_RATES ?? '5000,10000,25000,50000,75000,100000,125000,150000,200000').split(',').map(Number);
const RECV_BUFFER = PROTO_HEP_DEFAULTS.hep_udp_recv_buffer;
const PATTERNS = [
  { name: 'steady (bursts of 8)', burst: 8 },
  { name: 'bursty (bursts of 64)', burst: 64 },
] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;

/** drops and queued bytes of the UDP socket bound to 127.0.0.1:port (/proc/net/udp). */
function procUdp(port: number): { drops: number; rxQueue: number } {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'latin1').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== want) continue;
    return { drops: Number(f[f.length - 1]), rxQueue: parseInt(f[4]!.split(':')[1]!, 16) };
  }
  return { drops: 0, rxQueue: 0 };
}

interface UdpReceiver {
  name: string;
  port: number;
  /** datagrams counted so far; undefined: the peer does not say (received = sent - kernel drops) */
  received(): number | undefined;
  /** what the receiver itself reports as kernel drops, when it does (x: hep_udp:kernel_drops) */
  ownDrops?(): number;
  cpuMs(): number;
  close(): Promise<void>;
}

function runSender(script: string, args: string[]): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script.includes('/') ? script : join(SENDER_DIR, script), ...args], { timeout: 120_000 }, (err, stdout) => {
      if (err) reject(new Error(`sender ${script} failed: ${err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>);
    });
  });
}

async function xUdp(): Promise<UdpReceiver> {
  const stats = createStatsRegistry();
  const engine = createEngine({ stats });
  engine.registerProtocol(hepUdpSpec() as never);
  const hep = attachHep(engine, {}, { stats });
  let consumed = 0;
  hep.registerHepCallback((r) => {
    // a consumer that reads what a collector stores
    if (r.packet.srcPort !== undefined && r.payload.length > 0) consumed++;
  });
  const l = await engine.listen('hep_udp:127.0.0.1:0');
  const cpu0 = process.cpuUsage();
  return {
    name: 'x proto_hep',
    port: l.address.port,
    received: () => consumed,
    ownDrops: () => stats.get('hep_udp:kernel_drops')!.value(),
    cpuMs: () => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1000;
    },
    close: async () => {
      hep.close();
      await engine.shutdown({ deadlineMs: 100 });
    },
  };
}

async function rawUdp(): Promise<UdpReceiver> {
  const u: UdpSocket = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
  let n = 0;
  u.on('message', () => n++);
  await new Promise<void>((r) => u.bind(0, '127.0.0.1', r));
  const cpu0 = process.cpuUsage();
  return {
    name: 'node:dgram count',
    port: u.address().port,
    received: () => n,
    cpuMs: () => {
      const c = process.cpuUsage(cpu0);
      return (c.user + c.system) / 1000;
    },
    close: () => new Promise((r) => u.close(() => r())),
  };
}

/** Kamailio 5.6 sipcapture (one UDP worker) parsing HEP and running its route (drop). */
async function kamailioUdp(): Promise<UdpReceiver | undefined> {
  if (process.env.HEP_BENCH_KAMAILIO === '0') return undefined;
  if (spawnSync('sh', ['-c', 'command -v kamailio']).status !== 0) return undefined;
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  // sipcapture's HEP receive hook with the storing left out: the route drops every message
  const cfg = sipcaptureConfig(port, '/dev/null')
    .replace('children=1', `children=1\nmaxbuffer=${RECV_BUFFER}`)
    .replace(/request_route \{[^}]*\}/, 'request_route {\n  drop;\n}')
    .replace(/onreply_route \{[^}]*\}/, 'onreply_route {\n  drop;\n}');
  let peer: KamailioPeer;
  try {
    peer = await startKamailio(cfg, { port, timeoutSec: 3600 });
  } catch (err) {
    console.log(`(Kamailio sipcapture not started: ${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const ticks = () => {
    let t = 0;
    const pids = [peer.pid];
    for (let i = 0; i < pids.length; i++) {
      const kids = spawnSync('pgrep', ['-P', String(pids[i])], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
      pids.push(...kids);
      try {
        const s = readFileSync(`/proc/${pids[i]}/stat`, 'latin1');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        t += Number(f[11]) + Number(f[12]);
      } catch {
        // gone
      }
    }
    return t * 10;
  };
  const cpu0 = ticks();
  return {
    name: 'Kamailio sipcapture',
    port,
    received: () => undefined,
    cpuMs: () => ticks() - cpu0,
    close: async () => {
      await peer.stop();
    },
  };
}

interface Trial {
  target: number;
  achieved: number;
  sent: number;
  received: number;
  drops: number;
  cpuUsPerPkt: number;
  accountingOk: boolean;
}

async function trial(rx: UdpReceiver, pkt: Buffer, rate: number, burst: number): Promise<Trial> {
  const before = procUdp(rx.port).drops;
  const rcv0 = rx.received();
  const own0 = rx.ownDrops?.();
  const cpu0 = rx.cpuMs();
  const s = await runSender(UDP_SENDER, [String(rx.port), String(rate), String(burst), String(TRIAL_MS), pkt.toString('base64')]);
  const sent = s.sent!;
  // wait until the socket is drained and the receiver has counted everything it will count
  const end = Date.now() + 10_000;
  for (;;) {
    const p = procUdp(rx.port);
    const got = rx.received();
    const counted = got === undefined ? sent - (p.drops - before) : got - rcv0!;
    if ((p.rxQueue === 0 && counted + (p.drops - before) >= sent) || Date.now() > end) break;
    await sleep(10);
  }
  await sleep(50); // the peer's last read is done once its queue is empty
  const drops = procUdp(rx.port).drops - before;
  const got = rx.received();
  const received = got === undefined ? sent - drops : got - rcv0!;
  const own = rx.ownDrops ? rx.ownDrops() - own0! : drops;
  return {
    target: rate,
    achieved: s.rate!,
    sent,
    received,
    drops,
    cpuUsPerPkt: ((rx.cpuMs() - cpu0) * 1000) / Math.max(1, received),
    accountingOk: received + drops === sent && own === drops,
  };
}

export async function udpIngest(pkt: Buffer): Promise<void> {
  console.log(`\nHEP over UDP: ${pkt.length}-byte HEPv3 packets from a separate sender process, ${TRIAL_MS} ms per trial, receive buffer ${RECV_BUFFER} bytes asked (net.core.rmem_max ${readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim()})`);
  console.log('loss = sent - counted by the receiver; drops = the kernel drop counter of its socket (/proc/net/udp); received + drops = sent is checked');
  const best = new Map<string, Map<string, { rate: number; cpu: number; load: string }>>();
  // CPU per packet received, every counted trial: the figure a busy machine disturbs least
  const cpus = new Map<string, number[]>();
  const receivers: Array<() => Promise<UdpReceiver | undefined>> = [xUdp, rawUdp, kamailioUdp];
  for (const make of receivers) {
    const rx = await make();
    if (!rx) continue;
    const mine = new Map<string, { rate: number; cpu: number; load: string }>();
    best.set(rx.name, mine);
    try {
      for (const pat of PATTERNS) {
        // a first trial at the lowest rate warms the receiver up (JIT), not counted
        await trial(rx, pkt, RATES[0]!, pat.burst);
        for (const rate of RATES) {
          const t = await trial(rx, pkt, rate, pat.burst);
          const load = la();
          const lossPct = (100 * (t.sent - t.received)) / Math.max(1, t.sent);
          const senderLimited = t.achieved < 0.9 * rate;
          console.log(
            `${rx.name.padEnd(20)} ${pat.name.padEnd(22)} target ${k(rate).padStart(6)}/s sent ${k(t.achieved).padStart(6)}/s: received ${t.received}/${t.sent}, loss ${lossPct.toFixed(2)}%, kernel drops ${t.drops}, ` +
              `${t.cpuUsPerPkt.toFixed(1)} us CPU/packet${t.accountingOk ? '' : ' [ACCOUNTING MISMATCH]'}${senderLimited ? ' [sender-limited]' : ''} (load ${load})`,
          );
          if (t.sent === t.received && t.accountingOk) mine.set(pat.name, { rate: t.achieved, cpu: t.cpuUsPerPkt, load });
          if (t.received > 0) cpus.set(rx.name, [...(cpus.get(rx.name) ?? []), t.cpuUsPerPkt]);
          if (t.sent !== t.received || senderLimited) break;
        }
      }
    } finally {
      await rx.close();
    }
  }
  console.log('\nHEP over UDP, highest rate with 0 loss (packets/s, as sent):');
  const x = best.get('x proto_hep');
  for (const pat of PATTERNS) {
    const line = [...best].map(([name, m]) => `${name} ${m.get(pat.name) ? k(m.get(pat.name)!.rate) : 'none'}`).join(', ');
    const ratios = [...best]
      .filter(([name]) => name !== 'x proto_hep')
      .map(([name, m]) => (x?.get(pat.name) && m.get(pat.name) ? `x/${name} ${(x.get(pat.name)!.rate / m.get(pat.name)!.rate).toFixed(2)}` : `x/${name} n/a`))
      .join(', ');
    console.log(`  ${pat.name}: ${line}; ${ratios}`);
  }
  console.log('  (a figure that reached the top rate or is marked sender-limited is a floor: the sender, not the receiver, stopped there)');
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const xCpu = cpus.get('x proto_hep');
  console.log(
    `HEP over UDP, CPU per packet received (median of the trials): ${[...cpus].map(([n, v]) => `${n} ${med(v).toFixed(1)} us`).join(', ')}` +
      (xCpu ? `; ${[...cpus].filter(([n]) => n !== 'x proto_hep').map(([n, v]) => `${n}/x ${(med(v) / med(xCpu)).toFixed(2)}`).join(', ')}` : ''),
  );
}

export async function tcpIngest(pkt: Buffer): Promise<void> {
  const N = Number(process.env.HEP_BENCH_TCP_PACKETS ?? 300_000);
  console.log(`\nHEP over TCP: ${N} packets back to back on one connection from a separate sender process`);
  const results: Array<{ name: string; rate: number; cpu: number }> = [];
  // x
  {
    const engine = createEngine({});
    engine.registerProtocol(hepTcpSpec() as never);
    const hep = attachHep(engine);
    let got = 0;
    let first = 0n;
    let last = 0n;
    hep.registerHepCallback((r) => {
      if (got === 0) first = process.hrtime.bigint();
      if (r.payload.length > 0) got++;
      last = process.hrtime.bigint();
    });
    const l = await engine.listen('hep_tcp:127.0.0.1:0');
    const cpu0 = process.cpuUsage();
    await runSender('tcp-sender.mjs', [String(l.address.port), String(N), pkt.toString('base64')]);
    const end = Date.now() + 20_000;
    while (got < N && Date.now() < end) await sleep(5);
    const c = process.cpuUsage(cpu0);
    const secs = Number(last - first) / 1e9;
    results.push({ name: 'x proto_hep', rate: got / secs, cpu: (c.user + c.system) / got });
    console.log(`x proto_hep          ${got}/${N} packets in ${secs.toFixed(2)} s = ${k(got / secs)}/s, loss ${N - got}, ${((c.user + c.system) / got).toFixed(1)} us CPU/packet (load ${la()})`);
    hep.close();
    await engine.shutdown({ deadlineMs: 100 });
  }
  // a node:net reader that only frames (HEP3 length word) and counts
  {
    let got = 0;
    let first = 0n;
    let last = 0n;
    const server = createServer((s: Socket) => {
      let pending: Buffer | undefined;
      s.on('data', (d: Buffer) => {
        if (got === 0) first = process.hrtime.bigint();
        let b = pending ? Buffer.concat([pending, d]) : d;
        let off = 0;
        while (b.length - off >= 6) {
          const len = b.readUInt16BE(off + 4);
          if (b.length - off < len) break;
          off += len;
          got++;
        }
        pending = off < b.length ? b.subarray(off) : undefined;
        b = Buffer.alloc(0);
        last = process.hrtime.bigint();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const cpu0 = process.cpuUsage();
    await runSender('tcp-sender.mjs', [String((server.address() as { port: number }).port), String(N), pkt.toString('base64')]);
    const end = Date.now() + 20_000;
    while (got < N && Date.now() < end) await sleep(5);
    const c = process.cpuUsage(cpu0);
    const secs = Number(last - first) / 1e9;
    results.push({ name: 'node:net count', rate: got / secs, cpu: (c.user + c.system) / got });
    console.log(`node:net count       ${got}/${N} packets in ${secs.toFixed(2)} s = ${k(got / secs)}/s, loss ${N - got}, ${((c.user + c.system) / got).toFixed(1)} us CPU/packet (load ${la()})`);
    await new Promise((r) => server.close(r));
  }
  const [x, raw] = results;
  if (x && raw) console.log(`HEP over TCP: x ${k(x.rate)}/s, node:net count ${k(raw.rate)}/s, ratio ${(x.rate / raw.rate).toFixed(2)}; CPU per packet x/raw ${(x.cpu / raw.cpu).toFixed(2)}`);
}

