/**
 * The tracing runtime: per traced module a destination (a TraceSink), a switch and an optional
 * filter route; per connection whether it is traced. Fed with connection events (from core-conn),
 * it sends OpenSIPS's net events through the sinks and never throws into, waits for or slows the
 * traced connection: a sink queues or drops, and drops are counted.
 */
import type { ConnectionInfo, Logger, MiCommand, RouteCaller, StatsRegistry, Stat, TapMessageEvent, TraceSink } from '@x/core-conn';
import { msrpTransactionId, sipCallId } from './correlate.js';
import { TracingError, TracingErrorCodes } from './errors.js';
import {
  messageTracePacket,
  MSRP_PROTO_TYPE,
  SIP_PROTO_TYPE,
  NET_IP_PROTO,
  NET_PROTOCOL_OF,
  NET_TEXT,
  netTracePacket,
  x509Oneline,
  type NetEvent,
  type NetEventKind,
  type NetProtocol,
  type NetStatus,
  type TlsHandshakeInfo,
} from './events.js';
import { TraceSwitch, traceMiCommand, type TracedModule } from './switch.js';
import { nowTimestamp, type TracePacket } from '@x/proto-hep';

/** Whether @x/tracing traces a module of that name (proto_tcp, proto_tls, proto_bins, proto_msrp). */
export function isTracedModule(name: string): name is TracedModule {
  return name === 'proto_tcp' || name === 'proto_tls' || name === 'proto_bins' || name === 'proto_msrp';
}

/** The protocols whose messages can be traced (`trace()`), and what their messages are. */
export const MESSAGE_FAMILY: Readonly<Record<string, 'sip' | 'msrp'>> = { tcp: 'sip', tls: 'sip', msrp: 'msrp', msrps: 'msrp' };

/** How many correlation ids (Call-IDs, MSRP transaction ids) `trace()` follows at most; the oldest is forgotten first. */
export const FOLLOW_MAX = 4096;

/** One module's tracing configuration: its trace_destination, trace_on and trace_filter_route. */
export interface ModuleTraceConfig {
  module: TracedModule;
  /** the hep_id name (trace_destination); without one the module has its switch and MI command but sends nothing (OpenSIPS) */
  destination?: string;
  /** trace_on: the switch's initial state */
  on?: boolean;
  /** trace_filter_route: a route-script export run once per connection; drop() = never trace it */
  filterRoute?: string;
  /**
   * the core-conn protocols whose connections and messages the module's settings apply to: what
   * the module declares in the module contract (`Module.trace(params).protocols`; proto_tcp
   * `['tcp']`, proto_bins `['bins', 'bin']`, proto_msrp `['msrp', 'msrps']`)
   */
  protocols: readonly string[];
}

export interface SinkLookup {
  get<P = unknown>(name: string): TraceSink<P> | undefined;
  names(): string[];
}

export interface TracingOptions {
  modules: ModuleTraceConfig[];
  /** the registered destinations (proto-hep's hep_ids) */
  sinks: SinkLookup;
  /** runs filter routes; required when a module has a filterRoute */
  routes?: RouteCaller;
  stats?: StatsRegistry;
  logger?: Logger;
}

/** What a connection event carries: the parts of core-conn's ConnectionInfo tracing reads. */
export type TracedConnection = Pick<ConnectionInfo, 'id' | 'cid' | 'proto' | 'remote' | 'local' | 'accepted'> & {
  /** core-conn's `ConnectionInfo.tls`: the peer's and our certificate (subject, issuer), a master key if known */
  readonly tls?: { readonly peerCertificate?: unknown; readonly localCertificate?: unknown; readonly masterKey?: Buffer | string } | undefined;
};

interface ConnState {
  /** undefined while an async filter route runs */
  traced: boolean | undefined;
  /** events that came while the filter route ran */
  pending?: Array<[TraceSink, TracePacket]>;
}

interface PendingIn {
  /** traced already (followed, or trace() called): a later trace() returns true and sends nothing */
  done: boolean;
  /** the correlation id once read (undefined: not read yet or none) */
  id: string | undefined;
  st: ModuleState;
  proto: string;
  conn: TracedConnection | undefined;
  src: { host: string; port: number };
  dst: { host: string; port: number };
  bytes: Buffer;
  /** when it was read: ms since the epoch (the tap's `at`) */
  at: number;
}

interface ModuleState {
  cfg: ModuleTraceConfig;
  /** the destination, looked up at first use (its module may initialise after tracing's) */
  readonly sink: TraceSink<TracePacket> | undefined;
  sw: TraceSwitch;
}

export interface Tracing {
  /** the switch of a module (undefined when the module is not traced) */
  switchOf(module: TracedModule): TraceSwitch | undefined;
  /** the MI trace commands of the traced modules */
  miCommands(): MiCommand[];
  /** an accepted connection (after its TLS handshake): ACCEPTED, with the certificates for TLS */
  accepted(conn: TracedConnection): void;
  /** an outbound connection is connected: CONNECTED, with the certificates for TLS */
  connected(conn: TracedConnection): void;
  /** an outbound connect started (async): CONNECT_START */
  connecting(conn: TracedConnection): void;
  /**
   * a connection closed: CLOSED with the reason, real addresses; a TLS connection whose handshake
   * failed ('TLS handshake failed') gets its ACCEPTED / CONNECTED with status FAILURE first, the
   * error's message as text
   */
  closed(conn: TracedConnection, reason: string, error?: Error): void;
  /**
   * Traces one message's bytes (SIP or MSRP) to a destination when the route script asks
   * (`ctx.trace()`), or to the module's destination; `dir` in = received, out = sent.
   * Returns false when nothing was sent (no destination, dropped by the sink).
   */
  message(conn: TracedConnection, dir: 'in' | 'out', bytes: Buffer, opts?: { correlationId?: string; destination?: string }): boolean;
  /** the configured modules */
  modules(): TracedModule[];
  /** the protocols traced: every configured module's `protocols` */
  protocols(): string[];
  /**
   * A message arrived (core-conn tap `x:message:in`, published before any handler runs). While
   * its module's switch is on, its bytes are kept (a copy, weakly keyed by the decoded message)
   * until the route script decides with `trace(message)`; a message whose correlation id is
   * followed is traced at once.
   */
  messageIn(ev: TapMessageEvent): void;
  /** Bytes left for the wire (tap `x:message:out`): traced when their correlation id is followed. */
  messageOut(ev: TapMessageEvent): void;
  /**
   * The route script's `trace()` (OpenSIPS tracer's `trace()`): traces the received message
   * (the decoded object the route got) as HEP proto type 1 (MSRP: 0x5A), correlation id = its Call-ID (MSRP:
   * its transaction id), and follows that id: every later message in or out of the traced
   * modules that carries it (the replies, a forward, in-dialog requests) is traced too, for the
   * last FOLLOW_MAX ids. Traced only while the module's switch is on, to its destination or to
   * `destination` (a sink name), and never for a connection its filter route dropped. Returns
   * whether the message was handed to a destination (false also for an unknown destination or a
   * message the tap did not publish).
   */
  trace(message: unknown, opts?: { destination?: string }): boolean;
  /** what was traced and dropped so far */
  counts(): { sent: number; dropped: number; filtered: number };
  close(): void;
}

/**
 * Checks tracing configuration the way x-server's `-c` does: every trace_destination must name a
 * hep_id (OpenSIPS silently disables tracing; we refuse). Throws TracingError.
 */
export function checkTraceDestinations(modules: readonly Pick<ModuleTraceConfig, 'module' | 'destination'>[], hepIds: readonly string[]): void {
  for (const m of modules) {
    if (m.destination !== undefined && !hepIds.includes(m.destination)) {
      throw new TracingError(
        TracingErrorCodes.UNKNOWN_DESTINATION,
        `${m.module}: trace_destination "${m.destination}" names no hep_id (${hepIds.length ? `defined: ${hepIds.join(', ')}` : 'proto_hep defines none'})`,
      );
    }
  }
}


/**
 * What a message is known by: the decoded object the tap published, or the one a route got that
 * wraps it: proto-tcp's SipMessage keeps the framed Buffer the tap published as `raw`.
 */
function keyOf(m: unknown): object | undefined {
  if (m instanceof Uint8Array) return m;
  if (typeof m !== 'object' || m === null) return undefined;
  const raw = (m as { raw?: unknown }).raw;
  return raw instanceof Uint8Array ? raw : m;
}

function correlationOf(family: 'sip' | 'msrp', b: Buffer): string | undefined {
  return family === 'sip' ? sipCallId(b) : msrpTransactionId(b);
}

function certName(cert: unknown, field: 'subject' | 'issuer'): string | undefined {
  if (!cert || typeof cert !== 'object') return undefined;
  const v = (cert as Record<string, unknown>)[field];
  return v && typeof v === 'object' ? x509Oneline(v as Record<string, string>) : undefined;
}

/** The certificate fields of a TLS connection's handshake event (peer = "client", ours = "server"). */
export function tlsInfoOf(conn: TracedConnection): TlsHandshakeInfo | undefined {
  const t = conn.tls;
  if (!t) return undefined;
  const info: TlsHandshakeInfo = {};
  const cs = certName(t.peerCertificate, 'subject');
  const ci = certName(t.peerCertificate, 'issuer');
  const ss = certName(t.localCertificate, 'subject');
  const si = certName(t.localCertificate, 'issuer');
  if (cs) info.clientSubject = cs;
  if (ci) info.clientIssuer = ci;
  if (ss) info.serverSubject = ss;
  if (si) info.serverIssuer = si;
  if (t.masterKey) info.masterKey = typeof t.masterKey === 'string' ? t.masterKey : t.masterKey.toString('hex');
  return info;
}

/** core-conn protocol name -> chunk 0x02 of its messages (one lookup on the hot path) */
const IP_PROTO_OF_PROTO: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(NET_PROTOCOL_OF).map(([p, label]) => [p, NET_IP_PROTO[label]]));

/** what a message traced while in the WeakMap is remembered as */
const DONE = { done: true } as PendingIn;
/** how many of the last messages received wait in the ring before the WeakMap (a power of 2) */
const RECENT = 32;

export function createTracing(opts: TracingOptions): Tracing {
  const byProto = new Map<string, ModuleState>();
  const byModule = new Map<TracedModule, ModuleState>();
  checkTraceDestinations(opts.modules, opts.sinks.names());
  for (const cfg of opts.modules) {
    if (byModule.has(cfg.module)) throw new TracingError(TracingErrorCodes.INVALID_OPTION, `${cfg.module} is configured twice`);
    if (cfg.filterRoute && !opts.routes) throw new TracingError(TracingErrorCodes.INVALID_OPTION, `${cfg.module}: trace_filter_route "${cfg.filterRoute}" needs a route caller`);
    let sink: TraceSink<TracePacket> | undefined;
    const st: ModuleState = {
      cfg,
      sw: new TraceSwitch(cfg.on ?? false),
      // resolved at first use, not now: the module that registers the destination (proto_hep) may be initialised after this one
      get sink() {
        if (sink === undefined && cfg.destination !== undefined) sink = opts.sinks.get<TracePacket>(cfg.destination);
        return sink;
      },
    };
    byModule.set(cfg.module, st);
    // a plain JS caller may leave them out
    const protocols = (cfg.protocols as readonly string[] | undefined) ?? [];
    if (protocols.length === 0) throw new TracingError(TracingErrorCodes.INVALID_OPTION, `${cfg.module}: give the protocols it traces (its module's trace().protocols)`);
    for (const p of protocols) {
      const other = byProto.get(p);
      if (other) throw new TracingError(TracingErrorCodes.INVALID_OPTION, `${cfg.module}: protocol "${p}" is already traced by ${other.cfg.module}`);
      byProto.set(p, st);
    }
  }
  const conns = new Map<number, ConnState>();
  /**
   * Received messages the route may still trace (a copy of their bytes), weakly keyed by the
   * decoded message. The last RECENT messages received wait in a small ring first: a route that
   * traces synchronously or soon (the usual case) finds its message there, and only a message
   * that leaves the ring untraced goes to the WeakMap (a traced one is forgotten: a late second
   * trace() of it returns false, and sends nothing, as the first one sent it).
   */
  const pendingIn = new WeakMap<object, PendingIn>();
  const recentKeys: Array<object | undefined> = new Array<object | undefined>(RECENT).fill(undefined);
  const recentVals: Array<PendingIn | undefined> = new Array<PendingIn | undefined>(RECENT).fill(undefined);
  let recentAt = 0;
  /** whether the last pendingOf() found the message in the WeakMap */
  let fromWeak = false;
  const remember = (m: object, p: PendingIn): void => {
    const k = recentKeys[recentAt];
    if (k !== undefined && !recentVals[recentAt]!.done) pendingIn.set(k, recentVals[recentAt]!);
    recentKeys[recentAt] = m;
    recentVals[recentAt] = p;
    recentAt = (recentAt + 1) & (RECENT - 1);
  };
  const pendingOf = (m: object): PendingIn | undefined => {
    fromWeak = false;
    for (let i = 1; i <= RECENT; i++) {
      const j = (recentAt - i) & (RECENT - 1);
      const k = recentKeys[j];
      if (k === m) return recentVals[j];
      if (k === undefined) return undefined;
    }
    fromWeak = true;
    return pendingIn.get(m);
  };
  /** followed correlation ids -> the destination: a SIP Call-ID as is, an MSRP transaction id after a space (no Call-ID starts with one) */
  const follow = new Map<string, TraceSink>();
  const followKey = (family: 'sip' | 'msrp', id: string): string => (family === 'sip' ? id : ' ' + id);
  const counts = { sent: 0, dropped: 0, filtered: 0 };
  const stat = (name: string, doc: string): Stat | undefined => opts.stats?.counter('tracing', name, doc);
  const sSent = stat('trace_sent', 'trace messages handed to a destination');
  const sDropped = stat('trace_dropped', 'trace messages a destination dropped (queue full, collector down, cooling down)');
  const sFiltered = stat('trace_filtered', 'connections a trace_filter_route dropped (never traced)');
  const log = opts.logger;

  const deliver = (sink: TraceSink<TracePacket>, tp: TracePacket): boolean => {
    let ok: unknown;
    try {
      // a sink may return false for a dropped packet (TraceSink.send is declared void)
      ok = (sink.send as (p: TracePacket) => unknown).call(sink, tp);
    } catch (err) {
      log?.debug({ err }, 'trace sink threw; message dropped');
      ok = false;
    }
    if (ok === false) {
      counts.dropped++;
      sDropped?.inc();
      return false;
    }
    counts.sent++;
    sSent?.inc();
    return true;
  };

  /** Runs the filter route once; returns the state (traced may stay undefined while an async route runs). */
  const decide = (st: ModuleState, conn: TracedConnection): ConnState => {
    let cs = conns.get(conn.id);
    if (cs) return cs;
    cs = { traced: true };
    conns.set(conn.id, cs);
    const route = st.cfg.filterRoute;
    if (!route) return cs;
    let r: unknown;
    try {
      r = opts.routes!(route, { connection: conn as ConnectionInfo, remote: conn.remote, local: conn.local, proto: conn.proto, message: undefined });
    } catch (err) {
      log?.error({ err, route }, 'trace_filter_route failed; the connection is traced');
      return cs;
    }
    const settle = (v: unknown): void => {
      const state = cs!;
      state.traced = v !== false;
      if (!state.traced) {
        counts.filtered++;
        sFiltered?.inc();
      }
      const pending = state.pending ?? [];
      delete state.pending;
      if (state.traced) for (const [sink, tp] of pending) deliver(sink, tp);
    };
    if (r instanceof Promise) {
      cs.traced = undefined;
      cs.pending = [];
      r.then(settle, (err: unknown) => {
        log?.error({ err, route }, 'trace_filter_route failed; the connection is traced');
        settle(undefined);
      });
    } else settle(r);
    return cs;
  };

  /** Tracing condition (OpenSIPS's TRACE_ON): a destination, the switch on, the connection not dropped. */
  const emit = (conn: TracedConnection, build: (proto: NetProtocol) => NetEvent, last = false): void => {
    const st = byProto.get(conn.proto);
    if (!st || !st.sink || !st.sw.on) {
      if (last) conns.delete(conn.id);
      return;
    }
    const cs = decide(st, conn);
    if (last) conns.delete(conn.id);
    if (cs.traced === false) return;
    const protocol = NET_PROTOCOL_OF[conn.proto]!;
    let tp: TracePacket;
    try {
      tp = netTracePacket(build(protocol));
    } catch (err) {
      log?.debug({ err }, 'cannot build a trace message; dropped');
      counts.dropped++;
      sDropped?.inc();
      return;
    }
    if (cs.traced === undefined) cs.pending!.push([st.sink, tp]);
    else deliver(st.sink!, tp);
  };

  /** one SIP/MSRP message as HEP: proto type 1 (MSRP 0x5A), the transport's ip proto, the correlation id */
  const sendMessage = (
    cs: ConnState | undefined,
    sink: TraceSink,
    family: 'sip' | 'msrp',
    proto: string,
    src: { host: string; port: number },
    dst: { host: string; port: number },
    bytes: Buffer,
    at: number,
    id: string | undefined,
  ): boolean => {
    if (cs?.traced === false) return false;
    // messageTracePacket's packet, built in one object of one shape (the hot path)
    const tp: TracePacket = {
      protoType: family === 'msrp' ? MSRP_PROTO_TYPE : SIP_PROTO_TYPE,
      ipProto: IP_PROTO_OF_PROTO[proto] ?? 6,
      src,
      dst,
      payload: bytes,
      at,
      correlationId: id,
    };
    if (cs?.traced === undefined && cs?.pending) {
      // held until the async filter route answers: the bytes (and addresses) must outlive the tap's call
      tp.payload = Buffer.from(bytes);
      tp.src = { host: src.host, port: src.port };
      tp.dst = { host: dst.host, port: dst.port };
      cs.pending.push([sink, tp]);
      return true;
    }
    return deliver(sink, tp);
  };

  const event = (conn: TracedConnection, protocol: NetProtocol, kind: NetEventKind, status: NetStatus, message: string | undefined, tls?: TlsHandshakeInfo): NetEvent => {
    const ev: NetEvent = { protocol, event: kind, status, cid: conn.cid, remote: conn.remote, local: conn.local, timestamp: nowTimestamp() };
    if (message) ev.message = message;
    if (tls) ev.tls = tls;
    return ev;
  };
  const isTls = (p: NetProtocol): boolean => NET_IP_PROTO[p] === 22;

  return {
    switchOf: (m) => byModule.get(m)?.sw,
    miCommands: () => [...byModule.values()].map((st) => traceMiCommand(st.cfg.module, st.sw)),
    accepted(conn) {
      emit(conn, (p) => event(conn, p, 'ACCEPTED', 'SUCCESS', NET_TEXT.ACCEPT_OK, isTls(p) ? tlsInfoOf(conn) : undefined));
    },
    connecting(conn) {
      emit(conn, (p) => event(conn, p, 'CONNECT_START', 'SUCCESS', NET_TEXT.AS_CONNECT_INIT));
    },
    connected(conn) {
      emit(conn, (p) => event(conn, p, 'CONNECTED', 'SUCCESS', NET_TEXT.CONNECT_OK, isTls(p) ? tlsInfoOf(conn) : undefined));
    },
    closed(conn, reason, error) {
      // a TLS handshake that failed: OpenSIPS's tls_mgm reports it as the handshake event with
      // status FAILURE and the TLS error as text (openssl_conn_ops.c), before the close
      const label = NET_PROTOCOL_OF[conn.proto];
      if (reason === 'TLS handshake failed' && label !== undefined && isTls(label) && !conns.has(conn.id)) {
        const text = error?.message || (conn.accepted ? NET_TEXT.ACCEPT_FAIL : NET_TEXT.CONNECT_FAIL);
        emit(conn, (p) => event(conn, p, conn.accepted ? 'ACCEPTED' : 'CONNECTED', 'FAILURE', text, tlsInfoOf(conn)));
      }
      emit(conn, (p) => event(conn, p, 'CLOSED', 'SUCCESS', reason), true);
    },
    message(conn, dir, bytes, o = {}) {
      const st = byProto.get(conn.proto);
      const sink = o.destination !== undefined ? opts.sinks.get<TracePacket>(o.destination) : st?.sink;
      if (!sink) return false;
      const cs = conns.get(conn.id);
      if (cs?.traced === false) return false;
      const protocol = NET_PROTOCOL_OF[conn.proto];
      const ipProto = protocol ? NET_IP_PROTO[protocol] : 6;
      const [src, dst] = dir === 'in' ? [conn.remote, conn.local] : [conn.local, conn.remote];
      const protoType = MESSAGE_FAMILY[conn.proto] === 'msrp' ? MSRP_PROTO_TYPE : SIP_PROTO_TYPE;
      const m = { ipProto, src, dst, payload: bytes, protoType, timestamp: nowTimestamp() } as Parameters<typeof messageTracePacket>[0];
      if (o.correlationId) m.correlationId = o.correlationId;
      return deliver(sink, messageTracePacket(m));
    },
    modules: () => [...byModule.keys()],
    protocols: () => [...byProto.keys()],
    messageIn(ev) {
      const family = MESSAGE_FAMILY[ev.proto];
      const st = byProto.get(ev.proto);
      if (!family || !st || !st.sw.on) return;
      const m = keyOf(ev.message);
      if (m === undefined) return;
      if (ev.conn && conns.get(ev.conn.id)?.traced === false) return;
      // an MSRP message the framer could not give the bytes of
      if (family === 'msrp' && msrpTransactionId(ev.bytes) === undefined) return;
      const p: PendingIn = { done: false, id: undefined, st, proto: ev.proto, conn: ev.conn, src: ev.remote, dst: ev.local, bytes: ev.bytes, at: ev.at };
      if (follow.size) {
        const id = correlationOf(family, p.bytes);
        p.id = id;
        const sink = id !== undefined ? follow.get(followKey(family, id)) : undefined;
        if (sink) {
          p.done = true;
          remember(m, p);
          sendMessage(p.conn ? decide(st, p.conn) : undefined, sink, family, p.proto, p.src, p.dst, p.bytes, p.at, id);
          return;
        }
      }
      // the route decides later (maybe after an await): keep the bytes unless they are the message itself
      if (p.bytes !== m) p.bytes = Buffer.from(p.bytes);
      remember(m, p);
    },
    messageOut(ev) {
      if (!follow.size || ev.kind === 'reply') return;
      const family = MESSAGE_FAMILY[ev.proto];
      const st = byProto.get(ev.proto);
      if (!family || !st || !st.sw.on) return;
      const cs = ev.conn ? conns.get(ev.conn.id) : undefined;
      if (cs?.traced === false) return;
      const id = correlationOf(family, ev.bytes);
      const sink = id !== undefined ? follow.get(followKey(family, id)) : undefined;
      if (!sink) return;
      sendMessage(ev.conn ? (cs ?? decide(st, ev.conn)) : undefined, sink, family, ev.proto, ev.local, ev.remote, ev.bytes, ev.at, id);
    },
    trace(msg, o = {}) {
      const message = keyOf(msg);
      if (message === undefined) return false;
      const p = pendingOf(message);
      if (!p) return false;
      if (p.done) return true;
      if (!p.st.sw.on) return false;
      const sink = o.destination !== undefined ? opts.sinks.get(o.destination) : p.st.sink;
      if (!sink) return false;
      const cs = p.conn ? decide(p.st, p.conn) : undefined;
      if (cs?.traced === false) return false;
      p.done = true;
      // traced while in the WeakMap: forget its bytes, keep that it was traced
      if (fromWeak) pendingIn.set(message, DONE);
      const family = MESSAGE_FAMILY[p.proto]!;
      const id = p.id ?? correlationOf(family, p.bytes);
      if (id !== undefined) {
        const key = followKey(family, id);
        follow.delete(key);
        follow.set(key, sink);
        if (follow.size > FOLLOW_MAX) follow.delete(follow.keys().next().value!);
      }
      return sendMessage(cs, sink, family, p.proto, p.src, p.dst, p.bytes, p.at, id);
    },
    counts: () => ({ ...counts }),
    close() {
      conns.clear();
      follow.clear();
      recentKeys.fill(undefined);
      recentVals.fill(undefined);
    },
  };
}
