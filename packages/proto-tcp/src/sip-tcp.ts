import { isIP } from 'node:net';
import {
  createEngine,
  NOOP_LOGGER,
  type Address,
  type CloseEvent,
  type ConnectionInfo,
  type Engine,
  type EngineOptions,
  type ListenerInfo,
  type Logger,
  type MessageEvent,
  type SendOptions,
  type SocketSpec,
} from '@x/core-conn';
import { SipConfigError, SipErrorCodes } from './codec/errors.js';
import { topVia } from './codec/headers.js';
import { SipMessage } from './message.js';
import { tcpProtocolSpec, type ProtoTcpParams } from './module/params.js';
import { resolveParams, resolveTlsParams } from './module/resolve.js';
import { tlsProtocolSpec, type ProtoTlsParams } from './module/tls-params.js';

export interface SipTcpOptions {
  /** share an existing engine; without it, one is created (with `engineOptions`) and shut down by close() */
  engine?: Engine;
  engineOptions?: EngineOptions;
  /** socket specs to listen on, e.g. 'tcp:127.0.0.1:0' (port 0 = ephemeral; no port = tcp_port) */
  listen?: ReadonlyArray<string | SocketSpec>;
  /** proto_tcp params; defaults as OpenSIPS */
  params?: Partial<ProtoTcpParams>;
  /**
   * register the 'tcp' protocol on the engine (default: only when the engine has none).
   * When the engine already has one (the server registered the module's), its spec is used.
   */
  register?: boolean;
  logger?: Logger;
}

/** Events of a SipTcp instance. */
export interface SipTcpEvents {
  /** every SIP message (request or response) */
  message: (msg: SipMessage) => void;
  request: (msg: SipMessage) => void;
  response: (msg: SipMessage) => void;
  /** a tcp connection closed (reason as OpenSIPS's close reports, plus the error when one caused it) */
  close: (ev: CloseEvent) => void;
  /** a handler threw, or a message could not be handled (alias Via parse...) */
  error: (err: Error, msg?: SipMessage) => void;
}

/** A send target: an address, `host[:port]`, `[v6][:port]`, or `sip:[user@]host[:port][;transport=tcp]`. */
export type SipTarget = string | Address;

/** SIP over a stream protocol of the engine: 'tcp' (SipTcp) or 'tls' (SipTls), same framer and API. */
export interface SipStream<P> {
  readonly engine: Engine;
  readonly params: Readonly<P>;
  /** the protocol this endpoint serves: 'tcp' or 'tls' */
  readonly proto: 'tcp' | 'tls';
  /** the listeners of that protocol on the engine (actual ports) */
  readonly listeners: ListenerInfo[];
  on<K extends keyof SipTcpEvents>(event: K, fn: SipTcpEvents[K]): this;
  off<K extends keyof SipTcpEvents>(event: K, fn: SipTcpEvents[K]): this;
  listen(spec: string | SocketSpec): Promise<ListenerInfo>;
  /**
   * Sends bytes (one SIP message) to a target, reusing a connection to it (by id when
   * opts.connectionId is given, else by address/alias) or opening one. Resolves with the
   * connection once the bytes are accepted (queued in async mode).
   */
  send(target: SipTarget, data: Buffer | string, opts?: SendOptions): Promise<ConnectionInfo>;
  /** stops delivering events; shuts the engine down when this instance created it */
  close(): Promise<void>;
}

/** SIP over TCP (proto_tcp). */
export type SipTcp = SipStream<ProtoTcpParams>;
/** SIP over TLS (proto_tls): the same API on the 'tls' protocol, whose connections use the engine's TLS domains. */
export type SipTls = SipStream<ProtoTlsParams>;

const toVoid = (): void => undefined;


/** Parses a send target into an address; the port defaults to `defaultPort` (tcp_port / tls_port). */
export function parseTarget(target: SipTarget, defaultPort: number, proto: 'tcp' | 'tls' = 'tcp'): Address {
  const bad = (why: string): never => {
    throw new SipConfigError(SipErrorCodes.BAD_TARGET, `bad SIP target ${JSON.stringify(target)}: ${why}`);
  };
  if (typeof target === 'object' && target !== null) {
    const { host, port } = target;
    if (typeof host !== 'string' || !isIP(host)) bad('host must be an IP address literal');
    if (!Number.isInteger(port) || port < 1 || port > 65535) bad('port must be an integer in 1..65535');
    return { host, port };
  }
  if (typeof target !== 'string') return bad('expected a string or { host, port }');
  let rest = target.trim();
  const scheme = /^(sips?):/i.exec(rest);
  if (scheme) {
    if (scheme[1]!.toLowerCase() === 'sips' && proto !== 'tls') bad('sips needs TLS, not tcp');
    rest = rest.slice(scheme[0].length);
    const q = rest.indexOf('?');
    if (q !== -1) rest = rest.slice(0, q);
    const [hostport, ...params] = rest.split(';');
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k!.trim().toLowerCase() === 'transport' && v?.trim().toLowerCase() !== proto) bad(`transport=${v ?? ''} is not ${proto}`);
    }
    rest = hostport!;
    const at = rest.lastIndexOf('@');
    if (at !== -1) rest = rest.slice(at + 1);
  }
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (isIP(rest) === 6) {
    host = rest;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(rest);
    if (!m) return bad('expected host[:port]');
    host = m[1]!;
    portText = m[2];
  }
  if (host.toLowerCase() === 'localhost') host = '127.0.0.1';
  if (!isIP(host)) bad('host must be an IP address literal (no DNS lookups here)');
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) bad('port must be in 1..65535');
  return { host, port };
}

type Handlers = { [K in keyof SipTcpEvents]: Set<SipTcpEvents[K]> };

class SipStreamImpl<P> implements SipStream<P> {
  readonly engine: Engine;
  readonly params: Readonly<P>;
  readonly proto: 'tcp' | 'tls';
  private readonly defaultPort: number;
  private readonly owned: boolean;
  private readonly log: Logger;
  private readonly handlers: Handlers = { message: new Set(), request: new Set(), response: new Set(), close: new Set(), error: new Set() };
  private closed = false;
  private readonly onMessage = (ev: MessageEvent): void => this.dispatch(ev);
  private readonly onClose = (ev: CloseEvent): void => {
    if (ev.conn.proto !== this.proto) return;
    for (const fn of this.handlers.close) this.safe(() => fn(ev));
  };
  /**
   * The engine answers every async send on a connection with the same settled promise; its
   * void form is made once per such promise, so a reply allocates no promise of its own.
   */
  private readonly voided = new WeakMap<Promise<unknown>, Promise<void>>();
  private readonly sender = (msg: SipMessage, data: Buffer): Promise<void> => {
    const p = this.engine.send(this.proto, msg.conn.remote, data, { connectionId: msg.conn.id, noNewConn: true });
    let v = this.voided.get(p);
    if (v === undefined) {
      v = p.then(toVoid);
      this.voided.set(p, v);
    }
    return v;
  };

  private readonly writer = (msg: SipMessage, data: Buffer): void => {
    this.engine.write(msg.conn.id, data);
  };

  constructor(engine: Engine, owned: boolean, params: P, log: Logger, proto: 'tcp' | 'tls', defaultPort: number) {
    this.engine = engine;
    this.owned = owned;
    this.params = Object.freeze({ ...params });
    this.proto = proto;
    this.defaultPort = defaultPort;
    this.log = log;
    engine.on('message', this.onMessage);
    engine.on('close', this.onClose);
  }

  get listeners(): ListenerInfo[] {
    return this.engine.listeners(this.proto);
  }

  on<K extends keyof SipTcpEvents>(event: K, fn: SipTcpEvents[K]): this {
    const set = this.handlers[event] as Set<SipTcpEvents[K]> | undefined;
    if (!set) throw new SipConfigError('ERR_INVALID_OPTION', `unknown event ${JSON.stringify(event)}`);
    set.add(fn);
    return this;
  }

  off<K extends keyof SipTcpEvents>(event: K, fn: SipTcpEvents[K]): this {
    (this.handlers[event] as Set<SipTcpEvents[K]> | undefined)?.delete(fn);
    return this;
  }

  listen(spec: string | SocketSpec): Promise<ListenerInfo> {
    if (this.closed) return Promise.reject(new SipConfigError(SipErrorCodes.CLOSED, 'this SipTcp is closed'));
    return this.engine.listen(spec);
  }

  send(target: SipTarget, data: Buffer | string, opts?: SendOptions): Promise<ConnectionInfo> {
    if (this.closed) return Promise.reject(new SipConfigError(SipErrorCodes.CLOSED, 'this SipTcp is closed'));
    let dest: Address;
    try {
      dest = parseTarget(target, this.defaultPort, this.proto);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return this.engine.send(this.proto, dest, buf, opts).then((c) => c!);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.engine.off('message', this.onMessage);
    this.engine.off('close', this.onClose);
    if (this.owned) await this.engine.shutdown({ deadlineMs: 200 });
  }

  private dispatch(ev: MessageEvent): void {
    const conn = ev.conn;
    if (conn.proto !== this.proto || this.closed) return;
    const msg = new SipMessage(ev.message as Buffer, conn, ev.receivedAt, this.sender, this.writer);
    if (msg.isRequest && conn.profile.aliasMode !== 0) this.applyAlias(msg);
    const h = this.handlers;
    this.deliver(h.message, msg);
    this.deliver(msg.isRequest ? h.request : h.response, msg);
  }

  /** Calls each handler with the message; one that throws is reported (no closure per message and handler). */
  private deliver(handlers: ReadonlySet<(msg: SipMessage) => void>, msg: SipMessage): void {
    for (const fn of handlers) {
      try {
        fn(msg);
      } catch (err) {
        this.handlerThrew(err, msg);
      }
    }
  }

  /** tcp_accept_aliases / alias_mode: alias port = top Via port, or tcp_port / tls_port. */
  private applyAlias(msg: SipMessage): void {
    try {
      const via = topVia(msg.headers);
      if (!via) return;
      if (msg.conn.profile.aliasMode === 1 && !via.alias) return;
      const port = via.port ?? this.defaultPort;
      if (!this.engine.addAlias(msg.conn.id, port)) this.log.debug({ id: msg.conn.id, port }, 'alias not added');
    } catch (err) {
      this.log.debug({ id: msg.conn.id, err }, 'no alias: unparsable top Via');
    }
  }

  private safe(fn: () => void, msg?: SipMessage): void {
    try {
      fn();
    } catch (err) {
      this.handlerThrew(err, msg);
    }
  }

  private handlerThrew(err: unknown, msg?: SipMessage): void {
    const e = err instanceof Error ? err : new Error(String(err));
    if (this.handlers.error.size === 0) this.log.error({ err: e }, 'SIP handler threw');
    for (const h of this.handlers.error) {
      try {
        h(e, msg);
      } catch {
        // an error handler that throws must not take the engine down
      }
    }
  }
}

/**
 * Creates a SIP-over-TCP endpoint: registers the 'tcp' protocol (built from `params`) on the
 * given engine or a new one, opens the listeners, and delivers framed messages as SipMessage.
 */
export async function createSipTcp(opts: SipTcpOptions = {}): Promise<SipTcp> {
  const params = resolveParams(opts.params);
  return openSipStream(opts, 'tcp', params, params.tcp_port, tcpProtocolSpec(params), {});
}

/**
 * What createSipTcp and createSipTls share: the engine (given or owned), the protocol
 * registered unless it already is, the endpoint, then its listeners (closed again if one fails).
 */
async function openSipStream<P>(
  opts: SipTcpOptions | SipTlsOptions,
  proto: 'tcp' | 'tls',
  params: P,
  port: number,
  spec: unknown,
  engineDefaults: EngineOptions,
): Promise<SipStreamImpl<P>> {
  const owned = opts.engine === undefined;
  const log = opts.logger ?? opts.engineOptions?.logger ?? NOOP_LOGGER;
  const engine = opts.engine ?? createEngine({ ...engineDefaults, ...opts.engineOptions, logger: log });
  const register = opts.register ?? engine.protocol(proto) === undefined;
  if (register) engine.registerProtocol(spec as never);
  const sip = new SipStreamImpl(engine, owned, params, log, proto, port);
  try {
    for (const l of opts.listen ?? []) await engine.listen(l);
  } catch (err) {
    await sip.close();
    throw err;
  }
  return sip;
}

/** Attaches a SipTcp to an engine that already has the 'tcp' protocol (used by the module's init). */
export function attachSipTcp(engine: Engine, params: ProtoTcpParams, logger?: Logger): SipTcp {
  return new SipStreamImpl(engine, false, params, logger ?? NOOP_LOGGER, 'tcp', params.tcp_port);
}

export interface SipTlsOptions extends Omit<SipTcpOptions, 'params'> {
  /** proto_tls params; defaults as OpenSIPS */
  params?: Partial<ProtoTlsParams>;
}

/**
 * Creates a SIP-over-TLS endpoint: the same as createSipTcp on the 'tls' protocol (tls_port
 * 5061). Its connections take their certificates from the engine's TLS domains
 * (`engineOptions.tlsDomains`): a listener needs a server domain, a send a client domain.
 */
export async function createSipTls(opts: SipTlsOptions = {}): Promise<SipTls> {
  const params = resolveTlsParams(opts.params);
  return openSipStream(opts, 'tls', params, params.tls_port, tlsProtocolSpec(params), { tlsHandshakeTimeout: params.tls_handshake_timeout });
}

/** Attaches a SipTls to an engine that already has the 'tls' protocol (used by proto_tls's init). */
export function attachSipTls(engine: Engine, params: ProtoTlsParams, logger?: Logger): SipTls {
  return new SipStreamImpl(engine, false, params, logger ?? NOOP_LOGGER, 'tls', params.tls_port);
}
