import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { LogLimiter, type Logger } from '@x/core-conn';
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
  /** mi_http auth_token: when set, MI requests need `Authorization: Bearer <token>` (else 401) */
  authToken?: string;
  /** httpd conn_timeout, ms: a request (headers and body) must arrive within it, else 408 and closed (default 10000) */
  requestTimeoutMs?: number;
  /** httpd max_connections: connections past it are closed at accept (default 64) */
  maxConnections?: number;
  /** MI body limit, bytes (default 1 MiB): larger bodies are answered 413 */
  maxBodyBytes?: number;
  /** refusals (403/401/415/413, connections over the cap) are logged here, rate-limited */
  logger?: Logger;
  /** called for each refused request or connection, with the reason (metrics) */
  onRefused?: (reason: HttpRefusal) => void;
}

/** Why httpd refused a request or a connection. */
export type HttpRefusal = 'host' | 'origin' | 'auth' | 'content_type' | 'too_large' | 'timeout' | 'max_connections';

export interface Httpd {
  readonly server: Server;
  readonly address: { host: string; port: number };
  url(path: string): string;
  close(): Promise<void>;
}

export const MI_MAX_BODY_BYTES = 1 << 20;
export const HTTPD_REQUEST_TIMEOUT_MS = 10_000;
export const HTTPD_MAX_CONNECTIONS = 64;

function send(res: ServerResponse, status: number, body: string, type = 'application/json', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/**
 * The body, or null past `max` bytes. Past the limit the rest is read and discarded (not
 * destroyed: the client must get its 413, not a reset), bounded by conn_timeout.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        parts.length = 0;
        resolve(null);
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(parts).toString('utf8'));
    });
    req.on('error', reject);
  });
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** true for an address only this machine can reach */
export function isLoopback(ip: string): boolean {
  return LOOPBACK.test(ip);
}

/** `host[:port]` of a Host header or an origin, host lower-cased and unbracketed; null when unparsable */
function splitHostPort(v: string): { host: string; port: number | null } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(v.trim());
  if (!m) return null;
  return { host: (m[1] ?? m[2]!).toLowerCase(), port: m[3] === undefined ? null : Number(m[3]) };
}

/**
 * The names this listener answers to (DNS-rebinding guard): its own address, `localhost` for a
 * loopback or wildcard bind, any IP literal for a wildcard bind; and its own port.
 */
function hostAllowed(hostHeader: string | undefined, bound: { host: string; port: number }): boolean {
  if (hostHeader === undefined) return false;
  const hp = splitHostPort(hostHeader);
  if (!hp || (hp.port ?? 80) !== bound.port) return false;
  const wildcard = bound.host === '0.0.0.0' || bound.host === '::';
  if (hp.host === 'localhost') return wildcard || isLoopback(bound.host);
  if (!isIP(hp.host)) return false;
  return wildcard || hp.host === bound.host.toLowerCase();
}

function tokenOk(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The httpd module: MI (mi_http) at /<root>, Prometheus at /metrics, liveness at /health. */
export async function startHttpd(o: HttpdOptions): Promise<Httpd> {
  const miPath = o.miRoot === undefined ? undefined : `/${o.miRoot}`;
  const maxBody = o.maxBodyBytes ?? MI_MAX_BODY_BYTES;
  const timeoutMs = o.requestTimeoutMs ?? HTTPD_REQUEST_TIMEOUT_MS;
  const limiter = new LogLimiter((key, n) => o.logger?.warn({ suppressed: n, key }, `${n} similar log lines suppressed (rate limit)`));
  let bound = { host: o.ip, port: o.port };
  const refuse = (res: ServerResponse, req: IncomingMessage, status: number, reason: HttpRefusal, text: string, extra: Record<string, string> = {}): void => {
    o.onRefused?.(reason);
    const source = req.socket?.remoteAddress;
    if (limiter.allow(`${reason}|${source ?? '-'}`)) o.logger?.warn({ source, reason, status, host: req.headers.host, origin: req.headers.origin }, `httpd: MI request refused: ${text}`);
    send(res, status, JSON.stringify({ error: text }), 'application/json', extra);
  };
  const server = createServer({ requestTimeout: timeoutMs, headersTimeout: timeoutMs, keepAliveTimeout: 5000, connectionsCheckingInterval: Math.min(1000, timeoutMs) }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    void (async () => {
      if (miPath !== undefined && (path === miPath || path === `${miPath}/`)) {
        if (req.method !== 'POST') return send(res, 405, '', 'text/plain', { allow: 'POST' });
        // a web page the operator visits must not reach MI: same host and origin only
        if (!hostAllowed(req.headers.host, bound)) return refuse(res, req, 403, 'host', `Host ${JSON.stringify(req.headers.host ?? '')} is not this listener`);
        const origin = req.headers.origin;
        if (origin !== undefined && origin !== `http://${req.headers.host}`) return refuse(res, req, 403, 'origin', `Origin ${JSON.stringify(origin)} is not this listener`);
        if (o.authToken !== undefined && o.authToken !== '' && !tokenOk(req.headers.authorization, o.authToken)) {
          return refuse(res, req, 401, 'auth', 'a bearer token is required (mi_http auth_token)', { 'www-authenticate': 'Bearer realm="mi"' });
        }
        const declared = Number(req.headers['content-length'] ?? NaN);
        if (declared > maxBody) return refuse(res, req, 413, 'too_large', `body of ${declared} bytes is over the ${maxBody}-byte limit`);
        const body = await readBody(req, maxBody);
        if (body === null) return refuse(res, req, 413, 'too_large', `body over the ${maxBody}-byte limit`);
        if (body.trim() === '') return send(res, 400, '', 'text/plain');
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json') return refuse(res, req, 415, 'content_type', `Content-Type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`);
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
  server.maxConnections = o.maxConnections ?? HTTPD_MAX_CONNECTIONS;
  server.on('drop', (d?: { remoteAddress?: string }) => {
    o.onRefused?.('max_connections');
    if (limiter.allow(`max_connections|${d?.remoteAddress ?? '-'}`)) o.logger?.warn({ source: d?.remoteAddress, maxConnections: server.maxConnections }, `httpd: connection refused, ${server.maxConnections} connections open (httpd max_connections)`);
  });
  // Node answers 408 and closes a request not received in time (slowloris on MI)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    if (timedOut) {
      o.onRefused?.('timeout');
      if (limiter.allow(`timeout|${socket.remoteAddress ?? '-'}`)) o.logger?.warn({ source: socket.remoteAddress, timeoutMs }, `httpd: request not received within ${timeoutMs} ms (httpd conn_timeout); closed`);
    }
    if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${timedOut ? '408 Request Timeout' : '400 Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
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
  bound = address;
  const hostPart = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    server,
    address,
    url: (p) => `http://${hostPart}:${address.port}${p}`,
    close: () =>
      new Promise<void>((resolve) => {
        limiter.close();
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      }),
  };
}
