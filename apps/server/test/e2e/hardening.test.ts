import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, optionsRequest, startX, tempDir, writeFiles, xcheck, xcli, type Running } from './helpers.js';

// Issue 13: one hostile peer must not slow, blind or stop the server. Each test drives the built
// x-server on real sockets on 127.0.0.1 (ephemeral ports) and stops it by its PID.

const running: Running[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of running.splice(0)) r.kill();
});

beforeAll(() => {
  ensureBuilt();
});

const BASE = `log_level = 3
route_script = "./routes.mjs"
socket = tcp:127.0.0.1:0
loadmodule "proto_tcp.so"
loadmodule "httpd.so"
loadmodule "mi_http.so"
modparam("httpd", "port", 0)
`;

async function start(cfg: string, routes: string): Promise<{ x: Running; dir: string }> {
  const dir = tempDir();
  writeFiles(dir, { 'x.cfg': cfg, 'routes.mjs': routes });
  const x = await startX(join(dir, 'x.cfg'));
  running.push(x);
  return { x, dir };
}

async function client(port: number): Promise<{ sock: Socket; data: () => string; closed: Promise<void> }> {
  const sock = connect(port, '127.0.0.1');
  sockets.push(sock);
  let data = '';
  sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise((r) => sock.once('connect', r));
  return { sock, data: () => data, closed };
}

async function stopped(x: Running): Promise<void> {
  x.child.kill('SIGTERM');
  expect(await x.exited).toEqual({ code: 0, signal: null });
}

describe('log amplification (issue 13, item 1)', () => {
  it('a route script that throws on every request logs at most 10 lines per source, then how many it suppressed', async () => {
    const { x } = await start(BASE, 'export function request() { throw new Error("boom"); }\n');
    const c = await client(x.ports.get('tcp')!);
    const N = 500;
    c.sock.write(Array.from({ length: N }, (_, i) => optionsRequest(i, 5070)).join(''));
    const m = await fetchMetricWhen(x, 'x_core_err_requests_total', (v) => v === N);
    expect(m).toBe(N); // every failure is counted
    await stopped(x);
    const failed = x.lines.filter((l) => l.msg === 'route "request" failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThanOrEqual(10);
    const summary = x.lines.find((l) => typeof l.suppressed === 'number' && /similar log lines suppressed/.test(l.msg));
    expect(summary, 'a line counts the suppressed ones').toBeDefined();
    expect(summary!.suppressed).toBe(N - failed.length);
  });

  it('framed non-SIP messages never reach the route script: the connection is closed at the first one, nothing is logged per message', async () => {
    const { x } = await start(BASE, 'export function request(ctx) { return ctx.message.method.length; }\n');
    const c = await client(x.ports.get('tcp')!);
    c.sock.write('X\r\nl:0\r\n\r\n'.repeat(50_000));
    await c.closed;
    const good = await client(x.ports.get('tcp')!);
    good.sock.write(optionsRequest(1, 5070));
    expect(await fetchMetricWhen(x, 'x_core_rcv_requests_total', (v) => v === 1)).toBe(1);
    expect(await fetchMetricWhen(x, 'x_tcp_proto_errors_total', (v) => v === 1)).toBe(1);
    await stopped(x);
    expect(x.lines.filter((l) => /route .* failed/.test(l.msg))).toEqual([]);
    expect(x.stdout().length).toBeLessThan(64 * 1024);
  });
});

describe('closes are visible (issue 13, item 7)', () => {
  it('each close is logged with its reason at its level and counted in x_conn_closes_total{proto,reason}', async () => {
    const { x } = await start(BASE.replace('log_level = 3', 'log_level = 4'), 'export function request() {}\n');
    const port = x.ports.get('tcp')!;
    const bad = await client(port);
    bad.sock.write('X\r\nl:0\r\n\r\n');
    await bad.closed;
    const eof = await client(port);
    eof.sock.end();
    await eof.closed;
    const pe = 'x_conn_closes_total\\{proto="tcp",reason="protocol_error"\\}';
    expect(await fetchMetricWhen(x, pe, (v) => v === 1)).toBe(1);
    expect(await fetchMetricWhen(x, 'x_conn_closes_total\\{proto="tcp",reason="eof"\\}', (v) => v === 1)).toBe(1);
    await stopped(x);
    const closes = x.lines.filter((l) => /^connection closed: /.test(l.msg));
    expect(closes.find((l) => l.reason === 'protocol_error')).toMatchObject({ level: 40, msg: 'connection closed: Protocol error', proto: 'tcp' });
    expect(closes.find((l) => l.reason === 'eof')).toMatchObject({ level: 20, msg: 'connection closed: EOF received' });
  });
});

describe('MI is not open to any local web page (issue 13, item 4)', () => {
  it('text/plain or a foreign Origin cannot run kill; the bearer token of mi_http auth_token is required and x-cli sends it', async () => {
    const { x } = await start(`${BASE}modparam("mi_http", "auth_token", "t0ken-e2e")\nmodparam("httpd", "conn_timeout", 2)\n`, 'export function request() {}\n');
    const kill = JSON.stringify({ jsonrpc: '2.0', method: 'kill', id: 1 });
    const auth = { authorization: 'Bearer t0ken-e2e' };
    expect((await fetch(x.miUrl, { method: 'POST', body: kill, headers: { 'content-type': 'text/plain', ...auth } })).status).toBe(415);
    expect((await fetch(x.miUrl, { method: 'POST', body: kill, headers: { 'content-type': 'application/json', origin: 'http://evil.example', ...auth } })).status).toBe(403);
    expect((await fetch(x.miUrl, { method: 'POST', body: kill, headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect((await xcli(['--url', x.miUrl, 'mi', 'uptime'])).stderr).toMatch(/needs a bearer token/);
    const ok = await xcli(['--url', x.miUrl, 'mi', 'uptime'], { X_MI_TOKEN: 't0ken-e2e' });
    expect(ok.code, ok.stderr).toBe(0);
    expect(x.child.exitCode).toBe(null); // still running: kill never ran
    const metrics = await (await fetch(`${x.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^x_httpd_refused_content_type_total 1$/m);
    expect(metrics).toMatch(/^x_httpd_refused_origin_total 1$/m);
    expect(metrics).toMatch(/^x_httpd_refused_auth_total 2$/m);
    await stopped(x);
    expect(x.lines.filter((l) => /MI request refused/.test(l.msg)).length).toBe(4);
  });
});

describe('x-server -c catches what start-up would fail on (issue 13, item 9)', () => {
  const check = async (cfg: string, files: Record<string, string> = {}) => {
    const dir = tempDir();
    writeFiles(dir, { 'x.cfg': cfg, ...files });
    return { ...(await xcheck(join(dir, 'x.cfg'))), dir };
  };
  const TCP = 'loadmodule "proto_tcp.so"\nloadmodule "proto_hep.so"\n';

  it('a duplicate socket, and two sockets on one TCP port', async () => {
    const dup = await check(`socket = tcp:127.0.0.1:5070\nsocket = hep_udp:127.0.0.1:5070\nsocket = tcp:127.0.0.1:5070\n${TCP}`);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/x\.cfg:3:10: duplicate socket tcp:127\.0\.0\.1:5070: already declared at .*x\.cfg:1:1/);
    const clash = await check(`socket = tcp:*:5071\nsocket = hep_tcp:127.0.0.1:5071\n${TCP}`);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/x\.cfg:2:10: socket hep_tcp:127\.0\.0\.1:5071 conflicts with tcp:\*:5071 .*both need TCP port 5071/);
    // hep_udp and hep_tcp on one port are fine (UDP and TCP), as in the default config
    expect((await check(`socket = hep_udp:127.0.0.1:5072\nsocket = hep_tcp:127.0.0.1:5072\n${TCP}`)).code).toBe(0);
  });

  it('tcp:999.1.1.1 is not an address', async () => {
    const r = await check(`socket = tcp:999.1.1.1:5060\n${TCP}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x\.cfg:1:14: .*"999\.1\.1\.1" is not a valid IPv4 address/);
  });

  it('include_file of /dev/zero, a directory or a file over 1 MiB is refused at once', async () => {
    for (const [target, why] of [['/dev/zero', /not a regular file \(a character device\)/], ['.', /not a regular file \(a directory\)/], ['big.cfg', /over the 1048576-byte limit/]] as const) {
      const r = await check(`include_file "${target}"\n`, { 'big.cfg': `# ${'x'.repeat(2 << 20)}\n` });
      expect(r.code, target).toBe(1);
      expect(r.stderr, target).toMatch(why);
      expect(r.stderr.length).toBeLessThan(2000);
    }
    const main = await xcheck('/dev/zero');
    expect([main.code, main.stderr]).toEqual([1, expect.stringMatching(/not a regular file/)]);
  });

  it('a huge string (300 KB) is clipped in the error message', async () => {
    const huge = 'z'.repeat(300_000); // a 5 MB cfg is refused whole by the 1 MiB cap
    for (const cfg of [`${TCP}modparam("proto_tcp", "tcp_port", "${huge}")\n`, `${huge} = 1\n`, `socket = tcp:${huge}\n${TCP}`, `loadmodule "${huge}"\n`]) {
      const r = await check(cfg);
      expect(r.code).toBe(1);
      expect(r.stderr.length, r.stderr.slice(0, 300)).toBeLessThan(4000);
      expect(r.stderr).toMatch(/characters\)/);
    }
  });
});

/** Polls /metrics until `ok(value)` (bounded: 15 s), returns the last value read. */
export async function fetchMetricWhen(x: Running, name: string, ok: (v: number | undefined) => boolean): Promise<number | undefined> {
  const end = Date.now() + 15_000;
  let v: number | undefined;
  for (;;) {
    const text = await (await fetch(`${x.baseUrl}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    v = m ? Number(m[1]) : undefined;
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
