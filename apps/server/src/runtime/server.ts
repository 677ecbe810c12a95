import { ConfigError, createEngine, ErrorCodes, type EngineOptions, profileFromGlobals, createStatsRegistry, rateLimitedLogger, type Engine, type LogLimiter, type ListenerInfo, type ModuleInstance, type StatsRegistry, type TraceSink, type TraceSinkRegistry } from '@x/core-conn';
import { dirname } from 'node:path';
import type { DestinationStream } from 'pino';
import { CfgError, CfgErrorCodes, formatWhere } from '../errors.js';
import { loadConfig, type ConfigSource } from '../config/load.js';
import type { PackageImporter } from '../config/catalog.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Httpd } from '../http/server.js';
import { coreCommands } from '../mi/core-commands.js';
import { MiRegistry } from '../mi/registry.js';
import { REVISION, VERSION } from '../version.js';
import { startCfgHttpd } from './httpd.js';
import { createServerLogger, pinoLevelOf, type ServerLogger } from './logger.js';
import { applyOpenFilesLimit, planDescriptors } from './limits.js';
import { createMetrics } from './metrics.js';
import { loadRouteScript, type RouteTable } from './routes.js';
import { coreStats, RouteRunner, splitHeaderLine } from './wiring.js';

export interface StartOptions extends ConfigSource {
  /** pino-pretty output instead of JSON lines */
  pretty?: boolean;
  /** log destination (default stdout) */
  logDestination?: DestinationStream;
  /** resolves a module package (tests inject descriptors) */
  importer?: PackageImporter;
  /** called once the server stopped because of MI kill */
  onKill?: () => void;
  /**
   * Set in a worker process of a multi-worker x-server: the engine's id shard and relay, a
   * hook that sees the engine before any socket opens; httpd (MI, metrics) is the primary's.
   */
  worker?: {
    index: number;
    engine: Pick<EngineOptions, 'connectionIdShard' | 'relay'>;
    onEngine?: (engine: Engine) => void;
  };
}

export interface ReloadResult {
  Reloaded: string[];
  log_level: number;
  route_script?: string;
  routes?: string[];
}

export interface XServer {
  readonly config: ResolvedConfig;
  readonly engine: Engine;
  readonly stats: StatsRegistry;
  readonly logger: ServerLogger;
  readonly mi: MiRegistry;
  readonly listeners: ListenerInfo[];
  /** set when httpd is loaded */
  readonly http: Httpd | undefined;
  /** re-reads the cfg file; applies log_level and the route script (nothing else is safe to change live) */
  reload(): Promise<ReloadResult>;
  /** stop accepting, flush write queues up to the deadline, destroy modules in reverse order, close */
  stop(opts?: { deadlineMs?: number }): Promise<void>;
}

function traceSinkRegistry(): TraceSinkRegistry {
  // the packet type is the business of the module that registers a sink and the one that sends to it
  const sinks = new Map<string, TraceSink<never>>();
  return {
    register(s) {
      if (sinks.has(s.name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `trace destination "${s.name}" registered twice`);
      sinks.set(s.name, s);
    },
    get: <P,>(n: string) => sinks.get(n) as TraceSink<P> | undefined,
    names: () => [...sinks.keys()],
  };
}

/** loadmodule order, moved so that every module comes after what it depends on */
function initOrder(cfg: ResolvedConfig): ResolvedConfig['modules'] {
  const out: ResolvedConfig['modules'] = [];
  const seen = new Set<string>();
  const byName = new Map(cfg.modules.map((m) => [m.loaded.name, m]));
  const visit = (m: ResolvedConfig['modules'][number], stack: string[]): void => {
    if (seen.has(m.loaded.name)) return;
    if (stack.includes(m.loaded.name)) throw new CfgError(CfgErrorCodes.DEPENDENCY, m.where, `dependency cycle: ${[...stack, m.loaded.name].join(' -> ')}`);
    const deps = m.loaded.kind === 'package' ? (m.loaded.module.dependsOn ?? []) : [];
    for (const d of deps) {
      const dm = byName.get(d);
      if (dm) visit(dm, [...stack, m.loaded.name]);
    }
    seen.add(m.loaded.name);
    out.push(m);
  };
  for (const m of cfg.modules) visit(m, []);
  return out;
}

async function routesFor(cfg: ResolvedConfig): Promise<RouteTable> {
  if (cfg.routeScript === undefined) {
    const ref = cfg.routeRefs[0];
    if (ref) throw new CfgError(CfgErrorCodes.BAD_VALUE, ref.where, `${ref.module}: parameter "${ref.param}" names route "${ref.route}", but no route_script = "..." is set`);
    return {};
  }
  let table: RouteTable;
  try {
    table = await loadRouteScript(cfg.routeScript);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[mc]?ts$/i.test(cfg.routeScript)) {
      throw new CfgError(
        CfgErrorCodes.FILE,
        cfg.routeScriptWhere,
        `route_script "${cfg.routeScript}" is TypeScript, which Node ${process.version} cannot import: run x-server on a Node that strips types (>= 22.18 or >= 23.6), or compile the script to .mjs (its context types: import type { SipRequestContext } from '@x/server')`,
        { cause: err },
      );
    }
    throw new CfgError(CfgErrorCodes.FILE, cfg.routeScriptWhere, `route_script "${cfg.routeScript}" cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  for (const ref of cfg.routeRefs) {
    if (typeof table[ref.route] !== 'function') {
      throw new CfgError(CfgErrorCodes.BAD_VALUE, ref.where, `${ref.module}: parameter "${ref.param}" names route "${ref.route}", which the route script does not export (exports: ${Object.keys(table).join(', ') || 'none'})`);
    }
  }
  return table;
}

/** Parses and checks a configuration the way `x-server -c` does: modules resolved and validated, route script imported. Nothing is opened. */
export async function checkConfig(src: ConfigSource, opts: { importer?: PackageImporter } = {}): Promise<ResolvedConfig> {
  const cfg = await loadConfig(src, opts.importer ? { importer: opts.importer } : {});
  initOrder(cfg); // dependency cycles
  await routesFor(cfg);
  return cfg;
}

/** Starts a server from a cfg file or text. Rejects with a CfgError (file:line:col) or the error that stopped start-up. */
export async function startServer(opts: StartOptions): Promise<XServer> {
  const startedAt = Date.now();
  const cfg = await loadConfig(opts, opts.importer ? { importer: opts.importer } : {});
  const log = createServerLogger({ logLevel: cfg.globals.log_level, ...(opts.pretty ? { pretty: true } : {}), ...(opts.logDestination ? { destination: opts.logDestination } : {}) });
  const root = log.root;
  for (const n of cfg.notes) root.info(n);
  for (const w of cfg.warnings) root.warn(w);
  let routes = await routesFor(cfg);

  const stats = createStatsRegistry();
  const core = coreStats(stats, startedAt);
  const g = cfg.globals;
  if (g.open_files_limit !== undefined) {
    const r = applyOpenFilesLimit(g.open_files_limit);
    if (r.ok) root.info(`open_files_limit: RLIMIT_NOFILE is ${r.soft} (hard ${r.hard})`);
    else root.warn(`open_files_limit: cannot raise RLIMIT_NOFILE to ${g.open_files_limit}: ${r.error}`);
  }
  // tcp_max_connections against the open-files limit, with descriptors kept for MI, metrics, logs
  const httpParams = cfg.modules.find((m) => m.loaded.name === 'httpd')?.params ?? {};
  const fds = planDescriptors({ maxConnections: g.tcp_max_connections, sockets: cfg.sockets.length, httpConnections: cfg.httpd ? Number(httpParams.max_connections ?? 64) : 0 });
  if (fds.raisedFrom !== undefined) root.info({ from: fds.raisedFrom, soft: fds.soft, hard: fds.hard }, `open files: soft limit raised from ${fds.raisedFrom} to ${fds.soft} (hard ${fds.hard})`);
  if (fds.maxConnections < fds.requested) {
    root.warn(
      { tcp_max_connections: fds.requested, effective: fds.maxConnections, soft: fds.soft, hard: fds.hard, reserve: fds.reserve, ...(fds.raiseError !== undefined ? { raiseError: fds.raiseError } : {}) },
      `tcp_max_connections ${fds.requested} cannot be honoured: the open-files limit is ${fds.soft} (hard ${fds.hard}) and ${fds.reserve} descriptors are kept for listeners, MI/metrics/health, logs and outbound work; at most ${fds.maxConnections} connections (raise the hard limit: ulimit -Hn, systemd LimitNOFILE=, or open_files_limit as root)`,
    );
  } else if (fds.soft !== undefined) {
    root.info({ soft: fds.soft, hard: fds.hard, reserve: fds.reserve }, `open files: limit ${fds.soft}, tcp_max_connections ${fds.requested} fits with ${fds.reserve} descriptors in reserve`);
  }
  const engine = createEngine({
    // the core's tcp_* globals, through core-conn's one mapping of OpenSIPS's profile fields
    defaultProfile: profileFromGlobals(g),
    maxConnections: fds.maxConnections,
    maxConnectionsPerIp: g.tcp_max_connections_per_ip,
    socketBacklog: g.tcp_socket_backlog,
    tlsDomains: cfg.tlsDomains,
    logger: log.child({ module: 'core' }),
    stats,
    ...opts.worker?.engine,
  });
  opts.worker?.onEngine?.(engine);
  for (const { spec } of cfg.protocols.values()) engine.registerProtocol(spec);
  core.addLoadGroup();

  // What a peer can make us log (a route script that throws, a module's error/warn lines) is
  // rate-limited per source address and message: one hostile peer cannot flood the log.
  const limiters: LogLimiter[] = [];
  const limited = (bindings: Record<string, unknown>): ReturnType<typeof rateLimitedLogger> => {
    const l = rateLimitedLogger(log.child(bindings));
    limiters.push(l.limiter);
    return l;
  };
  // the route script's logger (ctx.log) is xlog's: its level is xlog_level, independent of log_level
  const routeLog = root.child({ module: 'route' });
  let xlogLevel = g.xlog_level;
  routeLog.level = pinoLevelOf(xlogLevel);
  const routeLimited = rateLimitedLogger(routeLog);
  limiters.push(routeLimited.limiter);
  const apis = new Map<string, unknown>();
  const runner = new RouteRunner(() => routes, routeLimited, core, apis);
  const traceSinks = traceSinkRegistry();
  const mi = new MiRegistry();
  const started: Array<{ name: string; instance: ModuleInstance }> = [];
  let http: Httpd | undefined;
  let stopping: Promise<void> | undefined;
  let healthy = true;

  const stop = (o: { deadlineMs?: number } = {}): Promise<void> =>
    (stopping ??= (async () => {
      healthy = false;
      const deadlineMs = o.deadlineMs ?? 5000;
      const t0 = Date.now();
      root.info({ inFlightRoutes: runner.inFlight }, 'shutting down: finishing running routes, then no new connections and write queues flushed');
      const closingHttp = http?.close();
      await runner.drain(deadlineMs);
      await engine.shutdown({ deadlineMs: Math.max(0, deadlineMs - (Date.now() - t0)) });
      core.stop();
      for (const s of [...started].reverse()) {
        try {
          await s.instance.destroy?.();
        } catch (err) {
          root.error({ err, module: s.name }, 'module destroy failed');
        }
      }
      await closingHttp;
      for (const l of limiters) l.close(); // the last "N similar log lines suppressed" lines
      root.info('stopped');
      await log.flush();
    })());

  const reload = async (): Promise<ReloadResult> => {
    const next = await loadConfig(opts, opts.importer ? { importer: opts.importer } : {});
    const nextRoutes = await routesFor(next);
    log.setLevel(next.globals.log_level);
    routes = nextRoutes;
    const out: ReloadResult = { Reloaded: ['log_level', 'route_script'], log_level: next.globals.log_level, routes: Object.keys(nextRoutes) };
    if (next.routeScript) out.route_script = next.routeScript;
    root.info(out, 'reloaded (sockets, modules and module params need a restart)');
    return out;
  };

  try {
    for (const c of coreCommands({
      engine, stats, registry: mi, version: VERSION, revision: REVISION, startedAt,
      getLogLevel: () => log.level(),
      setLogLevel: (l) => log.setLevel(l),
      getXlogLevel: () => xlogLevel,
      setXlogLevel: (l) => {
        xlogLevel = l;
        routeLog.level = pinoLevelOf(l);
      },
      kill: () => { void stop().then(() => opts.onKill?.()); },
      reload: async () => (await reload()) as unknown as Record<string, unknown>,
    })) mi.add(c);

    // what the core adds to every stateless SIP reply a route sends (server_header)
    const serverHeader = g.server_signature ? (g.server_header ?? `Server: x-server (${VERSION} (${process.arch}/${process.platform}))`) : undefined;
    const replyHeaders = serverHeader === undefined ? undefined : [splitHeaderLine(serverHeader)] as const;
    const loadedViews = cfg.modules.map((m) => m.view);
    for (const m of initOrder(cfg)) {
      if (m.loaded.kind !== 'package') continue;
      const mlog = limited({ module: m.loaded.name });
      let instance: ModuleInstance;
      try {
        instance = await m.loaded.module.init(
          {
            engine,
            logger: mlog,
            stats,
            routes: runner.callerFor(m.routes, stats, { replyHeaders }),
            hasRoute: (name) => runner.has(name),
            traceSinks,
            loaded: loadedViews,
            modules: apis,
            configDir: dirname(cfg.file),
          },
          m.params,
        );
      } catch (err) {
        throw new CfgError(CfgErrorCodes.DEPENDENCY, m.where, `module "${m.loaded.name}" failed to initialise: ${(err as Error).message}`, { cause: err });
      }
      apis.set(m.loaded.name, instance.api);
      started.push({ name: m.loaded.name, instance });
      for (const c of instance.mi ?? []) mi.add(c);
      mlog.debug({ params: m.params }, `module ${m.loaded.name} initialised`);
    }

    // the route script's ctx.trace(): served by a module instance that traces messages (@x/tracing's)
    const tracer = started.find((x) => typeof x.instance.traceMessage === 'function')?.instance;
    if (tracer) runner.tracer = (m, o) => tracer.traceMessage!(m, o);

    const listeners: ListenerInfo[] = [];
    for (const s of cfg.sockets) {
      try {
        const l = await engine.listen(s.spec);
        listeners.push(l);
        root.info({ proto: l.proto, address: l.address, tag: l.tag }, `listening on ${l.proto}:${l.address.host.includes(':') ? `[${l.address.host}]` : l.address.host}:${l.address.port}`);
      } catch (err) {
        throw new CfgError(CfgErrorCodes.BAD_SOCKET, s.where, `cannot listen on ${s.text}: ${(err as Error).message}`, { cause: err });
      }
    }

    // modules that check their sockets once bound (proto_hep: a udp hep_id needs a hep_udp socket to send from)
    for (const m of started) {
      try {
        await m.instance.listening?.(listeners);
      } catch (err) {
        const where = cfg.modules.find((e) => e.loaded.name === m.name)?.where;
        throw new CfgError(CfgErrorCodes.MISSING_SOCKET, where, `${m.name}: ${(err as Error).message}`, { cause: err });
      }
    }

    if (cfg.httpd && !opts.worker) {
      const metrics = createMetrics(stats, { closes: () => engine.closeCounts() });
      http = await startCfgHttpd(cfg, cfg.httpd, { registry: mi, metrics, healthy: () => healthy, stats, log });
      if (cfg.mi) root.info({ url: http.url(`/${cfg.mi.root}`) }, `MI (JSON-RPC 2.0) listening on ${http.url(`/${cfg.mi.root}`)}`);
      root.info({ url: http.url('/metrics') }, `metrics on ${http.url('/metrics')}, health on ${http.url('/health')}`);
    }
    if (opts.worker) root.info({ worker: opts.worker.index, pid: process.pid }, `x-server worker ${opts.worker.index} started`);
    else root.info({ version: VERSION, file: cfg.file, modules: cfg.modules.map((m) => m.loaded.name) }, 'x-server started');

    return {
      config: cfg, engine, stats, logger: log, mi, listeners,
      get http() { return http; },
      reload,
      stop,
    };
  } catch (err) {
    await stop({ deadlineMs: 0 }).catch(() => {});
    throw err;
  }
}

export { formatWhere };
