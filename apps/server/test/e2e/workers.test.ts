import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { packHep } from '@x/proto-hep';
import { requireBinary, runSipp } from '@x/test-peers';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultCfgOnPort0, ensureBuilt, optionsRequest, PKG, startX, tempDir, writeFiles, type Running } from './helpers.js';

// x-server with tcp_workers = 2: connections spread over both workers (SCHED_NONE: each
// worker accepts on the shared listener), a send for a connection another worker owns goes
// there through the primary, MI and /metrics see every worker, a killed worker is replaced.

const running: Running[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of running.splice(0)) r.kill();
});
beforeAll(() => ensureBuilt());

const CFG = `log_level = 3
route_script = "./routes.mjs"
tcp_workers = 2
tcp_accept_aliases = 1
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "ip", "127.0.0.1")
modparam("httpd", "port", 0)
modparam("mi_http", "root", "mi")
`;

// X-To-Conn: forward to that connection id; X-To-Addr: forward to that host:port (reuse by
// address); either way a MESSAGE carrying the X-Seq and the forwarding worker's PID
const ROUTES = `
export async function request(ctx) {
  const m = ctx.message;
  const toConn = m.header('X-To-Conn');
  const toAddr = m.header('X-To-Addr');
  if (toConn === undefined && toAddr === undefined) return ctx.reply(200, 'OK ' + process.pid);
  const bytes = Buffer.from('MESSAGE sip:peer@127.0.0.1 SIP/2.0\\r\\nVia: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-' + m.callId + '\\r\\n' +
    'From: <sip:x@127.0.0.1>;tag=x\\r\\nTo: <sip:peer@127.0.0.1>\\r\\nCall-ID: fwd-' + m.callId + '\\r\\nCSeq: 1 MESSAGE\\r\\n' +
    'X-Seq: ' + m.header('X-Seq') + '\\r\\nX-From-Pid: ' + process.pid + '\\r\\nContent-Length: 0\\r\\n\\r\\n');
  const tcp = ctx.modules.get('proto_tcp');
  await (toConn !== undefined ? tcp.send('127.0.0.1:1', bytes, { connectionId: Number(toConn) }) : tcp.send(toAddr, bytes, { noNewConn: true }));
  return ctx.reply(200, 'Forwarded');
}
`;

interface Client {
  sock: Socket;
  /** whole SIP messages received (Content-Length 0 ones) */
  msgs: string[];
  closed: Promise<void>;
  /** resolves once `n` messages arrived (rejects after 15 s) */
  until(n: number): Promise<void>;
}

async function client(port: number): Promise<Client> {
  const sock = connect({ host: '127.0.0.1', port });
  sockets.push(sock);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.on('error', () => {});
  const msgs: string[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  sock.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
      msgs.push(buf.slice(0, i));
      buf = buf.slice(i + 4);
    }
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  const until = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${msgs.length} of ${n} messages: ${msgs.slice(-2).join(' | ')}`)), 15_000);
      const check = (): void => {
        if (msgs.length >= n) {
          clearTimeout(t);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { sock, msgs, closed, until };
}

let seq = 0;
function request(extra: string[] = [], method = 'OPTIONS'): string {
  const i = ++seq;
  return [`${method} sip:x@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-w${i}`, 'From: <sip:t@127.0.0.1>;tag=t', 'To: <sip:x@127.0.0.1>', `Call-ID: w${i}`, `CSeq: ${i} ${method}`, 'Max-Forwards: 70', ...extra, 'Content-Length: 0', '', ''].join('\r\n');
}

async function mi(x: Running, method: string, params?: unknown): Promise<{ result?: unknown; error?: { message: string } }> {
  const r = await fetch(x.miUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) }) });
  return (await r.json()) as { result?: unknown; error?: { message: string } };
}

interface Conn {
  ID: number;
  Remote: string;
}
async function conns(x: Running): Promise<Conn[]> {
  return ((await mi(x, 'tcp:list')).result as { Connections: Conn[] }).Connections;
}

/** the worker of a connection id: its low bit (two workers) */
const workerOf = (id: number): number => id & 1;

async function metric(x: Running, name: string): Promise<number> {
  const text = await (await fetch(`${x.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/**
 * Clients until both workers hold one: returns one client per worker with its server-side id
 * (the others stay open). Bounded: 64 connections.
 */
async function onBothWorkers(x: Running, port: number): Promise<Array<{ c: Client; id: number }>> {
  const all: Client[] = [];
  for (let n = 0; n < 64; n++) {
    const c = await client(port);
    all.push(c);
    // a request answered proves the accept was handled; tcp:list then holds it
    c.sock.write(request());
    await c.until(1);
    const list = await conns(x);
    const mine = (cl: Client): Conn | undefined => list.find((e) => e.Remote === `127.0.0.1:${cl.sock.localPort}`);
    const w0 = all.find((cl) => { const e = mine(cl); return e && workerOf(e.ID) === 0; });
    const w1 = all.find((cl) => { const e = mine(cl); return e && workerOf(e.ID) === 1; });
    if (w0 && w1) return [{ c: w0, id: mine(w0)!.ID }, { c: w1, id: mine(w1)!.ID }];
  }
  throw new Error('64 connections and not one on each worker');
}

async function start(): Promise<{ x: Running; port: number }> {
  const dir = tempDir();
  writeFiles(dir, { 'x.cfg': CFG, 'routes.mjs': ROUTES });
  const x = await startX(join(dir, 'x.cfg'), { workers: 'cfg' });
  running.push(x);
  return { x, port: x.ports.get('tcp')! };
}

describe('x-server with tcp_workers = 2', () => {
  it('spreads connections over both workers; a burst forwarded by id and by address to the other worker\'s connection arrives in order; MI and /metrics see both', async () => {
    const { x, port } = await start();
    const ps = (await mi(x, 'ps')).result as { Processes: Array<{ ID: number; PID: number; Type: string }> };
    expect(ps.Processes).toHaveLength(3);
    expect(ps.Processes[0]).toMatchObject({ ID: 0, PID: x.child.pid, Type: 'attendant' });
    const workerPids = ps.Processes.slice(1).map((p) => p.PID);
    expect(new Set(workerPids).size).toBe(2);
    const [a, b] = await onBothWorkers(x, port);
    const pidA = /OK (\d+)/.exec(a!.c.msgs[0]!)![1];
    const pidB = /OK (\d+)/.exec(b!.c.msgs[0]!)![1];
    expect(pidA).not.toBe(pidB);
    expect(workerPids).toContain(Number(pidA));

    // a burst on a (worker 0) forwarded by connection id to b (worker 1), pipelined in one write
    const burst = 60;
    a!.c.sock.write(Array.from({ length: burst }, (_, i) => request([`X-To-Conn: ${b!.id}`, `X-Seq: ${i}`], 'MESSAGE')).join(''));
    await b!.c.until(1 + burst);
    const got = b!.c.msgs.slice(1);
    expect(got.map((m) => Number(/X-Seq: (\d+)/.exec(m)![1]))).toEqual(Array.from({ length: burst }, (_, i) => i));
    for (const m of got) expect(m).toContain(`X-From-Pid: ${pidA}`);
    await a!.c.until(1 + burst);
    expect(a!.c.msgs.slice(1).every((m) => m.startsWith('SIP/2.0 200 Forwarded'))).toBe(true);

    // the other way, by address (the owner index): b's worker sends to a's remote address
    b!.c.sock.write(Array.from({ length: burst }, (_, i) => request([`X-To-Addr: 127.0.0.1:${a!.c.sock.localPort}`, `X-Seq: ${i}`], 'MESSAGE')).join(''));
    await a!.c.until(1 + 2 * burst);
    const back = a!.c.msgs.slice(1 + burst);
    expect(back.map((m) => Number(/X-Seq: (\d+)/.exec(m)![1]))).toEqual(Array.from({ length: burst }, (_, i) => i));
    for (const m of back) expect(m).toContain(`X-From-Pid: ${pidB}`);
    await b!.c.until(1 + 2 * burst);
    expect(b!.c.msgs.slice(1 + burst).every((m) => m.startsWith('SIP/2.0 200 Forwarded'))).toBe(true);

    // /metrics sums the workers: every request received, whichever worker took it
    const open = (await conns(x)).length;
    expect(await metric(x, 'x_tcp_accepted_total')).toBe(open);
    expect(await metric(x, 'x_core_rcv_requests_total')).toBe(open + 2 * burst);
    expect(await metric(x, 'x_load_processes_number')).toBe(3);
    const stats = (await mi(x, 'get_statistics', [['rcv_requests', 'tcp:']])).result as Record<string, number>;
    expect(stats['core:rcv_requests']).toBe(open + 2 * burst);
    expect(stats['tcp:accepted']).toBe(open);

    // MI tcp:close of b's connection (worker 1's), by id, then of a's by address
    expect((await mi(x, 'tcp:close', { ipport: String(b!.id) })).result).toBe('OK');
    await b!.c.closed;
    expect((await mi(x, 'tcp:close', { ipport: `tcp:127.0.0.1:${a!.c.sock.localPort}` })).result).toBe('OK');
    await a!.c.closed;
    expect((await conns(x)).map((e) => e.ID)).not.toContain(b!.id);
    expect((await mi(x, 'tcp:close', { ipport: String(b!.id) })).result).toBeNull();

    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('a worker killed by its PID is replaced; the other worker\'s connections keep exchanging messages; MI shows the new PID', async () => {
    const { x, port } = await start();
    const [a, b] = await onBothWorkers(x, port);
    const ps = (await mi(x, 'ps')).result as { Processes: Array<{ ID: number; PID: number }> };
    const pidB = Number(/OK (\d+)/.exec(b!.c.msgs[0]!)![1]);
    const pidA = Number(/OK (\d+)/.exec(a!.c.msgs[0]!)![1]);
    const idB = ps.Processes.find((p) => p.PID === pidB)!.ID;
    const replaced = new Promise<void>((resolve) => {
      const check = (): void => {
        if (x.lines.some((l) => /^worker \d replaced/.test(l.msg))) resolve();
        else setTimeout(check, 50);
      };
      check();
    });
    process.kill(pidB, 'SIGKILL');
    await b!.c.closed;
    // a's connection (the other worker) goes on while and after its sibling is replaced
    const before = a!.c.msgs.length;
    a!.c.sock.write(request() + request() + request());
    await a!.c.until(before + 3);
    expect(a!.c.msgs.slice(before).every((m) => m.startsWith(`SIP/2.0 200 OK ${pidA}`))).toBe(true);
    await replaced;
    const after = (await mi(x, 'ps')).result as { Processes: Array<{ ID: number; PID: number }> };
    const newPid = after.Processes.find((p) => p.ID === idB)!.PID;
    expect(newPid).not.toBe(pidB);
    expect(newPid).toBeGreaterThan(0);
    expect(after.Processes.find((p) => p.PID === pidA)).toBeDefined();
    // the dead worker's connections are gone from MI; a forward to one fails, the rest work
    expect((await conns(x)).map((e) => e.ID)).not.toContain(b!.id);
    const n = a!.c.msgs.length;
    a!.c.sock.write(request([`X-To-Conn: ${b!.id}`, 'X-Seq: 0'], 'MESSAGE') + request());
    await a!.c.until(n + 1);
    expect(a!.c.msgs[n]).toMatch(/^SIP\/2.0 200 OK /);
    // new connections reach the replacement too
    const [, b2] = await onBothWorkers(x, port);
    expect(Number(/OK (\d+)/.exec(b2!.c.msgs[0]!)![1])).toBe(newPid);
    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('sipp over TCP (a connection per call) against 2 workers: every call answered, /metrics counts all of them', async () => {
    requireBinary('sipp');
    const { x, port } = await start();
    const calls = 40;
    const sipp = await runSipp({ transport: 'tn', target: `127.0.0.1:${port}`, rate: 40, calls, timeoutSec: 30 });
    expect(sipp.successful, sipp.output).toBe(calls);
    expect(sipp.failed).toBe(0);
    expect(await metric(x, 'x_core_rcv_requests_total')).toBe(calls);
    expect(await metric(x, 'x_tcp_snd_msgs_total')).toBe(calls);
    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('the default config (tcp, hep_udp, hep_tcp, tcp_mgm on SQLite) with 2 workers: HEP over UDP from the shared socket counted once per packet; MI kill stops every process', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': defaultCfgOnPort0(), 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const x = await startX(join(dir, 'x.cfg'), { workers: 2 });
    running.push(x);
    const ps = (await mi(x, 'ps')).result as { Processes: Array<{ PID: number }> };
    expect(ps.Processes).toHaveLength(3);
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const total = 200;
    // windows of 20, the next one sent once the workers counted the last: a busy CI machine
    // must not see the kernel drop datagrams from a receive buffer that nobody reads for a while
    let got = 0;
    for (let i = 0; i < total; i += 20) {
      for (let k = i; k < i + 20; k++) sock.send(packHep({ host: '10.1.2.3', port: 5060 }, { host: '10.1.2.4', port: 5060 }, 'udp', optionsRequest(k, 5060)), x.ports.get('hep_udp')!, '127.0.0.1');
      for (let t = 0; t < 200 && got < i + 20; t++) {
        await new Promise((r) => setTimeout(r, 25));
        got = await metric(x, 'x_hep_udp_rcv_msgs_total');
      }
    }
    sock.close();
    expect(got).toBe(total);
    // each packet ran the hep route once, in one of the workers
    const routed = x.lines.filter((l) => l.module === 'route' && typeof l.msg === 'string' && l.msg.startsWith('HEP packet'));
    expect(routed).toHaveLength(total);
    expect(new Set(routed.map((l) => l.pid)).size).toBeGreaterThanOrEqual(1);
    for (const l of routed) expect(ps.Processes.slice(1).map((p) => p.PID)).toContain(l.pid);
    expect((await mi(x, 'kill')).result).toBe('OK');
    expect(await x.exited).toEqual({ code: 0, signal: null });
    for (const p of ps.Processes.slice(1)) expect(() => process.kill(p.PID, 0)).toThrow();
  }, 60_000);

  it('a module whose state one process owns (clusterer) keeps x-server in one process, with a warning when more were asked', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const dir = tempDir();
    writeFiles(dir, {
      'x.cfg': `${CFG.replace('route_script = "./routes.mjs"\n', '')}socket = bin:127.0.0.1:${port}
loadmodule "proto_bin.so"
loadmodule "clusterer.so"
modparam("clusterer", "db_mode", 0)
modparam("clusterer", "my_node_id", 1)
modparam("clusterer", "my_node_info", "cluster_id=1, url=bin:127.0.0.1:${port}")
`,
    });
    const x = await startX(join(dir, 'x.cfg'), { workers: 'cfg' });
    running.push(x);
    expect(x.stderr()).toContain('x-server: warning: module "clusterer" runs in one process only: one worker, not 2');
    const ps = (await mi(x, 'ps')).result as { Processes: Array<{ PID: number; Type: string }> };
    expect(ps.Processes).toEqual([{ ID: 0, PID: x.child.pid, Type: 'main' }]);
    x.child.kill('SIGTERM');
    expect((await x.exited).code).toBe(0);
  }, 60_000);
});
