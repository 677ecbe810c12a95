import type { StatsRegistry } from '@x/core-conn';
import { CfgError, CfgErrorCodes } from '../errors.js';
import { isLoopback, startHttpd, type Httpd } from '../http/server.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { MiRegistry } from '../mi/registry.js';
import type { ServerLogger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface CfgHttpdOptions {
  /** the MI commands served (httpd:list_root_path is added to it) */
  registry: MiRegistry;
  metrics: Metrics;
  /** what /health answers */
  healthy: () => boolean;
  /** where httpd's refused_* counters live */
  stats: Pick<StatsRegistry, 'counter'>;
  log: ServerLogger;
}

/**
 * httpd as the cfg asks for it (the httpd and mi_http modparams): MI, /metrics and /health on one
 * port, its MI command `httpd:list_root_path`, and a warning when it is reachable from other
 * machines. A port it cannot listen on is a CfgError at the httpd setting. One place for the
 * single-process server and the primary of a multi-worker one.
 */
export async function startCfgHttpd(cfg: ResolvedConfig, httpd: NonNullable<ResolvedConfig['httpd']>, o: CfgHttpdOptions): Promise<Httpd> {
  const hp = cfg.modules.find((m) => m.loaded.name === 'httpd')?.params ?? {};
  const tokenParam = cfg.modules.find((m) => m.loaded.name === 'mi_http')?.params.auth_token;
  const token = typeof tokenParam === 'string' ? tokenParam : '';
  const refused = (reason: string) => o.stats.counter('httpd', `refused_${reason}`, `HTTP requests or connections refused: ${reason.replace('_', ' ')}`);
  let http: Httpd;
  try {
    http = await startHttpd({
      ip: httpd.ip, port: httpd.port, ...(cfg.mi ? { miRoot: cfg.mi.root } : {}), registry: o.registry, metrics: o.metrics, healthy: o.healthy,
      ...(token !== '' ? { authToken: token } : {}),
      requestTimeoutMs: Number(hp.conn_timeout ?? 10) * 1000,
      maxConnections: Number(hp.max_connections ?? 64),
      logger: o.log.child({ module: 'httpd' }),
      onRefused: (reason) => refused(reason).inc(),
    });
  } catch (err) {
    const host = httpd.ip.includes(':') ? `[${httpd.ip}]` : httpd.ip;
    throw new CfgError(CfgErrorCodes.BAD_SOCKET, httpd.where, `httpd cannot listen on ${host}:${httpd.port}: ${(err as Error).message} (set modparam("httpd", "ip" | "port", ...))`, { cause: err });
  }
  // httpd's MI command: the root paths served (mi_http's, when loaded)
  const roots = cfg.mi ? [{ http_root: cfg.mi.root, module: 'mi_http' }] : [];
  o.registry.add({ name: 'httpd:list_root_path', aliases: ['httpd_list_root_path'], recipes: [[]], doc: 'lists all the registered http root paths', handler: () => roots });
  if (!isLoopback(http.address.host)) {
    o.log.root.warn(
      { address: http.address.host, auth: token !== '' },
      `httpd listens on ${http.address.host}, reachable from other machines: MI can stop the server and close connections${token !== '' ? '' : ' and has NO authentication (set modparam("mi_http", "auth_token", ...))'}; bind it to 127.0.0.1 unless this is intended`,
    );
  }
  return http;
}
