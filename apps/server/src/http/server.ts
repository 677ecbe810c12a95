import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleRpc } from '../mi/jsonrpc.js';
import type { MiRegistry } from '../mi/registry.js';
import type { Metrics } from '../runtime/metrics.js';

export interface HttpdOptions {
  ip: string;
  port: number;
  /** mi_http root path without slashes; undefined = no MI endpoint */
  miRoot?: string;
  registry: MiRegistry;
  metrics: Metrics;
  /** false once shutdown started: /health answers 503 */
  healthy(): boolean;
}

export interface Httpd {
  readonly server: Server;
  readonly address: { host: string; port: number };
  url(path: string): string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

function send(res: ServerResponse, status: number, body: string, type = 'application/json', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The httpd module: MI (mi_http) at /<root>, Prometheus at /metrics, liveness at /health. */
export async function startHttpd(o: HttpdOptions): Promise<Httpd> {
  const miPath = o.miRoot === undefined ? undefined : `/${o.miRoot}`;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    void (async () => {
      if (miPath !== undefined && (path === miPath || path === `${miPath}/`)) {
        if (req.method !== 'POST') return send(res, 405, '', 'text/plain', { allow: 'POST' });
        const body = await readBody(req);
        if (body === null) return send(res, 413, '', 'text/plain');
        if (body.trim() === '') return send(res, 400, '', 'text/plain');
        const r = await handleRpc(o.registry, body);
        return r.status === 202 ? send(res, 202, '', 'text/plain') : send(res, r.status, r.body);
      }
      if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
        return send(res, 200, await o.metrics.render(), o.metrics.contentType);
      }
      if (path === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
        const ok = o.healthy();
        return send(res, ok ? 200 : 503, JSON.stringify({ status: ok ? 'ok' : 'shutting down' }));
      }
      send(res, 404, '', 'text/plain');
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: (err as Error).message }));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.ip, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const address = { host: a.address, port: a.port };
  const hostPart = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    server,
    address,
    url: (p) => `http://${hostPart}:${address.port}${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}
