/**
 * The seams of @x, as types. Every protocol package codes against these; the engine
 * (./engine) implements them. See the package README for the whole walk.
 */
import type { PeerCertificate } from 'node:tls';
import type { ProtocolError } from './errors.js';

export type Transport = 'tcp' | 'tls' | 'udp';

/** An IP endpoint. `host` is a literal IPv4/IPv6 address once resolved (no brackets). */
export interface Address {
  host: string;
  port: number;
}

/**
 * The OpenSIPS 4.0 socket options after `proto:host[:port]` other than `as` and `tag`,
 * as `parseSocketSpec` read them (a key is present only when the option was written).
 * They are recorded, not acted upon: the engine listens the same way with or without them
 * (a host such as x-server reports each one as having no effect).
 */
export interface SocketOptions {
  /** `use_workers N` (N a positive integer): UDP worker processes of the socket */
  useWorkers?: number;
  /** `use_auto_scaling_profile NAME`: the auto-scaling profile of the socket's workers */
  autoScalingProfile?: string;
  /** `anycast`: the socket's address is anycast (clustered transactions) */
  anycast?: true;
  /** `frag`: allow IP fragmentation of outgoing UDP (no DF bit) */
  frag?: true;
  /** `reuse_port`: SO_REUSEPORT on the socket */
  reusePort?: true;
  /** `tos N` (0..255, decimal or 0x hex): IP TOS of the socket's packets */
  tos?: number;
  /** `accept_subdomain`: subdomains of the socket's host count as "myself" */
  acceptSubdomain?: true;
  /** `proxy_protocol`: inbound connections must start with a PROXY protocol header */
  proxyProtocol?: true;
  /** `allow_proxy_protocol`: inbound connections may start with a PROXY protocol header */
  allowProxyProtocol?: true;
  /** `send_proxy_protocol`: outbound connections start with a PROXY protocol header */
  sendProxyProtocol?: true;
}

/**
 * A socket spec as written in opensips.cfg:
 * `proto:host[:port] [as host[:port]] [tag name] [option...]` (see `SocketOptions`).
 * Parsed by `parseSocketSpec`, written back by `formatSocketSpec`.
 */
export interface SocketSpec {
  proto: string;
  host: string;
  /** null = the protocol's default port */
  port: number | null;
  advertised?: { host: string; port: number | null };
  tag?: string;
  /** the other OpenSIPS 4.0 options written; absent when none was */
  options?: SocketOptions;
}

/** Unsigned 32-bit connection id, random start, +1 per connection (as OpenSIPS). */
export type ConnectionId = number;

/** OpenSIPS's numeric states, shown by tcp:list. */
export const ConnState = { ERROR: -2, BAD: -1, OK: 0, CONNECTING: 1, EOF: 2 } as const;
export type ConnState = (typeof ConnState)[keyof typeof ConnState];

/**
 * A connection profile: the 12 attributes of OpenSIPS's tcp_conn_profile / tcp_mgm row,
 * plus the per-protocol chunk limit override. Units as OpenSIPS: connectTimeout ms,
 * conLifetime s, msgReadTimeout s, sendThreshold µs, keepidle/keepinterval s.
 */
export interface ConnectionProfile {
  /** 0 = the default profile (from the global tcp_* params); tcp_mgm rule id otherwise */
  id: number;
  connectTimeout: number;
  conLifetime: number;
  msgReadTimeout: number;
  sendThreshold: number;
  noNewConn: boolean;
  aliasMode: 0 | 1 | 2;
  parallelRead: number;
  keepalive: boolean;
  keepcount: number;
  keepidle: number;
  keepinterval: number;
  /**
   * extra attributes; `maxMsgChunks` overrides the protocol's limit when set;
   * `maxConnectionsPerIp` the engine's tcp_max_connections_per_ip for accepts it matches (0: no cap)
   */
  attrs: { maxMsgChunks?: number; maxConnectionsPerIp?: number; [key: string]: unknown };
}

/** What a profile resolver is asked, at accept and at send time. */
export interface ProfileQuery {
  proto: string;
  remote: Address;
  local: Address;
  /** the tag of the local listener, if it has one */
  localTag?: string;
}
/** `matched: false` means "no rule matched, the default profile applies" (no_new_conn then comes from the send options). */
export type ProfileResolver = (q: ProfileQuery) => { profile: ConnectionProfile; matched: boolean };

/** A read-only view of a connection, handed to framers, handlers and event listeners. */
export interface ConnectionInfo {
  readonly id: ConnectionId;
  /** correlation id for tracing: id | (startup & 0xFFFFFF) << 32 | rand8 << 56, as a bigint */
  readonly cid: bigint;
  readonly proto: string;
  readonly transport: Transport;
  readonly remote: Address;
  readonly local: Address;
  /** the listener this connection was accepted on or is bound to (its spec), if any */
  readonly listener: ListenerInfo | undefined;
  readonly state: ConnState;
  readonly accepted: boolean;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** absolute ms epoch at which the connection expires without traffic */
  readonly lifetime: number;
  /** alias ports; the first is the real remote port; at most 4 */
  readonly aliases: readonly number[];
  readonly profile: ConnectionProfile;
  /**
   * TLS details once the handshake is done. `peerCertificate` (the peer's) and `localCertificate`
   * (ours as sent in the handshake, undefined when we sent none; a tracer's TLS handshake event
   * names both) are read from the socket when first asked for (then kept): read them while the
   * connection is open (handlers, tap events, reuse checks); after the close they are there only
   * if they were read before.
   */
  readonly tls?: { domain: string | undefined; authorized: boolean; servername?: string; peerCertificate?: PeerCertificate; readonly localCertificate?: PeerCertificate };
  /** bytes and chunks waiting in the write queue */
  readonly queuedBytes: number;
  readonly queuedChunks: number;
  /** reading is paused (`engine.pause`) */
  readonly paused: boolean;
  /** inside a message: bytes of one buffered, or a streamed message not ended */
  readonly inMessage: boolean;
}

export interface ListenerInfo {
  readonly id: number;
  readonly proto: string;
  readonly transport: Transport;
  /** the bound address (actual port when 0 was asked) */
  readonly address: Address;
  readonly spec: SocketSpec;
  readonly tag?: string;
  /**
   * udp listeners: the socket's receive buffer as the kernel reports it (getsockopt
   * SO_RCVBUF: Linux doubles what was asked, for its bookkeeping)
   */
  readonly recvBufferSize?: number;
}

/**
 * Where a framer reports what it found in the bytes. Called synchronously from `push`.
 *
 * A message is reported whole (`message`) or streamed: `head(msg)` when its start is known,
 * `part(bytes)` for each piece of its body, `end()` when it is complete. Between `head` and
 * `end` the connection is inside a message whatever the framer buffers: the read timeout and
 * the chunk limit run as for a buffered message, an EOF is an error (ERR_CONN_EOF), and
 * `rcv_msgs` counts the message once, at `end`. `maxMsgBytes` bounds `pendingBytes` (what the
 * framer holds), never what a streamed message carries.
 *
 * `reply` writes bytes back on the same connection (a CRLF pong): the framer itself never
 * touches sockets. `keepalive` reports a completed keep-alive item (ping, dropped CRLF):
 * like a message it resets the chunk counter and read timeout, but it is not delivered.
 */
export interface FramerSink<M> {
  /**
   * A whole message. `wire`: its bytes as read (the observation tap publishes them); omit it
   * when the message is itself the Buffer of its bytes.
   */
  message(msg: M, wire?: Buffer): void;
  keepalive(): void;
  reply(data: Buffer): void;
}

/**
 * The sink the engine hands every framer: a FramerSink plus the streaming triple. A framer
 * that never streams may type its `push` parameter as the plain FramerSink.
 */
export interface StreamingSink<M> extends FramerSink<M> {
  /** streaming: a message begins; `msg` is what is known of it (its head), `wire` the head's bytes */
  head(msg: M, wire?: Buffer): void;
  /** streaming: a piece of the body of the message in progress (a view of the read: copy to keep) */
  part(data: Buffer): void;
  /** streaming: the message in progress is complete; `wire`: its closing bytes (e.g. an end-line), if any */
  end(wire?: Buffer): void;
}

/**
 * One per connection, created by the protocol, owned by core-conn.
 * Fed arbitrary byte chunks (one per socket read); reports whole messages to the sink.
 * Throws a `ProtocolError` on bytes that cannot frame; core-conn then closes the connection.
 */
export interface Framer<M> {
  push(chunk: Buffer, sink: StreamingSink<M>): void;
  /**
   * Bytes the framer holds of an incomplete item (bounded by maxMsgBytes). 0 at a message
   * boundary, and may be 0 inside a streamed message (between head and end) too.
   */
  readonly pendingBytes: number;
}

/** What a protocol package registers with the engine, e.g. 'tcp', 'hep_tcp', 'hep_udp', 'bins'. */
export interface ProtocolSpec<M = unknown> {
  name: string;
  transport: Transport;
  /** null: a port must always be given (msrp) */
  defaultPort: number | null;
  /** stream protocols: a framer per connection */
  createFramer?(conn: ConnectionInfo): Framer<M>;
  /** datagram protocols: one datagram is one message; may throw a ProtocolError (the datagram is dropped and counted) */
  decodeDatagram?(data: Buffer, rinfo: Address, listener: ListenerInfo): M;
  /** the protocol's max_msg_chunks (0 = unlimited) */
  maxMsgChunks: number;
  /** a cap on bytes of one buffered message (SIP: 65535) */
  maxMsgBytes: number;
  /** write mode and limits of this protocol (the proto_* modparams) */
  write: WriteOptions;
  /**
   * TLS protocols: ms a TLS handshake may take on this protocol's connections, accepted or
   * opened (bins_handshake_timeout, msrp's tls_handshake_timeout); default: the engine's
   * `tlsHandshakeTimeout`.
   */
  tlsHandshakeTimeout?: number;
  /**
   * udp protocols: the receive buffer (SO_RCVBUF, bytes) to ask for on each listener, as
   * OpenSIPS sizes its UDP sockets up to `maxbuffer`. The kernel caps it at net.core.rmem_max;
   * what it granted is in `ListenerInfo.recvBufferSize`, and a capped request is logged as a
   * warning. Absent or 0: the system default (net.core.rmem_default).
   */
  recvBufferSize?: number;
  /**
   * false: the engine publishes none of this protocol's events on the observation tap (no
   * `x:conn:*`, no `x:message:*`: not even the event object is built). For a protocol whose
   * traffic is itself the trace (HEP), which a tracer would only filter out, one event per
   * message saved. Default true.
   */
  tap?: boolean;
}

/** The proto_*: *_async, *_send_timeout, *_async_max_postponed_chunks, *_async_local_* params. */
export interface WriteOptions {
  async: boolean;
  /** ms, sync mode: a write must finish within this or the connection is closed */
  sendTimeout: number;
  /** async mode: queue length past which the connection is marked broken and closed */
  maxPostponedChunks: number;
  /** ms, async mode: connect timeout for a new outbound connection */
  localConnectTimeout: number;
  /**
   * ms, async mode: a queue that makes no progress for this long has its chunks postponed
   * (counted in `<proto>:postponed_writes`); the connection stays open
   */
  localWriteTimeout: number;
  /**
   * A byte bound on a connection's write queue, next to maxPostponedChunks and applied the
   * same way: a chunk added while the queue holds this many bytes or more closes the connection
   * ("Write queue full", ERR_CONN_QUEUE_FULL). 0 or absent: no byte bound. A relay keeps below
   * it with `engine.pause` / `engine.drained`.
   */
  maxQueuedBytes?: number;
}

export interface SendOptions {
  /** send on this connection (reply routing); fails if it is gone */
  connectionId?: ConnectionId;
  /** the source listener to use (by id); default: the first listener of the protocol */
  listenerId?: number;
  /** never open a new connection (OpenSIPS's global no_new_conn flag) */
  noNewConn?: boolean;
  /** TLS: the client domain name, or SNI server name to verify against */
  tlsDomain?: string;
  servername?: string;
  /**
   * Asked about each existing connection that would otherwise be reused for this send (not
   * with `connectionId`); returning false skips it, and when none is accepted a new one is
   * opened. E.g. MSRP's cert_check_on_conn_reusage compares `conn.tls.peerCertificate` with the
   * expected peer. A predicate that throws fails the send with that error.
   */
  reuse?: (conn: ConnectionInfo) => boolean;
}

export type CloseReason =
  | 'EOF received'
  | 'Read error'
  | 'Write error'
  | 'Timeout waiting for a complete message'
  | 'Timeout on no traffic'
  | 'Async connect failed'
  | 'Closed by Proto layer'
  | 'Closed by MI'
  | 'Protocol error'
  | 'Too many read chunks'
  | 'Message too big'
  | 'Write queue full'
  | 'Write timeout'
  | 'TLS handshake failed'
  | 'Shutdown';

export interface MessageEvent<M = unknown> {
  conn: ConnectionInfo;
  message: M;
  /** ms epoch */
  receivedAt: number;
}
export interface DatagramEvent<M = unknown> {
  proto: string;
  listener: ListenerInfo;
  remote: Address;
  message: M;
  receivedAt: number;
}
/** streaming: a piece of the body of the message `messageStart` began */
export interface MessagePartEvent {
  conn: ConnectionInfo;
  /** a view of the read: copy it to keep it past the call */
  data: Buffer;
}
export interface MessageEndEvent {
  conn: ConnectionInfo;
  /** ms epoch */
  receivedAt: number;
}
export interface CloseEvent {
  conn: ConnectionInfo;
  reason: CloseReason;
  /** the error that caused it, when one did (a ProtocolError, LimitError, ConnectionError) */
  error?: Error;
}
export interface ErrorEvent {
  conn?: ConnectionInfo;
  listener?: ListenerInfo;
  error: Error | ProtocolError;
}

export interface EngineEvents {
  accept: (conn: ConnectionInfo) => void;
  connect: (conn: ConnectionInfo) => void;
  message: (ev: MessageEvent) => void;
  /** streaming: a message began (its head); `messagePart` events follow, then `messageEnd` (or a close) */
  messageStart: (ev: MessageEvent) => void;
  messagePart: (ev: MessagePartEvent) => void;
  messageEnd: (ev: MessageEndEvent) => void;
  datagram: (ev: DatagramEvent) => void;
  close: (ev: CloseEvent) => void;
  error: (ev: ErrorEvent) => void;
}
