/**
 * Small-SEND figures. Run with `corepack pnpm --filter @x/proto-msrp bench` (or `bench:sends`).
 * The same client (alice and bob, raw sockets, messages built and parsed with the codec)
 * sends MSRP_BENCH_SENDS (default 20000) small SENDs (the capture's 33-byte text, 64 in
 * flight) from alice to bob through Kamailio 5.6's msrp relay (Debian, started here on
 * 127.0.0.1 with the interop tests' config, stopped by PID) and through the x relay
 * (msrp_relay on proto_msrp, its own process), over TCP and TLS, in the same run. Bob answers
 * each SEND 200; both relays answer alice 200 at once and drop bob's 200. Prints SENDs/s, the
 * relay's CPU time per SEND (its whole process tree, from /proc) and the ratios.
 * MSRP_BENCH_PROF=<dir>: the x relay runs with --cpu-prof into <dir>.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { childPids, freePort, startKamailio } from '@x/test-peers';
import { generate } from 'selfsigned';
import { digestAuthorization, encodeHeadText, getHeader, MsrpParser, parsePath, type MsrpMessage } from '../src/index.js';
import { kamailioMsrpConfig, RANGE } from '../test/interop/kamailio.js';

const N = Number(process.env.MSRP_BENCH_SENDS ?? 20000);
const WINDOW = 64;
const TEXT = Buffer.from('hello bob via kamailio msrp relay');

const pem = await generate([{ name: 'commonName', value: '127.0.0.1' }], { keyType: 'ec', algorithm: 'sha256' });
const serverJs = fileURLToPath(new URL('./relay-server.js', import.meta.url));

/** CPU seconds (user + system) of a process and all its descendants, from /proc. */
function treeCpu(pid: number): number {
  let ticks = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      continue;
    }
    stack.push(...childPids(p));
  }
  return ticks / 100;
}

function dial(tls: boolean, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s: Socket = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s)) : netConnect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
    s.setNoDelay(true);
  });
}

/** A raw MSRP endpoint: every message it reads goes to `on`. */
function endpoint(s: Socket, on: (m: MsrpMessage) => void): void {
  const p = new MsrpParser();
  const never = (): void => {
    throw new Error('a streamed message in the small-SEND bench');
  };
  s.on('data', (d: Buffer) => p.push(d, { message: on, head: never, body: never, end: never }));
}

/** AUTH (answering a Digest challenge if there is one): returns the Use-Path. */
function auth(s: Socket, inbox: MsrpMessage[][], relay: string, me: string, user: string): Promise<string> {
  const head = (tid: string, extra = ''): string => `MSRP ${tid} AUTH\r\nTo-Path: ${relay}\r\nFrom-Path: ${me}\r\n${extra}-------${tid}$\r\n`;
  return new Promise((resolve, reject) => {
    inbox.push([]);
    const q = inbox[inbox.length - 1]!;
    const poll = setInterval(() => {
      const r = q.shift();
      if (!r || r.kind !== 'response') return;
      if (r.status === 401) {
        const authz = digestAuthorization(getHeader(r, 'WWW-Authenticate')!, { username: user, password: 'pw', uri: relay });
        s.write(head(`${user}2`, `Authorization: ${authz}\r\n`));
      } else if (r.status === 200) {
        clearInterval(poll);
        inbox.pop();
        resolve(getHeader(r, 'Use-Path')!);
      } else {
        clearInterval(poll);
        reject(new Error(`AUTH answered ${r.status}`));
      }
    }, 2);
    s.write(head(`${user}1`));
  });
}

async function run(name: string, tls: boolean, port: number, pid: number): Promise<{ rate: number; cpuPerSend: number }> {
  const proto = tls ? 'msrps' : 'msrp';
  const relay = `${proto}://127.0.0.1:${port};tcp`;
  const alice = await dial(tls, port);
  const bob = await dial(tls, port);
  const aliceUrl = `${proto}://127.0.0.1:${alice.localPort}/alice;tcp`;
  const bobUrl = `${proto}://127.0.0.1:${bob.localPort}/bob;tcp`;
  const aliceIn: MsrpMessage[][] = [];
  const bobIn: MsrpMessage[][] = [];
  let got = 0;
  let oks = 0;
  let wake: (() => void) | null = null;
  endpoint(alice, (m) => {
    if (aliceIn.length) aliceIn[aliceIn.length - 1]!.push(m);
    else if (m.kind === 'response' && m.status === 200) oks++;
  });
  endpoint(bob, (m) => {
    if (bobIn.length) return void bobIn[bobIn.length - 1]!.push(m);
    if (m.kind !== 'request' || m.method !== 'SEND') return;
    got++;
    const from = parsePath(getHeader(m, 'From-Path')!)[0]!.whole;
    const to = parsePath(getHeader(m, 'To-Path')!)[0]!.whole;
    bob.write(`MSRP ${m.tid} 200 OK\r\nTo-Path: ${from}\r\nFrom-Path: ${to}\r\n-------${m.tid}$\r\n`);
    if (wake) {
      const w = wake;
      wake = null;
      w();
    }
  });
  // Kamailio's Use-Path names its TCP address whatever the transport (routing is by session)
  const fix = (u: string): string => (tls ? u.replace(/^msrp:/, 'msrps:') : u);
  const ub = fix(await auth(bob, bobIn, relay, bobUrl, 'bob'));
  const ua = fix(await auth(alice, aliceIn, relay, aliceUrl, 'alice'));
  const to = `${ub} ${bobUrl}`;
  const from = `${ua} ${aliceUrl}`;
  const send = (i: number): Buffer => {
    const tid = `s${i.toString(36)}`;
    const head = encodeHeadText({
      kind: 'request', method: 'SEND', tid, continuation: '$',
      headers: [
        { name: 'To-Path', value: to }, { name: 'From-Path', value: from }, { name: 'Message-ID', value: `m${i}` },
        { name: 'Byte-Range', value: `1-${TEXT.length}/${TEXT.length}` }, { name: 'Content-Type', value: 'text/plain' },
      ],
    });
    return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), TEXT, Buffer.from(`\r\n-------${tid}$\r\n`, 'latin1')]);
  };
  // warm-up, not measured
  const WARM = Math.min(2000, N);
  let sent = 0;
  const pump = async (upto: number): Promise<void> => {
    while (sent < upto) {
      while (sent - got >= WINDOW) await new Promise<void>((r) => (wake = r));
      alice.write(send(sent++));
    }
    while (got < upto) await new Promise<void>((r) => (wake = r));
  };
  await pump(WARM);
  const cpu0 = treeCpu(pid);
  const t0 = performance.now();
  await pump(WARM + N);
  const secs = (performance.now() - t0) / 1000;
  const cpu = treeCpu(pid) - cpu0;
  await new Promise<void>((r) => setTimeout(r, 100)); // the last 200s to alice, for the count only
  alice.destroy();
  bob.destroy();
  const rate = N / secs;
  console.log(`  ${name.padEnd(26)} ${N} SENDs in ${secs.toFixed(2)} s = ${rate.toFixed(0)} SENDs/s, relay CPU ${((cpu / N) * 1e6).toFixed(1)} µs per SEND (${cpu.toFixed(2)} s), 200s to alice ${oks - WARM}`);
  return { rate, cpuPerSend: cpu / N };
}

async function startX(tcp: number, tlsPort: number): Promise<ChildProcess> {
  const env = { ...process.env, BENCH_CERT: Buffer.from(pem.cert).toString('base64'), BENCH_KEY: Buffer.from(pem.private).toString('base64') };
  const c = spawn(process.execPath, [...(process.env.MSRP_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MSRP_BENCH_PROF}`] : []), serverJs, 'x', String(tcp), String(tlsPort)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    c.once('exit', (code) => reject(new Error(`x relay exited ${code}`)));
  });
  return c;
}

console.log(`small SENDs (${TEXT.length}-byte text, ${WINDOW} in flight), load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
/** `n` distinct free ports of the interop range */
async function ports(n: number): Promise<number[]> {
  const got = new Set<number>();
  while (got.size < n) got.add(await freePort(RANGE));
  return [...got];
}
const [kTcp, kTls, xTcp, xTls] = (await ports(4)) as [number, number, number, number];
const cfg = kamailioMsrpConfig(kTcp, kTls, { cert: pem.cert, key: pem.private }).replace(
  'if (msrp_is_reply()) {\n    msrp_relay();',
  // as msrp_relay: the far end's 200 to a SEND already answered is not relayed
  'if (msrp_is_reply()) {\n    if ($msrp(code) == 200) {\n      exit;\n    }\n    msrp_relay();',
);
const kam = await startKamailio(cfg, { port: kTcp, timeoutSec: 600 });
const x = await startX(xTcp, xTls);
const res: Record<string, { rate: number; cpuPerSend: number }> = {};
try {
  for (const tls of [false, true]) {
    const t = tls ? 'TLS' : 'TCP';
    res[`kam ${t}`] = await run(`Kamailio 5.6 relay, ${t}`, tls, tls ? kTls : kTcp, kam.pid);
    res[`x ${t}`] = await run(`x relay, ${t}`, tls, tls ? xTls : xTcp, x.pid!);
  }
} finally {
  x.kill();
  await kam.stop();
}
for (const t of ['TCP', 'TLS']) {
  const k = res[`kam ${t}`]!;
  const o = res[`x ${t}`]!;
  console.log(`  ${t}: x/Kamailio SENDs/s ${(o.rate / k.rate).toFixed(2)}, CPU per SEND x/Kamailio ${(o.cpuPerSend / k.cpuPerSend).toFixed(2)}`);
}
