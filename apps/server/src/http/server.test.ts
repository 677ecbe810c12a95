import { createStatsRegistry } from '@x/core-conn';
import { afterEach, describe, expect, it } from 'vitest';
import { MiRegistry } from '../mi/registry.js';
import { createMetrics } from '../runtime/metrics.js';
import { startHttpd, type Httpd } from './server.js';

const open: Httpd[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

async function httpd(healthy = true, miRoot: string | null = 'mi'): Promise<Httpd> {
  const registry = new MiRegistry();
  registry.add({ name: 'core:echo', recipes: [['a']], handler: (p) => p.a });
  const h = await startHttpd({ ip: '127.0.0.1', port: 0, ...(miRoot === null ? {} : { miRoot }), registry, metrics: createMetrics(createStatsRegistry()), healthy: () => healthy });
  open.push(h);
  return h;
}

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
});
