/**
 * Relay figures. Run with `corepack pnpm --filter @x/proto-msrp bench`.
 * 1 GiB in one MSRP message (1 MiB Byte-Range chunks, SEND ... '+', last '$') from alice to
 * bob through the x relay (msrp_relay on proto_msrp, in its own process) over TCP and over TLS,
 * against a raw node:net / node:tls pipe process moving the same bytes, in the same run.
 * Alice writes as fast as her socket takes the bytes (no window of her own); bob reads at most
 * MSRP_BENCH_RATE bytes/s (default 50 MB/s; 0 = as fast as he can). Whatever holds the relay's
 * memory is thus its own flow control (pause / resume / drained): the pipe has Node's.
 * Prints MB/s, the ratio, and each relay process's RSS growth during the transfer.
 * Clients are raw sockets in both cases (AUTH built with the codec).
 * MSRP_BENCH_PROF=<dir>: the x relay runs with --cpu-prof into <dir>.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import { decodeAll, digestAuthorization, encodeHeadText, getHeader } from '../src/index.js';

const TOTAL = Number(process.env.MSRP_BENCH_BYTES ?? 1 << 30);
const CHUNK = 1 << 20;
const RATE = Number(process.env.MSRP_BENCH_RATE ?? 50e6);
const BASE = 19400;

const pem = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', algorithm: 'sha256' });
const env = { ...process.env, BENCH_CERT: Buffer.from(pem.cert).toString('base64'), BENCH_KEY: Buffer.from(pem.private).toString('base64') };
const serverJs = fileURLToPath(new URL('./relay-server.js', import.meta.url));

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function startServer(mode: 'x' | 'pipe', tcp: number, tls: number): Promise<ChildProcess> {
  const c = spawn(process.execPath, [...(process.env.MSRP_BENCH_PROF && mode === 'x' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MSRP_BENCH_PROF}`] : []), serverJs, mode, String(tcp), String(tls)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    c.once('exit', (code) => reject(new Error(`${mode} server exited ${code}`)));
  });
  return c;
}

function dial(tls: boolean, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s: Socket = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s)) : netConnect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** AUTH with the codec: returns the Use-Path. */
async function auth(s: Socket, relay: string, me: string, user: string): Promise<string> {
  let buf = '';
  const next = (n: number): Promise<ReturnType<typeof decodeAll>> =>
    new Promise((resolve) => {
      const on = (d: Buffer): void => {
        buf += d.toString('latin1');
        const msgs = decodeAll(Buffer.from(buf, 'latin1'));
        if (msgs.length >= n) {
          s.off('data', on);
          resolve(msgs);
        }
      };
      s.on('data', on);
    });
  const head = (tid: string, extra = ''): string => `MSRP ${tid} AUTH\r\nTo-Path: ${relay}\r\nFrom-Path: ${me}\r\n${extra}-------${tid}$\r\n`;
  let p = next(1);
  s.write(head(`${user}1`));
  const ch = (await p)[0]!;
  const authz = digestAuthorization(getHeader(ch, 'WWW-Authenticate')!, { username: user, password: 'pw', uri: relay });
  p = next(2);
  s.write(head(`${user}2`, `Authorization: ${authz}\r\n`));
  return getHeader((await p)[1]!, 'Use-Path')!;
}

async function run(mode: 'x' | 'pipe', tls: boolean, srv: ChildProcess, port: number): Promise<{ mbps: number; rssGrowthMb: number }> {
  const proto = tls ? 'msrps' : 'msrp';
  const relay = `${proto}://127.0.0.1:${port};tcp`;
  const bob = await dial(tls, port);
  const alice = await dial(tls, port);
  const bobUrl = `${proto}://127.0.0.1:${bob.localPort}/bob;tcp`;
  const aliceUrl = `${proto}://127.0.0.1:${alice.localPort}/alice;tcp`;
  let to = bobUrl;
  let from = aliceUrl;
  if (mode === 'x') {
    const ub = await auth(bob, relay, bobUrl, 'bob');
    const ua = await auth(alice, relay, aliceUrl, 'alice');
    to = `${ub} ${bobUrl}`;
    from = `${ua} ${aliceUrl}`;
  }
  const body = Buffer.alloc(CHUNK, 0x61);
  let received = 0;
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let last: Buffer = Buffer.alloc(0);
  bob.on('data', (d: Buffer) => {
    received += d.length;
    last = d;
    if (received >= TOTAL && last.subarray(-3).toString('latin1') === '$\r\n') done();
  });
  // bob reads at most RATE bytes/s: paused whenever he is ahead of it
  let t0 = 0;
  if (RATE > 0) {
    bob.on('data', () => {
      const allowed = (RATE * (performance.now() - t0)) / 1000;
      if (received > allowed && received < TOTAL) {
        bob.pause();
        setTimeout(() => bob.resume(), Math.max(1, ((received - allowed) / RATE) * 1000));
      }
    });
  }
  const rss0 = rssKb(srv.pid!);
  let rssMax = rss0;
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssKb(srv.pid!))), 20);
  t0 = performance.now();
  for (let off = 0, i = 0; off < TOTAL; off += CHUNK, i++) {
    const end = Math.min(TOTAL, off + CHUNK);
    const tid = `c${i.toString(36)}`;
    const head = encodeHeadText({
      kind: 'request', method: 'SEND', tid, continuation: '$',
      headers: [
        { name: 'To-Path', value: to }, { name: 'From-Path', value: from }, { name: 'Message-ID', value: 'onegig' },
        { name: 'Byte-Range', value: `${off + 1}-${end}/${TOTAL}` }, { name: 'Failure-Report', value: 'no' }, { name: 'Content-Type', value: 'application/octet-stream' },
      ],
    });
    const flag = end === TOTAL ? '$' : '+';
    const bytes = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body.subarray(0, end - off), Buffer.from(`\r\n-------${tid}${flag}\r\n`, 'latin1')]);
    if (!alice.write(bytes)) await new Promise((r) => alice.once('drain', r));
  }
  await finished;
  const secs = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  alice.destroy();
  bob.destroy();
  return { mbps: TOTAL / 1e6 / secs, rssGrowthMb: (rssMax - rss0) / 1024 };
}

const results: string[] = [`load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}, bob reads ${RATE > 0 ? `${(RATE / 1e6).toFixed(0)} MB/s at most` : 'as fast as he can'}`];
for (const tls of [false, true]) {
  const x = await startServer('x', BASE, BASE + 1);
  const pipe = await startServer('pipe', BASE + 2, BASE + 3);
  try {
    const rx = await run('x', tls, x, tls ? BASE + 1 : BASE);
    const rp = await run('pipe', tls, pipe, tls ? BASE + 3 : BASE + 2);
    results.push(
      `${tls ? 'TLS' : 'TCP'}: ${(TOTAL / (1 << 20)).toFixed(0)} MiB in 1 MiB SEND chunks: x relay ${rx.mbps.toFixed(0)} MB/s (RSS +${rx.rssGrowthMb.toFixed(1)} MB), ` +
        `raw pipe ${rp.mbps.toFixed(0)} MB/s (RSS +${rp.rssGrowthMb.toFixed(1)} MB), ratio ${(rx.mbps / rp.mbps).toFixed(2)}`,
    );
  } finally {
    x.kill();
    pipe.kill();
  }
}
for (const r of results) console.log(r);
