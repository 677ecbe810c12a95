import type {
  Address,
  ConnectionId,
  ConnectionInfo,
  ConnectionProfile,
  EngineEvents,
  ListenerInfo,
  ProfileResolver,
  ProtocolSpec,
  SendOptions,
  SocketSpec,
} from '../types.js';
import type { Logger, StatsRegistry } from '../services.js';
import type { LogLimiterOptions } from '../log-limit.js';
import type { CloseCount } from './closes.js';
import type { ConnectionError } from '../errors.js';

/**
 * The completion of `Engine.sendDatagram`: called once, never synchronously; with no argument
 * once the kernel took the datagram, else with a ConnectionError saying why it was not sent.
 */
export type DatagramSent = (err?: ConnectionError) => void;

/** Options of `Engine.sendDatagram`. */
export interface DatagramSendOptions {
  /** the listener to send from (by id); default: the first listener of the protocol */
  listenerId?: number;
}

/** A TLS domain, as tls_mgm defines one. PEM contents or file paths. */
export interface TlsDomainConfig {
  name: string;
  side: 'server' | 'client';
  certificate?: string;
  privateKey?: string;
  caList?: string;
  /** server default true, client default true (as tls_mgm) */
  verifyCert?: boolean;
  /** server side: ask for and require a client certificate (default true) */
  requireCert?: boolean;
  /** `ip:port` list or ['*'] (default) */
  matchIpAddress?: string[];
  /** FQDN globs, '*', or 'none' */
  matchSipDomain?: string[];
  /** 'TLSv1_2', 'TLSv1_3', 'TLSv1_2-TLSv1_3', 'SSLv23' */
  tlsMethod?: string;
  ciphersList?: string;
  /**
   * server side: issue session tickets (resumption without a full handshake). Default: on,
   * except for a domain that asks for client certificates (requireCert or verifyCert): there
   * every TLS 1.3 ticket keeps a copy of the client's certificate chain for the connection's
   * life (about 16 KB per idle connection), so it is off unless set to true.
   */
  sessionTickets?: boolean;
}

export interface EngineOptions {
  /** overrides of the default profile (the global tcp_* params) */
  defaultProfile?: Partial<ConnectionProfile>;
  /** tcp_max_connections, default 2048 (accepted + outbound) */
  maxConnections?: number;
  /**
   * tcp_max_connections_per_ip: accepted connections one source address may hold at once
   * (default 0: no cap); a profile's `attrs.maxConnectionsPerIp` (tcp_mgm `max_connections_per_ip`)
   * wins for the connections it matches. A refused accept is closed at once, counted in
   * `<proto>:rejected` and `<proto>:rejected_per_ip`, and logged (warn, rate-limited).
   */
  maxConnectionsPerIp?: number;
  /** tcp_socket_backlog, default 10 */
  socketBacklog?: number;
  /** ms, default 100 (fixed in OpenSIPS for hep_tls); a protocol's own `tlsHandshakeTimeout` wins */
  tlsHandshakeTimeout?: number;
  tlsDomains?: TlsDomainConfig[];
  logger?: Logger;
  stats?: StatsRegistry;
  /** how often the lifetime / read-timeout sweep runs, ms (default 1000, as OpenSIPS) */
  sweepInterval?: number;
  /** the first connection id (default: random, as OpenSIPS); for deterministic tests and traces */
  firstConnectionId?: number;
  /**
   * Connection ids of one engine among several sharing one id space (one per worker process):
   * every id this engine allocates has `index` in its low `bits` bits (`id & (2**bits - 1)`,
   * see `connectionIdShard`), and ids step by `2**bits` from the (random) first id. bits 0..8,
   * index below 2**bits. Default: bits 0 (ids step by 1, as OpenSIPS).
   */
  connectionIdShard?: { index: number; bits: number };
  /**
   * Where the sends this engine has no connection for go before they fail or connect (several
   * engines in several processes, one owning each connection): see ConnectionRelay.
   */
  relay?: ConnectionRelay;
  /**
   * rate limit of the engine's own log lines that peers can cause (connection closes,
   * refusals, accept errors): per reason and peer address, `burst` lines per `intervalMs`
   * (default 10 per 10 s), then one "N ... suppressed" line
   */
  logLimit?: LogLimiterOptions;
}

/**
 * The hook for connections another engine owns (x-server's workers). The engine asks it only
 * when its own table has no connection for the call; each method either takes the call (another
 * process owns the connection and the call is handed there, in order per connection) or declines.
 */
export interface ConnectionRelay {
  /**
   * A stream send with no local connection: by `opts.connectionId` not in the table, or by
   * address with none to reuse. Return a promise to take it (resolved with the connection used,
   * wherever it lives); undefined to decline (the engine then rejects ERR_CONN_NOT_FOUND for an
   * id, or connects for an address). `local` runs the send here as if there were no relay
   * (looks for a local connection again, else connects): for a relay that learns only later
   * that no other process has one.
   */
  send(proto: string, dest: Address, data: Buffer, opts: SendOptions | undefined, local: () => Promise<ConnectionInfo | undefined>): Promise<ConnectionInfo | undefined> | undefined;
  /** `write(id)` for an id not in the table: true when taken (the engine then throws nothing) */
  write(id: ConnectionId, data: Buffer): boolean;
  /** `close(id)` for an id not in the table: true when taken */
  close(id: ConnectionId, reason: string): boolean;
}

/** The connection engine every protocol shares. */
export interface Engine {
  readonly defaultProfile: ConnectionProfile;
  /** the registry the engine counts into (EngineOptions.stats, or its own) */
  readonly stats: StatsRegistry;
  registerProtocol(spec: ProtocolSpec<unknown>): void;
  protocol(name: string): ProtocolSpec<unknown> | undefined;
  /** opens a listener; `spec` may be a string `proto:host[:port]`; port 0 = ephemeral */
  listen(spec: SocketSpec | string): Promise<ListenerInfo>;
  listeners(proto?: string): ListenerInfo[];
  /**
   * Sends one message. Stream protocols reuse a connection (by id, then by proto + remote
   * address/alias + listener + TLS identity) or open one unless no_new_conn applies.
   * Resolves with the connection used once the bytes are accepted (written in sync mode,
   * queued in async mode); rejects with a ConnectionError. Datagram protocols resolve undefined.
   */
  send(proto: string, dest: Address, data: Buffer, opts?: SendOptions): Promise<ConnectionInfo | undefined>;
  /**
   * Writes one message on an existing stream connection, by id, with no promise: the
   * fire-and-forget form of `send(proto, dest, data, { connectionId })` for replies. Every
   * limit and statistic applies as for send (max_postponed_chunks, send_threshold,
   * snd_msgs...). Throws what send would reject with when the bytes are refused
   * (ERR_CONN_NOT_FOUND, ERR_CONN_CLOSED, ERR_CONN_QUEUE_FULL: the connection is then closed
   * as for send); a write that fails later (sync mode) closes the connection ('Write error',
   * a close event) instead of rejecting a promise.
   */
  write(id: ConnectionId, data: Buffer): void;
  /**
   * Sends one datagram from a listener of the udp protocol `proto`, with no promise: the
   * callback form of `send(proto, dest, data, { listenerId })` for senders of many datagrams
   * (a HEP destination). `done` is called once, never synchronously: with no argument once the
   * kernel took the datagram (counted in snd_msgs / snd_bytes, as send), else with a
   * ConnectionError: ERR_CONN_SOCKET (refused by the socket), ERR_CONN_NO_SOCKET (no listener
   * of `proto`, or `proto` is not a udp protocol), ERR_CONN_UNKNOWN_PROTOCOL, ERR_CONN_CLOSED
   * (the engine is shut down). Datagrams leave in call order; the tap sees them as send's.
   * `dest.host` should be an IP address (a name is resolved by node:dgram for every datagram).
   */
  sendDatagram(proto: string, dest: Address, data: Buffer, done?: DatagramSent, opts?: DatagramSendOptions): void;
  connection(id: ConnectionId): ConnectionInfo | undefined;
  /**
   * Connections closed since start, per protocol and reason code (`eof`, `eof_partial`,
   * `read_timeout`, `lifetime`, `protocol_error`, ...: CLOSE_REASON_CODES); what the server
   * exports as x_conn_closes_total{proto,reason}.
   */
  closeCounts(): CloseCount[];
  connections(proto?: string): ConnectionInfo[];
  /** adds an alias port to a connection (RFC 5923 / tcp_accept_aliases); false when refused */
  addAlias(id: ConnectionId, port: number): boolean;
  /** extends a connection's lifetime to at least now + seconds (registrar's "set lifetime") */
  setLifetime(id: ConnectionId, seconds: number): void;
  close(id: ConnectionId, reason?: string): boolean;
  /**
   * Stops reading a stream connection (the kernel then slows its peer); the partial-message
   * deadline and the lifetime do not run while paused. false when the connection is unknown.
   */
  pause(id: ConnectionId): boolean;
  /** Reads a paused connection again (its deadlines moved by the time paused). */
  resume(id: ConnectionId): boolean;
  /**
   * Resolves once the connection's write queue holds at most `mark` bytes (default 0), at once
   * if it already does; rejects with a ConnectionError if the connection closes first
   * (ERR_CONN_NOT_FOUND when unknown). With `pause` / `resume`: the flow control of a relay.
   */
  drained(id: ConnectionId, mark?: number): Promise<ConnectionInfo>;
  /**
   * Sets the function that picks a connection's profile (tcp_mgm), or clears it with null.
   * Throws ERR_CONN_RESOLVER_SET when one is already set: clear it first.
   */
  setProfileResolver(resolver: ProfileResolver | null): void;
  on<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): void;
  off<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): void;
  /** stop accepting, flush write queues up to the deadline, close everything */
  shutdown(opts?: { deadlineMs?: number }): Promise<void>;
}
