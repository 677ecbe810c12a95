import { performance } from 'node:perf_hooks';
import { getHeapStatistics, type HeapInfo } from 'node:v8';
import type { Logger, RouteBinding, RouteCaller, RouteInvocation, Stat, StatsRegistry } from '@x/core-conn';
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
   * The module-facing RouteCaller (`ModuleContext.routes`): a route context around what the
   * module passes (`{ message, connection, remote, local, listener, proto, reply, fields }`).
   * Returns the route's return value, `false` when it called drop() (a promise of either for an
   * async route), undefined when the script has no such export or the route threw. The
   * statistics the module's `RouteBinding`s name are counted per call: `received` always,
   * `dropped` and `failed` by outcome. `replyHeaders`: lines added to every `ctx.reply`.
   */
  callerFor(bindings: readonly RouteBinding[] = [], stats?: StatsRegistry, opts: { replyHeaders?: ReadonlyArray<readonly [string, string]> | undefined } = {}): RouteCaller {
    const extra = opts.replyHeaders;
    const counters = new Map<string, { received?: Stat; dropped?: Stat; failed?: Stat }>();
    for (const b of bindings) {
      if (!b.stats || !stats) continue;
      const c: { received?: Stat; dropped?: Stat; failed?: Stat } = {};
      for (const kind of ['received', 'dropped', 'failed'] as const) {
        const full = b.stats[kind];
        if (full === undefined) continue;
        const i = full.indexOf(':');
        c[kind] = stats.get(full) ?? stats.counter(full.slice(0, i), full.slice(i + 1), `route "${b.name}": ${kind}`);
      }
      counters.set(b.name, c);
    }
    return (name: string, invocation: RouteInvocation): unknown => {
      const c = counters.get(name);
      c?.received?.inc();
      const p = invocation as Partial<RouteInvocation> | undefined;
      const reply = p?.reply;
      const input: RouteInput<unknown> = {
        message: p?.message,
        connection: p?.connection,
        remote: p?.remote,
        local: p?.local,
        listener: p?.listener,
        proto: p?.proto,
        reply: reply ? (code, reason) => reply(code, reason, extra) : undefined,
        fields: p?.fields as Record<string, unknown> | undefined,
      };
      return this.run(name, input, c?.failed ? () => c.failed!.inc() : undefined, c?.dropped ? () => c.dropped!.inc() : undefined)?.result;
    };
  }

  /** `callerFor()` with no bindings (nothing counted but server:route_runs). */
  readonly caller: RouteCaller = this.callerFor();
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
