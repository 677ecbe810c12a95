// `pnpm bench` for @x/server, part 3: HEP over UDP into the built x-server, with 1 worker and,
// when x-server has workers (--workers), with N (one per core): every worker reads the same
// socket. A separate sender process paces 959-byte HEPv3 packets (steady: bursts of 8; bursty:
// bursts of 64) at rising rates; for each the highest rate with 0 loss is printed, loss counted
// against the server's hep_udp:rcv_msgs (/metrics, summed over workers) and against the
// kernel's drop counter of the socket (/proc/net/udp). A `hep` route consumes every packet.
// Env: X_HEP_TRIAL_MS (default 2000), X_HEP_RATES (comma list, packets/s).
// Everything on 127.0.0.1, ephemeral ports; every process started here is stopped by its PID.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packHep } from '@x/proto-hep';
import { startXServer } from './lib/x-server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const X_SERVER = join(here, '..', 'dist', 'cli', 'x-server.js');
const SENDER = fileURLToPath(import.meta.resolve('@x/test-peers/hep-udp-sender'));
const TRIAL_MS = Number(process.env.X_HEP_TRIAL_MS ?? 2000);
const RATES = (process.env.X_HEP_RATES ?? '25000,50000,75000,100000,125000,150000,175000,200000').split(',').map(Number);
const PATTERNS = [
  { name: 'steady (bursts of 8)', burst: 8 },
  { name: 'bursty (bursts of 64)', burst: 64 },
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const k = (n) => `${(n / 1000).toFixed(1)}k`;

const sip = `INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 1 INVITE\r\nX-Pad: ${'p'.repeat(700)}\r\nContent-Length: 0\r\n\r\n`;
const pkt = packHep({ host: '10.0.0.1', port: 5060 }, { host: '10.0.0.2', port: 5062 }, 'udp', sip, { captureId: 2001, correlationId: 'a84b4c76e66710@pc33.example.com' });

function procUdp(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of readFileSync('/proc/net/udp', 'latin1').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === want) return { drops: Number(f[f.length - 1]), rxQueue: parseInt(f[4].split(':')[1], 16) };
  }
  return { drops: 0, rxQueue: 0 };
}

function runSender(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SENDER, ...args], { timeout: 120_000 }, (err, stdout) => {
      if (err) reject(new Error(`sender failed: ${err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

const hasWorkers = /--workers/.test(spawnSync(process.execPath, [X_SERVER, '--help'], { encoding: 'utf8' }).stdout ?? '');
const N = Math.max(2, availableParallelism());
const configs = hasWorkers ? [1, N] : [1];
if (!hasWorkers) console.log('(x-server has no --workers here: 1 process only)');

async function startServer(workers) {
  const dir = mkdtempSync(join(tmpdir(), 'x-hepudp-'));
  writeFileSync(
    join(dir, 'x.cfg'),
    `log_level = 3
route_script = "./routes.mjs"
socket = hep_udp:127.0.0.1:0
loadmodule "proto_hep.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", 0)
`,
  );
  writeFileSync(join(dir, 'routes.mjs'), 'export function hep(ctx) { if (ctx.message.payload.length === 0) ctx.drop(); }\n');
  const args = ['-f', join(dir, 'x.cfg'), ...(hasWorkers ? ['--workers', String(workers)] : [])];
  let x;
  try {
    x = await startXServer(X_SERVER, args, { proto: 'hep_udp', startMs: 30_000, graceMs: 8_000 });
  } finally {
    if (!x) rmSync(dir, { recursive: true, force: true });
  }
  const { server, port, metricsUrl } = x;
  const stop = async () => {
    await x.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    server.stdout.resume();
    const received = async () => {
      const text = await (await fetch(metricsUrl)).text();
      return Number(/^x_hep_udp_rcv_msgs_total (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    // with workers the primary's /metrics is fed by the workers: wait for the first figures
    const end = Date.now() + 15_000;
    while (Date.now() < end && !/^x_hep_udp_rcv_msgs/m.test(await (await fetch(metricsUrl)).text())) await sleep(200);
    return { port, received, stop, pid: server.pid };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function trial(srv, rate, burst) {
  const before = procUdp(srv.port).drops;
  const rcv0 = await srv.received();
  const s = await runSender([String(srv.port), String(rate), String(burst), String(TRIAL_MS), pkt.toString('base64')]);
  // drained and counted (the metrics may lag the reads: wait until they add up, bounded)
  const end = Date.now() + 10_000;
  let got = 0;
  let drops = 0;
  for (;;) {
    const p = procUdp(srv.port);
    drops = p.drops - before;
    got = (await srv.received()) - rcv0;
    if ((p.rxQueue === 0 && got + drops >= s.sent) || Date.now() > end) break;
    await sleep(100);
  }
  return { achieved: s.rate, sent: s.sent, received: got, drops };
}

const best = new Map();
for (const workers of configs) {
  const srv = await startServer(workers);
  const mine = new Map();
  best.set(workers, mine);
  try {
    for (const pat of PATTERNS) {
      await trial(srv, RATES[0], pat.burst); // warm-up, not counted
      for (const rate of RATES) {
        const t = await trial(srv, rate, pat.burst);
        const lossPct = (100 * (t.sent - t.received)) / Math.max(1, t.sent);
        const senderLimited = t.achieved < 0.9 * rate;
        const ok = t.received === t.sent;
        console.log(
          `x-server ${workers} worker${workers > 1 ? 's' : ' '} ${pat.name.padEnd(22)} target ${k(rate).padStart(6)}/s sent ${k(t.achieved).padStart(6)}/s: received ${t.received}/${t.sent}, loss ${lossPct.toFixed(2)}%, kernel drops ${t.drops}` +
            `${t.received + t.drops === t.sent ? '' : ' [received + drops != sent]'}${senderLimited ? ' [sender-limited]' : ''} (load ${la()})`,
        );
        if (ok) mine.set(pat.name, t.achieved);
        if (!ok || senderLimited) break;
      }
    }
  } finally {
    await srv.stop();
  }
}
console.log('\nx-server HEP over UDP, highest rate with 0 loss (packets/s, as sent):');
for (const pat of PATTERNS) {
  const parts = [...best].map(([w, m]) => `${w} worker${w > 1 ? 's' : ''} ${m.get(pat.name) ? k(m.get(pat.name)) : 'none'}`);
  const one = best.get(1)?.get(pat.name);
  const many = best.get(N)?.get(pat.name);
  console.log(`  ${pat.name}: ${parts.join(', ')}${one && many ? `; ${N} workers / 1: ${(many / one).toFixed(2)}` : ''}`);
}
console.log('  (a figure marked sender-limited or at the top rate is a floor: the sender stopped there)');
