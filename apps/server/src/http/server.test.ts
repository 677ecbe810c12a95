import { connect, type Socket } from 'node:net';
import { createStatsRegistry } from '@x/core-conn';
import { afterEach, describe, expect, it } from 'vitest';
import { MiRegistry } from '../mi/registry.js';
import { createMetrics } from '../runtime/metrics.js';
import { isLoopback, startHttpd, type Httpd, type HttpdOptions, type HttpRefusal } from './server.js';

const open: Httpd[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

let ran: string[] = [];
let refusals: HttpRefusal[] = [];
async function httpd(healthy = true, miRoot: string | null = 'mi', extra: Partial<HttpdOptions> = {}): Promise<Httpd> {
  const registry = new MiRegistry();
  ran = [];
  refusals = [];
  registry.add({ name: 'core:echo', recipes: [['a']], handler: (p) => p.a });
  registry.add({ name: 'core:kill', recipes: [[]], handler: () => void ran.push('kill') });
  const h = await startHttpd({ ip: '127.0.0.1', port: 0, ...(miRoot === null ? {} : { miRoot }), registry, metrics: createMetrics(createStatsRegistry()), healthy: () => healthy, onRefused: (r) => refusals.push(r), ...extra });
  open.push(h);
  return h;
}

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** A raw HTTP client: what it received, and a promise of its close. */
async function raw(h: Httpd): Promise<{ sock: Socket; text: () => string; closed: Promise<void>; got: (re: RegExp) => Promise<void> }> {
  const sock = connect(h.address.port, '127.0.0.1');
  sockets.push(sock);
  let text = '';
  const waiters: Array<() => void> = [];
  sock.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise((r) => sock.once('connect', r));
  const got = async (re: RegExp): Promise<void> => {
    while (!re.test(text)) {
      await Promise.race([new Promise<void>((r) => waiters.push(r)), closed]);
      if (sock.destroyed && !re.test(text)) throw new Error(`closed without ${String(re)}; got ${JSON.stringify(text.slice(0, 400))}`);
    }
  };
  return { sock, text: () => text, closed, got };
}

const KILL = '{"jsonrpc":"2.0","method":"kill","id":1}';

describe('httpd', () => {
  it('routes MI, metrics, health; rejects other methods, paths, empty and oversized bodies', async () => {
    const h = await httpd();
    const post = (body: string, path = '/mi') => fetch(h.url(path), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const ok = await post('{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}');
    expect([ok.status, ok.headers.get('content-type'), await ok.json()]).toEqual([200, 'application/json', { jsonrpc: '2.0', result: 'x', id: 1 }]);
    expect((await post('{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}', '/mi/')).status).toBe(200);
    expect((await fetch(h.url('/mi'))).status).toBe(405);
    expect((await fetch(h.url('/mi'), { method: 'PUT', body: '{}' })).headers.get('allow')).toBe('POST');
    expect((await post('  \n')).status).toBe(400);
    expect((await post(`"${'a'.repeat(1_100_000)}"`)).status).toBe(413);
    expect((await post('{}', '/other')).status).toBe(404);
    const m = await fetch(h.url('/metrics'));
    expect([m.status, m.headers.get('content-type')]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    expect(await (await fetch(h.url('/health'))).json()).toEqual({ status: 'ok' });
  });

  it('health is 503 while shutting down; no MI endpoint without mi_http', async () => {
    const h = await httpd(false, null);
    expect((await fetch(h.url('/health'))).status).toBe(503);
    expect((await fetch(h.url('/mi'), { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('MI refuses what a web page could send: text/plain, a foreign Origin or Host; the command never runs', async () => {
    const h = await httpd();
    const port = h.address.port;
    const post = (headers: Record<string, string>) => fetch(h.url('/mi'), { method: 'POST', body: KILL, headers });
    expect((await post({ 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post({})).status).toBe(415); // fetch's default for a string body is text/plain
    expect((await post({ 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
    expect((await post({ 'content-type': 'application/json', origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', origin: 'null' })).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', origin: `http://127.0.0.1:${port + 1}` })).status).toBe(403);
    // DNS rebinding: the page's own name in Host
    const c = await raw(h);
    c.sock.write(`POST /mi HTTP/1.1\r\nHost: evil.example:${port}\r\nContent-Type: application/json\r\nContent-Length: ${KILL.length}\r\n\r\n${KILL}`);
    await c.got(/^HTTP\/1\.1 403 /);
    expect(ran).toEqual([]);
    expect(refusals).toEqual(['content_type', 'content_type', 'content_type', 'origin', 'origin', 'origin', 'host']);
    // the listener's own origin and host, application/json (charset allowed), localhost: run
    expect((await post({ 'content-type': 'application/json; charset=utf-8', origin: `http://127.0.0.1:${port}` })).status).toBe(200);
    const l = await raw(h);
    l.sock.write(`POST /mi HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\nContent-Length: ${KILL.length}\r\n\r\n${KILL}`);
    await l.got(/^HTTP\/1\.1 200 /);
    expect(ran).toEqual(['kill', 'kill']);
  });

  it('mi_http auth_token: 401 without the bearer token or with a wrong one', async () => {
    const h = await httpd(true, 'mi', { authToken: 's3cret-token' });
    const post = (auth?: string) => fetch(h.url('/mi'), { method: 'POST', body: KILL, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
    const none = await post();
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="mi"']);
    expect((await post('Bearer wrong')).status).toBe(401);
    expect((await post('Bearer s3cret-tokeX')).status).toBe(401);
    expect((await post('Basic czNjcmV0LXRva2Vu')).status).toBe(401);
    expect(ran).toEqual([]);
    expect((await post('Bearer s3cret-token')).status).toBe(200);
    expect(ran).toEqual(['kill']);
    expect((await fetch(h.url('/health'))).status).toBe(200); // health and metrics stay open
  });

  it('a body over the limit is answered 413 (declared or streamed), not reset', async () => {
    const h = await httpd(true, 'mi', { maxBodyBytes: 1000 });
    const port = h.address.port;
    const declared = await raw(h);
    declared.sock.write(`POST /mi HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n`);
    await declared.got(/^HTTP\/1\.1 413 /);
    const chunked = await raw(h);
    chunked.sock.write(`POST /mi HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (let i = 0; i < 3; i++) chunked.sock.write(`190\r\n${'a'.repeat(400)}\r\n`);
    await chunked.got(/^HTTP\/1\.1 413 /);
    expect(refusals).toEqual(['too_large', 'too_large']);
  });

  it('a slow body times out in conn_timeout (408, closed), not 300 s', async () => {
    const h = await httpd(true, 'mi', { requestTimeoutMs: 1000 });
    const c = await raw(h);
    c.sock.write(`POST /mi HTTP/1.1\r\nHost: 127.0.0.1:${h.address.port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    const t0 = Date.now();
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(30_000); // Node's default would be 300 s
    expect(refusals).toContain('timeout');
  });

  it('max_connections: a connection past the cap is closed at accept; the others keep working', async () => {
    const h = await httpd(true, 'mi', { maxConnections: 2 });
    const a = await raw(h);
    const b = await raw(h);
    await new Promise((r) => setTimeout(r, 50));
    const c = await raw(h);
    await c.closed;
    expect(refusals).toEqual(['max_connections']);
    a.sock.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${h.address.port}\r\n\r\n`);
    await a.got(/^HTTP\/1\.1 200 /);
    expect(b.sock.destroyed).toBe(false);
  });

  it('isLoopback: what a non-loopback bind warning is based on', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(ip), ip).toBe(true);
    for (const ip of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopback(ip), ip).toBe(false);
  });
});
