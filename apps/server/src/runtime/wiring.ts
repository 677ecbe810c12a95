import { performance } from 'node:perf_hooks';
import { getHeapStatistics, type HeapInfo } from 'node:v8';
import type { Logger, Stat, StatsRegistry } from '@x/core-conn';
import type { SipMessage } from '@x/proto-tcp';
import type { HepReceived } from '@x/proto-hep';
import { makeContext, type MessageTracer, type RouteContext, type RouteInput, type RouteTable } from './routes.js';

/** The core statistics the server keeps itself (OpenSIPS's core group). */
export interface CoreStats {
  rcvRequests: Stat;
  rcvReplies: Stat;
  fwdRequests: Stat;
  fwdReplies: Stat;
  dropRequests: Stat;
  dropReplies: Stat;
  errRequests: Stat;
  errReplies: Stat;
  badUrisRcvd: Stat;
  badMsgHdr: Stat;
  slowMessages: Stat;
  routeRuns: Stat;
  /** registers the load group (after the engine's net group, as OpenSIPS orders them) */
  addLoadGroup(): void;
  /** stops the load sampler */
  stop(): void;
}

/**
 * OpenSIPS's statistic groups the server fills from Node.js, in OpenSIPS's order: `shmem`
 * (the V8 heap: OpenSIPS's shared memory pool is where its state lives), `core`, `net`
 * (waiting_udp here; core-conn adds waiting_tcp / waiting_tls) and `load` (event-loop
 * utilisation, in percent, over the last second, minute and 10 minutes: OpenSIPS's load is the
 * busy share of its processes' time; one process here, ID 0 as in `ps`).
 */
export function coreStats(stats: StatsRegistry, startedAt: number): CoreStats {
  let maxUsed = 0;
  const heap = (): HeapInfo => {
    const h = getHeapStatistics();
    if (h.used_heap_size > maxUsed) maxUsed = h.used_heap_size;
    return h;
  };
  stats.gauge('shmem', 'total_size', 'V8 heap size limit, bytes', () => heap().heap_size_limit);
  stats.gauge('shmem', 'max_used_size', 'largest V8 heap use seen, bytes', () => (heap(), maxUsed));
  stats.gauge('shmem', 'free_size', 'V8 heap size limit minus the heap in use, bytes', () => {
    const h = heap();
    return h.heap_size_limit - h.used_heap_size;
  });
  stats.gauge('shmem', 'used_size', 'V8 heap in use, bytes', () => heap().used_heap_size);
  stats.gauge('shmem', 'real_used_size', 'V8 heap committed (used plus allocator overhead), bytes', () => heap().total_heap_size);
  stats.gauge('shmem', 'fragments', 'V8 heap committed but not in use, bytes (V8 has no fragment count)', () => {
    const h = heap();
    return h.total_heap_size - h.used_heap_size;
  });
  const core: CoreStats = {
    rcvRequests: stats.counter('core', 'rcv_requests', 'SIP requests received'),
    rcvReplies: stats.counter('core', 'rcv_replies', 'SIP replies received'),
    fwdRequests: stats.counter('core', 'fwd_requests', 'SIP requests forwarded (x-server does not forward: stays 0)'),
    fwdReplies: stats.counter('core', 'fwd_replies', 'SIP replies forwarded (x-server does not forward: stays 0)'),
    dropRequests: stats.counter('core', 'drop_requests', 'SIP requests dropped by the route script'),
    dropReplies: stats.counter('core', 'drop_replies', 'SIP replies dropped by the route script'),
    errRequests: stats.counter('core', 'err_requests', 'SIP requests whose route failed (threw or the reply could not be sent)'),
    errReplies: stats.counter('core', 'err_replies', 'SIP replies whose route failed'),
    badUrisRcvd: stats.counter('core', 'bad_URIs_rcvd', 'SIP URIs that did not parse (the route script parses none: stays 0)'),
    badMsgHdr: stats.counter('core', 'bad_msg_hdr', 'SIP messages whose headers did not parse (their connection was closed)'),
    slowMessages: stats.counter('core', 'slow_messages', 'messages over exec_msg_threshold (not supported: stays 0)'),
    // x-server's own: not in OpenSIPS's core group, which tools read as it is
    routeRuns: stats.counter('server', 'route_runs', 'route script functions run'),
    addLoadGroup: () => undefined,
    stop: () => clearInterval(sampler),
  };
  stats.gauge('core', 'timestamp', 'seconds since start, as OpenSIPS', () => Math.floor((Date.now() - startedAt) / 1000));
  stats.gauge('server', 'uptime', 'seconds since start', () => Math.floor((Date.now() - startedAt) / 1000));
  stats.gauge('net', 'waiting_udp', 'bytes queued for writing on SIP udp sockets (x-server has no SIP over UDP: stays 0)', () => 0);

  // event-loop utilisation sampled each second; a ring of the last 600 samples
  const ring: number[] = [];
  let last = performance.eventLoopUtilization();
  const sampler = setInterval(() => {
    const now = performance.eventLoopUtilization();
    ring.push(performance.eventLoopUtilization(now, last).utilization);
    last = now;
    if (ring.length > 600) ring.shift();
  }, 1000);
  sampler.unref();
  const avg = (n: number): number => {
    const xs = ring.slice(-n);
    if (xs.length === 0) return Math.round(performance.eventLoopUtilization(performance.eventLoopUtilization(), last).utilization * 100);
    return Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100);
  };
  core.addLoadGroup = () => {
    for (const suffix of ['-proc-0', '', '-all']) {
      stats.gauge('load', `load${suffix}`, 'event-loop busy share over the last second, percent', () => avg(1));
      stats.gauge('load', `load1m${suffix}`, 'event-loop busy share over the last minute, percent', () => avg(60));
      stats.gauge('load', `load10m${suffix}`, 'event-loop busy share over the last 10 minutes, percent', () => avg(600));
    }
    stats.gauge('load', 'processes_number', 'processes (one Node.js process)', () => 1);
  };
  return core;
}

/**
 * Runs a route with a context, counting the outcome. Returns the route's result, `false` when it
 * dropped. Errors are logged and counted, never thrown into the transport.
 */
export class RouteRunner {
  private readonly pending = new Set<Promise<unknown>>();
  /** what ctx.trace() calls (set once tracing is started) */
  tracer: MessageTracer | undefined;
  constructor(
    private readonly table: () => RouteTable,
    private readonly logger: Logger,
    private readonly core: CoreStats,
    /** the loaded modules' APIs, as route contexts show them (ctx.modules) */
    private readonly modules?: ReadonlyMap<string, unknown>,
  ) {}

  has(name: string): boolean {
    return typeof this.table()[name] === 'function';
  }

  run<M>(name: string, input: RouteInput<M>, onError?: () => void, onDrop?: () => void): { ctx: RouteContext<M>; result: unknown } | undefined {
    const fn = this.table()[name];
    if (typeof fn !== 'function') return undefined;
    const ctx = makeContext(name, input, this.logger, this.modules, this.tracer);
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
    const input: RouteInput<unknown> = { message: 'message' in p ? p.message : payload, connection: p.connection ?? p.conn, remote: p.remote, listener: p.listener, proto: p.proto, reply: p.reply, fields: p.fields };
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
  // proto_tls is proto_tcp's API on the 'tls' protocol: the same routes serve both
  if ((moduleName === 'proto_tcp' || moduleName === 'proto_tls') && isSipApi(api)) {
    const extra = sip.serverHeader === undefined ? undefined : [splitHeaderLine(sip.serverHeader)] as const;
    const onRequest = (msg: SipMessage): void => {
      core.rcvRequests.inc();
      runner.run('request', { message: msg, connection: msg.conn, reply: (code, reason) => msg.reply(code, reason, extra) }, () => core.errRequests.inc(), () => core.dropRequests.inc());
    };
    const onResponse = (msg: SipMessage): void => {
      core.rcvReplies.inc();
      runner.run('reply', { message: msg, connection: msg.conn }, () => core.errReplies.inc(), () => core.dropReplies.inc());
    };
    // a message whose headers do not parse closes its connection with an ERR_SIP_* error
    const onClose = (ev: { error?: { code?: unknown } }): void => {
      if (typeof ev.error?.code === 'string' && ev.error.code.startsWith('ERR_SIP_')) core.badMsgHdr.inc();
    };
    const events = api as unknown as { on(e: string, f: unknown): void; off?: (e: string, f: unknown) => void };
    api.on('request', onRequest);
    api.on('response', onResponse);
    events.on('close', onClose);
    return () => {
      events.off?.call(api, 'request', onRequest);
      events.off?.call(api, 'response', onResponse);
      events.off?.call(api, 'close', onClose);
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
