import type { Logger, Stat, StatsRegistry } from '@x/core-conn';
import type { SipMessage } from '@x/proto-tcp';
import type { HepReceived } from '@x/proto-hep';
import { makeContext, type RouteContext, type RouteInput, type RouteTable } from './routes.js';

/** The core statistics the server keeps itself (OpenSIPS's core group). */
export interface CoreStats {
  rcvRequests: Stat;
  rcvReplies: Stat;
  dropRequests: Stat;
  dropReplies: Stat;
  errRequests: Stat;
  errReplies: Stat;
  routeRuns: Stat;
}

export function coreStats(stats: StatsRegistry, startedAt: number): CoreStats {
  stats.gauge('core', 'timestamp', 'seconds since the epoch', () => Math.floor(Date.now() / 1000));
  stats.gauge('core', 'uptime', 'seconds since start', () => Math.floor((Date.now() - startedAt) / 1000));
  return {
    rcvRequests: stats.counter('core', 'rcv_requests', 'SIP requests received'),
    rcvReplies: stats.counter('core', 'rcv_replies', 'SIP replies received'),
    dropRequests: stats.counter('core', 'drop_requests', 'SIP requests dropped by the route script'),
    dropReplies: stats.counter('core', 'drop_replies', 'SIP replies dropped by the route script'),
    errRequests: stats.counter('core', 'err_requests', 'SIP requests whose route failed (threw or the reply could not be sent)'),
    errReplies: stats.counter('core', 'err_replies', 'SIP replies whose route failed'),
    routeRuns: stats.counter('core', 'route_runs', 'route script functions run'),
  };
}

/**
 * Runs a route with a context, counting the outcome. Returns the route's result, `false` when it
 * dropped. Errors are logged and counted, never thrown into the transport.
 */
export class RouteRunner {
  private readonly pending = new Set<Promise<unknown>>();
  constructor(
    private readonly table: () => RouteTable,
    private readonly logger: Logger,
    private readonly core: CoreStats,
  ) {}

  has(name: string): boolean {
    return typeof this.table()[name] === 'function';
  }

  run<M>(name: string, input: RouteInput<M>, onError?: () => void, onDrop?: () => void): { ctx: RouteContext<M>; result: unknown } | undefined {
    const fn = this.table()[name];
    if (typeof fn !== 'function') return undefined;
    const ctx = makeContext(name, input, this.logger);
    this.core.routeRuns.inc();
    const fail = (err: unknown): void => {
      onError?.();
      this.logger.error({ err, route: name, si: ctx.si, sp: ctx.sp }, `route "${name}" failed`);
    };
    let result: unknown;
    try {
      result = fn(ctx as RouteContext);
    } catch (err) {
      fail(err);
      return { ctx, result: undefined };
    }
    if (result instanceof Promise) {
      // an async route's outcome: false when it dropped, undefined when it failed (logged, counted)
      const p: Promise<unknown> = result.then(
        (v: unknown) => {
          if (!ctx.dropped) return v;
          onDrop?.();
          return false;
        },
        (err: unknown) => {
          fail(err);
          return undefined;
        },
      );
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
      return { ctx, result: p };
    }
    if (ctx.dropped) onDrop?.();
    return { ctx, result: ctx.dropped ? false : result };
  }

  /** async routes still running */
  get inFlight(): number {
    return this.pending.size;
  }

  /** waits for running async routes (their replies are part of what shutdown must not lose), at most `ms` */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.pending.size > 0 && Date.now() < deadline) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => { t = setTimeout(r, Math.max(0, deadline - Date.now())); })]);
      clearTimeout(t);
    }
  }

  /**
   * The module-facing RouteCaller (filter routes such as trace_filter_route): a generic context
   * around whatever the module passes (`{ message, connection | conn, remote, listener, proto }`).
   * Returns the route's return value, `false` when it called drop() (a promise of either for an
   * async route), undefined when the script has no such export or the route threw.
   */
  caller = (name: string, payload: unknown): unknown => {
    const p = (payload ?? {}) as Partial<RouteInput<unknown>> & { conn?: RouteInput<unknown>['connection'] };
    const input: RouteInput<unknown> = { message: 'message' in p ? p.message : payload, connection: p.connection ?? p.conn, remote: p.remote, listener: p.listener, proto: p.proto, reply: p.reply };
    return this.run(name, input)?.result;
  };
}

interface SipApiLike {
  on(event: 'request' | 'response', fn: (msg: SipMessage) => void): unknown;
}
interface HepApiLike {
  registerHepCallback(cb: (rcv: HepReceived) => number | void): () => void;
}

function isSipApi(api: unknown): api is SipApiLike {
  return typeof api === 'object' && api !== null && typeof (api as SipApiLike).on === 'function' && 'params' in api && 'engine' in api;
}
function isHepApi(api: unknown): api is HepApiLike {
  return typeof api === 'object' && api !== null && typeof (api as HepApiLike).registerHepCallback === 'function';
}

/** What the core adds to the SIP replies route scripts send. */
export interface SipReplyOptions {
  /** a whole header line, "Server: x-server (...)" (server_header; absent when server_signature = 0) */
  serverHeader?: string | undefined;
}

/** "Name: value" -> [name, value] (a line without a colon is taken as a Server value). */
export function splitHeaderLine(line: string): [string, string] {
  const i = line.indexOf(':');
  return i <= 0 ? ['Server', line.trim()] : [line.slice(0, i).trim(), line.slice(i + 1).trim()];
}

/** proto_hep's "skip the SIP script" return value */
const HEP_SCRIPT_SKIP = 0xff;

/**
 * Connects module APIs to the route script: proto_tcp's request/response events to the
 * `request` / `reply` exports, proto_hep's callback to `hep`. Returns an undo function.
 */
export function wireModuleRoutes(moduleName: string, api: unknown, runner: RouteRunner, core: CoreStats, sip: SipReplyOptions = {}): () => void {
  if (moduleName === 'proto_tcp' && isSipApi(api)) {
    const extra = sip.serverHeader === undefined ? undefined : [splitHeaderLine(sip.serverHeader)] as const;
    const onRequest = (msg: SipMessage): void => {
      core.rcvRequests.inc();
      runner.run('request', { message: msg, connection: msg.conn, reply: (code, reason) => msg.reply(code, reason, extra) }, () => core.errRequests.inc(), () => core.dropRequests.inc());
    };
    const onResponse = (msg: SipMessage): void => {
      core.rcvReplies.inc();
      runner.run('reply', { message: msg, connection: msg.conn }, () => core.errReplies.inc(), () => core.dropReplies.inc());
    };
    api.on('request', onRequest);
    api.on('response', onResponse);
    return () => {
      const off = (api as unknown as { off?: (e: string, f: unknown) => void }).off;
      off?.call(api, 'request', onRequest);
      off?.call(api, 'response', onResponse);
    };
  }
  if (moduleName === 'proto_hep' && isHepApi(api)) {
    return api.registerHepCallback((rcv) => {
      // No `hep` route: the packet was not consumed, so proto_hep counts it as dropped
      // (OpenSIPS: a packet no callback handles is dropped).
      if (!runner.has('hep')) return -1;
      const r = runner.run('hep', { message: rcv, remote: rcv.remote, local: rcv.local, proto: rcv.proto });
      return r?.result === false ? HEP_SCRIPT_SKIP : undefined;
    });
  }
  return () => {};
}
