// Issue 13, item 2: descriptor exhaustion. Each test runs a process under a low open-files limit
// (util-linux prlimit on the child only: the test runner's own limit is untouched), on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, startX, tempDir, writeFiles, type Running } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const running: Running[] = [];
const children: ChildProcess[] = [];
const socks: Socket[] = [];
afterEach(() => {
  for (const s of socks.splice(0)) s.destroy();
  for (const r of running.splice(0)) r.kill();
  for (const c of children.splice(0)) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
});

beforeAll(() => {
  ensureBuilt();
});

/** a client; resolves once connected, or once closed (a connection refused at accept may close first) */
function client(port: number): Promise<{ sock: Socket; closed: Promise<void>; isClosed: () => boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    socks.push(sock);
    let done = false;
    const closed = new Promise<void>((r) =>
      sock.once('close', () => {
        done = true;
        r();
      }),
    );
    sock.on('error', () => {});
    const out = { sock, closed, isClosed: () => done };
    sock.once('connect', () => resolve(out));
    void closed.then(() => resolve(out));
  });
}

/** the soft open-files limit of a pid */
function softNofile(pid: number): number {
  return Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))![1]);
}

const CFG = `log_level = 3
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", 0)
modparam("httpd", "max_connections", 16)
`;

async function startLimited(nofile: string, cfg: string): Promise<Running> {
  const dir = tempDir();
  writeFiles(dir, { 'x.cfg': cfg });
  const x = await startX(join(dir, 'x.cfg'), { prefix: ['prlimit', `--nofile=${nofile}`] });
  running.push(x);
  return x;
}

async function metric(x: Running, name: string): Promise<number> {
  const text = await (await fetch(`${x.baseUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('tcp_max_connections and the open-files limit', () => {
  it('a limit that cannot hold tcp_max_connections: warned at start, the cap lowered, SIP refused by the engine while MI and /health still answer', async () => {
    const x = await startLimited('128:128', `tcp_max_connections = 2048\n${CFG}`);
    const warn = x.lines.find((l) => /^tcp_max_connections 2048 cannot be honoured/.test(l.msg));
    expect(warn, 'the start-up warning').toBeDefined();
    expect(warn).toMatchObject({ level: 40, soft: 128, hard: 128 });
    const cap = warn!.effective as number;
    expect(cap).toBeGreaterThan(0);
    expect(cap).toBeLessThan(128 - 16 - 1);
    const port = x.ports.get('tcp')!;
    // more SIP connections than the cap: the extra ones are refused by the engine, counted
    const clients = [];
    for (let i = 0; i < cap + 20; i++) clients.push(await client(port));
    await Promise.all(clients.filter((c) => !c.isClosed()).slice(cap).map((c) => c.closed));
    expect(await metric(x, 'x_tcp_rejected_total')).toBeGreaterThanOrEqual(20);
    expect(await metric(x, 'x_tcp_connections')).toBe(cap);
    // MI and /health still answer, several at once (httpd max_connections 16 is in the reserve)
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => fetch(x.miUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'uptime', id: 1 }) }).then((r) => r.status)),
    );
    expect(answers).toEqual(Array(8).fill(200));
    expect((await fetch(`${x.baseUrl}/health`)).status).toBe(200);
    expect(await metric(x, 'x_conn_fd_exhausted_total')).toBe(0);
    expect(x.lines.some((l) => l.reason === 'max_connections' && /^connection refused: tcp_max_connections/.test(l.msg))).toBe(true);
  });

  it('a soft limit below the hard one is no obstacle: Node raises it at start (as our planner would), tcp_max_connections fits', async () => {
    // Node (PlatformInit) sets the soft RLIMIT_NOFILE to the hard one before any JS runs; the
    // planner's own raise (prlimit on our pid) is for hosts that do not
    const x = await startLimited('128:4096', `tcp_max_connections = 500\n${CFG}`);
    expect(softNofile(x.child.pid!)).toBe(4096);
    const fits = x.lines.find((l) => /^open files: limit 4096, tcp_max_connections 500 fits with \d+ descriptors in reserve$/.test(l.msg));
    expect(fits, 'the start-up line').toBeDefined();
    expect(x.lines.some((l) => /cannot be honoured/.test(l.msg))).toBe(false);
  });
});

describe('EMFILE on accept (core-conn engine without planning)', () => {
  it('is detected, logged once (rate-limited), counted; the engine backs off below the count it ran out at and recovers', async () => {
    const child = spawn('prlimit', ['--nofile=96:96', process.execPath, join(here, '..', 'fixtures', 'fd-exhaustion-child.mjs')], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const logs: Array<Record<string, unknown>> = [];
    let waiter: ((s: Record<string, number | boolean>) => void) | null = null;
    const port = await new Promise<number>((resolve, reject) => {
      child.on('message', (m: { port?: number; log?: Record<string, unknown>; stats?: Record<string, number | boolean> }) => {
        if (m.port !== undefined) resolve(m.port);
        if (m.log) logs.push(m.log);
        if (m.stats && waiter) {
          const w = waiter;
          waiter = null;
          w(m.stats);
        }
      });
      child.once('exit', (c) => reject(new Error(`child exited ${c}`)));
    });
    const stats = (): Promise<Record<string, number | boolean>> =>
      new Promise((r) => {
        waiter = r;
        child.send('stats');
      });
    const statsWhen = async (ok: (s: Record<string, number | boolean>) => boolean, what: string): Promise<Record<string, number | boolean>> => {
      for (let i = 0; ; i++) {
        const s = await stats();
        if (ok(s)) return s;
        if (i > 300) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // 120 connections against a 96-descriptor table: Node drops the ones it cannot accept
    const clients = [];
    for (let i = 0; i < 120; i++) clients.push(await client(port));
    const full = await statsWhen((s) => (s.fdExhausted as number) > 0, 'the exhaustion to be seen');
    const held = full.conns as number;
    expect(held).toBeGreaterThan(40);
    expect(held).toBeLessThan(96);
    const warns = logs.filter((l) => /^out of file descriptors \(EMFILE\)/.test(String(l.msg)));
    expect(warns.length).toBeGreaterThanOrEqual(1);
    expect(warns.length).toBeLessThanOrEqual(10); // rate-limited while it lasts
    const cap = warns[0]!.cap as number;
    expect(cap).toBeLessThanOrEqual(held - 16);

    // back off: free 8 connections, still above the cap: a new one is refused by the engine,
    // and the freed descriptors stay free for other work
    const alive = clients.filter((c) => !c.isClosed());
    for (const c of alive.splice(0, 8)) c.sock.destroy();
    await statsWhen((s) => (s.conns as number) <= held - 8, 'the 8 closes');
    const before = (await stats()).rejected as number;
    const extra = await client(port);
    await extra.closed;
    const after = await statsWhen((s) => (s.rejected as number) > before, 'the refusal');
    expect(after.canOpen).toBe(true);
    expect(logs.some((l) => l.reason === 'fd_exhausted' && /^connection refused: out of file descriptors/.test(String(l.msg)))).toBe(true);

    // everything closed: descriptors free again, the cap is lifted, connections accepted again
    for (const c of alive) c.sock.destroy();
    await statsWhen((s) => s.conns === 0, 'all closed');
    await statsWhen(() => logs.some((l) => /^file descriptors are free again/.test(String(l.msg))), 'the cap to be lifted');
    const again = await Promise.all(Array.from({ length: 20 }, () => client(port)));
    await statsWhen((s) => s.conns === 20, 'twenty accepted again');
    for (const c of again) c.sock.destroy();
    child.send('stop');
  });
});
