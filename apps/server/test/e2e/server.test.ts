import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultCfgOnPort0, ensureBuilt, optionsRequest, PKG, startX, tempDir, writeFiles, xcli, type Running } from './helpers.js';

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) r.kill();
});

beforeAll(() => {
  ensureBuilt();
});

async function start(cfg: string, routes?: string): Promise<{ x: Running; dir: string }> {
  const dir = tempDir();
  writeFiles(dir, { 'x.cfg': cfg, 'routes.mjs': routes ?? readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
  const x = await startX(join(dir, 'x.cfg'));
  running.push(x);
  return { x, dir };
}

/** Sends `n` OPTIONS on one TCP connection; resolves with the n replies (split at Content-Length: 0). */
function sendOptions(port: number, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    sock.setEncoding('latin1');
    sock.once('connect', () => sock.write(Array.from({ length: n }, (_, i) => optionsRequest(i, sock.localPort!)).join('')));
    sock.on('data', (d: string) => {
      buf += d;
      const replies = buf.split('\r\n\r\n').slice(0, -1);
      if (replies.length >= n) {
        sock.destroy();
        resolve(replies);
      }
    });
    sock.once('error', reject);
    sock.once('close', () => reject(new Error(`connection closed after ${buf.split('\r\n\r\n').length - 1} of ${n} replies`)));
  });
}

/** Sends one request (built from the local port) on a new connection; resolves with the first reply. */
function sendRaw(port: number, build: (localPort: number) => string): Promise<{ reply: string; local: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    let local = 0;
    sock.setEncoding('latin1');
    sock.once('connect', () => {
      local = sock.localPort!;
      sock.write(build(local));
    });
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n\r\n')) {
        sock.destroy();
        resolve({ reply: buf, local });
      }
    });
    sock.once('error', reject);
  });
}

async function metric(x: Running, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${x.baseUrl}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('x-server binary on the default config', () => {
  it('serves MI through x-cli, answers OPTIONS over TCP, counts them in /metrics, stops on SIGTERM', async () => {
    const { x } = await start(defaultCfgOnPort0());
    expect([...x.ports.keys()].sort()).toEqual(['hep_tcp', 'hep_udp', 'tcp']);
    expect(x.miUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mi$/);
    const url = ['--url', x.miUrl];

    const v = await xcli([...url, 'mi', 'version']);
    expect(v).toMatchObject({ code: 0, stdout: `{\n    "Server": "x-server (0.1.0 (${process.arch}/${process.platform}))"\n}\n` });
    const dashX = await xcli([...url, '-x', 'mi', 'uptime']);
    expect(dashX.code, dashX.stderr).toBe(0);
    expect(Object.keys(JSON.parse(dashX.stdout) as object)).toEqual(['Now', 'Up since', 'Up time']);
    const viaEnv = await xcli(['mi', 'ps'], { X_MI_URL: x.miUrl });
    expect(JSON.parse(viaEnv.stdout)).toEqual({ Processes: [{ ID: 0, PID: x.child.pid, Type: 'main' }] });
    // as OpenSIPS 3.6: an unknown group is {}; resetting one is 404
    expect(await xcli([...url, 'mi', 'get_statistics', 'nope:'])).toMatchObject({ code: 0, stdout: '{}\n' });
    const bad = await xcli([...url, 'mi', 'reset_statistics', 'nope']);
    expect(bad).toMatchObject({ code: 1, stderr: "ERROR: command 'reset_statistics' returned: 404: Statistics Not Found\n" });
    const amb = await xcli([...url, 'mi', 'list']);
    expect(amb.stderr).toBe("ERROR: command 'list' returned: -32001: Method ambiguous (supported names: statistics:list, tcp:list, tcp_mgm:list)\n");
    const few = await xcli([...url, 'mi', 'tcp:close']);
    expect(few).toMatchObject({ code: 1, stderr: "ERROR: command 'tcp:close' returned: -32602: Invalid params (Too few or too many parameters)\n" });
    expect((await xcli([...url, 'mi', 'list_tcp_conns', 'proto=bogus'])).stderr).toBe("ERROR: command 'list_tcp_conns' returned: -32602: Invalid params (Too few or too many parameters)\n");
    expect((await xcli([...url, 'mi', 'tcp:list', 'proto=bogus'])).stderr).toBe("ERROR: command 'tcp:list' returned: 400: Bad protocol\n");

    // the HTTP rules of mi_http
    expect((await fetch(x.miUrl)).status).toBe(405);
    expect((await fetch(x.miUrl, { method: 'POST', body: '' })).status).toBe(400);
    const note = await fetch(x.miUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method: 'version' }) });
    expect([note.status, await note.text()]).toEqual([202, '']);
    expect((await fetch(`${x.baseUrl}/health`)).status).toBe(200);

    // sipp sends the same OPTIONS in the interop run (test/interop/sipp.test.ts)
    const calls = 20;
    const replies = await sendOptions(x.ports.get('tcp')!, calls);
    expect(replies).toHaveLength(calls);
    expect(replies.every((r) => r.startsWith('SIP/2.0 200 OK\r\n'))).toBe(true);
    // RFC 3581: an OPTIONS whose top Via has rport and another host gets received and rport
    // (the source's) in its reply's Via, and the default Server header, as OpenSIPS answers
    const rport = await sendRaw(x.ports.get('tcp')!, (local) =>
      optionsRequest(99, local).replace(/^Via: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=([^\r]+)/m, 'Via: SIP/2.0/TCP 198.51.100.7:5099;branch=$1;rport'),
    );
    expect(rport.reply).toContain(`\r\nVia: SIP/2.0/TCP 198.51.100.7:5099;received=127.0.0.1;branch=z9hG4bK-e2e-99;rport=${rport.local}\r\n`);
    expect(rport.reply).toContain(`\r\nServer: x-server (0.1.0 (${process.arch}/${process.platform}))\r\nContent-Length: 0\r\n\r\n`);

    expect(await metric(x, 'x_core_rcv_requests_total')).toBe(calls + 1);
    expect(await metric(x, 'x_tcp_rcv_msgs_total')).toBe(calls + 1);
    expect(await metric(x, 'x_tcp_snd_msgs_total')).toBe(calls + 1);
    expect(await metric(x, 'x_core_err_requests_total')).toBe(0);
    const stats = JSON.parse((await xcli([...url, 'mi', 'get_statistics', 'rcv_requests', 'tcp:'])).stdout);
    expect(stats['core:rcv_requests']).toBe(calls + 1);
    expect(stats['tcp:accepted']).toBeGreaterThanOrEqual(1);
    expect(x.lines.filter((l) => l.module === 'route' && /^OPTIONS sip:/.test(l.msg))).toHaveLength(calls + 1);

    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
    expect(x.lines.at(-1)?.msg).toBe('stopped');
  });

  it('answers every request in flight when SIGTERM arrives (async route), then exits 0', async () => {
    const routes = `export async function request(ctx) {
      await new Promise((r) => setTimeout(r, 300));
      return ctx.reply(200, 'OK');
    }`;
    const cfg = 'route_script = "./routes.mjs"\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nloadmodule "httpd.so"\nmodparam("httpd", "port", 0)\n';
    const { x } = await start(cfg, routes);
    const n = 30;
    const sock = connect(x.ports.get('tcp')!, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString()));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(Array.from({ length: n }, (_, i) => optionsRequest(i, sock.localPort!)).join(''));
    // wait until the server has every request in its routes, then stop it
    for (let i = 0; i < 100 && (await metric(x, 'x_core_rcv_requests_total')) !== n; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await metric(x, 'x_core_rcv_requests_total')).toBe(n);
    x.child.kill('SIGTERM');
    expect(await x.exited).toEqual({ code: 0, signal: null });
    await closed;
    expect(got.match(/^SIP\/2\.0 200 OK\r\n/gm)).toHaveLength(n);
    for (let i = 0; i < n; i++) expect(got).toContain(`Call-ID: e2e-${i}\r\n`);
  });

  it('SIGTERM flushes replies still queued for a client that is not reading, then exits 0', async () => {
    // big replies (a long reason phrase) to a paused client: the kernel buffers fill, the engine's write queue holds the rest
    // (tcp_async_local_write_timeout at its 10 ms default: a stalled queue is postponed, not closed)
    const routes = `export function request(ctx) { return ctx.reply(200, 'OK ' + 'x'.repeat(60000)); }`;
    const cfg = 'route_script = "./routes.mjs"\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n'
      + 'loadmodule "httpd.so"\nmodparam("httpd", "port", 0)\n';
    const { x } = await start(cfg, routes);
    const sock = connect(x.ports.get('tcp')!, '127.0.0.1');
    sock.pause();
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let sent = 0;
    let waiting = 0;
    while (waiting === 0 && sent < 300) {
      sock.write(optionsRequest(sent, sock.localPort!));
      sent++;
      for (let i = 0; i < 100 && (await metric(x, 'x_core_rcv_requests_total')) !== sent; i++) await new Promise((r) => setTimeout(r, 10));
      waiting = (await metric(x, 'x_net_waiting_tcp')) ?? 0;
    }
    expect(waiting, 'bytes queued in the engine before SIGTERM').toBeGreaterThan(0);
    x.child.kill('SIGTERM');
    // while that queue waits for the paused client, the server no longer accepts connections
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await new Promise<boolean>((resolve) => {
        const probe = connect(x.ports.get('tcp')!, '127.0.0.1');
        probe.once('connect', () => {
          probe.destroy();
          setTimeout(() => resolve(false), 20);
        });
        probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
      });
    }
    expect(refused, 'new connections refused during the flush').toBe(true);
    expect(x.child.exitCode, 'still flushing').toBeNull();
    let got = '';
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.resume();
    await closed;
    expect(await x.exited).toEqual({ code: 0, signal: null });
    expect(got.match(/^SIP\/2\.0 200 OK x{60000}\r\n/gm)).toHaveLength(sent);
    for (let i = 0; i < sent; i++) expect(got).toContain(`Call-ID: e2e-${i}\r\n`);
  });

  it('SIGINT stops gracefully too', async () => {
    const { x } = await start('socket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\n');
    x.child.kill('SIGINT');
    expect(await x.exited).toEqual({ code: 0, signal: null });
    expect(x.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['SIGINT received', 'stopped']));
    expect(x.lines.at(-1)?.msg).toBe('stopped');
  });

  it('MI reload applies a new log_level and route script', async () => {
    const { x, dir } = await start('log_level = 3\nroute_script = "./routes.mjs"\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nloadmodule "httpd.so"\nloadmodule "mi_http.so"\nmodparam("httpd", "port", 0)\n',
      'export function request(ctx) { return ctx.reply(200, "OK"); }');
    writeFiles(dir, {
      'x.cfg': 'log_level = 4\nroute_script = "./routes.mjs"\nsocket = tcp:127.0.0.1:0\nloadmodule "proto_tcp.so"\nloadmodule "httpd.so"\nloadmodule "mi_http.so"\nmodparam("httpd", "port", 0)\n',
      'routes.mjs': 'export function request(ctx) { return ctx.reply(486, "Busy Here"); }',
    });
    const r = await xcli(['--url', x.miUrl, 'mi', 'reload']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ Reloaded: ['log_level', 'route_script'], log_level: 4, routes: ['request'] });
    expect(JSON.parse((await xcli(['--url', x.miUrl, 'mi', 'log_level'])).stdout)).toEqual({ Processes: [{ PID: x.child.pid, 'Log level': 4, Type: 'main' }] });
    const sock = connect(x.ports.get('tcp')!, '127.0.0.1');
    const reply = await new Promise<string>((resolve) => {
      sock.once('data', (d: Buffer) => resolve(d.toString()));
      sock.once('connect', () => sock.write(optionsRequest(1, sock.localPort!)));
    });
    expect(reply).toMatch(/^SIP\/2\.0 486 Busy Here\r\n/);

    // the open connection in tcp:list, in OpenSIPS's key order, then closed by id
    const list = await xcli(['--url', x.miUrl, 'mi', 'list_tcp_conns']);
    const conns = (JSON.parse(list.stdout) as { Connections: Array<Record<string, unknown>> }).Connections;
    expect(conns).toHaveLength(1);
    expect(Object.keys(conns[0]!)).toEqual(['ID', 'Type', 'State', 'Remote', 'Local', 'Lifetime', 'Alias port']);
    expect(conns[0]).toMatchObject({ Type: 'tcp', State: 0, Remote: `127.0.0.1:${sock.localPort!}`, Local: `127.0.0.1:${x.ports.get('tcp')!}`, 'Alias port': sock.localPort! });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    expect(JSON.parse((await xcli(['--url', x.miUrl, 'mi', 'tcp:close', `ipport=${String(conns[0]!.ID)}`])).stdout)).toBe('OK');
    await closed;

    // SIGHUP reloads too
    writeFiles(dir, { 'x.cfg': readFileSync(join(dir, 'x.cfg'), 'utf8').replace('log_level = 4', 'log_level = 2') });
    x.child.kill('SIGHUP');
    let level = 4;
    for (let i = 0; i < 50 && level !== 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      level = (JSON.parse((await xcli(['--url', x.miUrl, 'mi', 'log_level'])).stdout) as { Processes: Array<{ 'Log level': number }> }).Processes[0]!['Log level'];
    }
    expect(level).toBe(2);

    // MI kill: "OK", then a graceful exit 0
    expect(JSON.parse((await xcli(['--url', x.miUrl, 'mi', 'kill'])).stdout)).toBe('OK');
    expect(await x.exited).toEqual({ code: 0, signal: null });
  });
});

describe('pnpm start: the bundled config with --pretty', () => {
  it('prints the listeners (HEP included), where MI and /metrics listen, and one line per request', async () => {
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': defaultCfgOnPort0(), 'routes.mjs': readFileSync(join(PKG, 'config', 'routes.mjs'), 'utf8') });
    const x = await startX(join(dir, 'x.cfg'), { pretty: true });
    running.push(x);
    const out = x.stdout();
    const lines = () => x.stdout().split('\n').filter((l) => l !== '');
    expect(lines().every((l) => !l.startsWith('{')), out).toBe(true);
    for (const p of ['tcp', 'hep_udp', 'hep_tcp']) expect(out).toMatch(new RegExp(`INFO .*: listening on ${p}:127\\.0\\.0\\.1:\\d+`));
    expect(out).toMatch(/MI \(JSON-RPC 2\.0\) listening on http:\/\/127\.0\.0\.1:\d+\/mi/);
    expect(out).toMatch(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics, health on http:\/\/127\.0\.0\.1:\d+\/health/);
    const tcpPort = Number(/listening on tcp:127\.0\.0\.1:(\d+)/.exec(out)![1]);

    const n = 3;
    const sock = connect(tcpPort, '127.0.0.1');
    let got = '';
    const answered = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        got += d.toString();
        if ((got.match(/^SIP\/2\.0 200 OK\r\n/gm) ?? []).length === n) resolve();
      });
    });
    sock.once('connect', () => sock.write(Array.from({ length: n }, (_, i) => optionsRequest(i, sock.localPort!)).join('')));
    await answered;
    const from = `127.0.0.1:${sock.localPort!}`;
    sock.destroy();
    const reqLines = lines().filter((l) => l.includes(`: OPTIONS sip:probe@127.0.0.1 from ${from}`));
    expect(reqLines, x.stdout()).toHaveLength(n);
    for (let i = 0; i < n; i++) expect(reqLines[i]).toContain(`"callId":"e2e-${i}"`);
    x.child.kill('SIGTERM');
    expect((await x.exited).code).toBe(0);
    expect(lines().at(-1)).toMatch(/INFO .*: stopped$/);
  });
});
