import { lookup } from 'node:dns/promises';
import { createServer, connect as netConnect, isIP, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Socket as UdpSocket } from 'node:dgram';
import { normalizeHost, formatAddress, parseSocketSpec } from '../address.js';
import { ConfigError, ConnectionError, ErrorCodes, LimitError, ProtocolError } from '../errors.js';
import type { Logger, Stat, StatsRegistry } from '../services.js';
import { makeProfile } from '../profile.js';
import { createStatsRegistry } from '../stats.js';
import type {
  Address,
  CloseReason,
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
import { ConnState } from '../types.js';
import { Conn, type ConnOwner } from './connection.js';
import { intOpt, NOOP_LOGGER, validateSpec } from './options.js';
import { protoStats, type ProtoStats } from './proto-stats.js';
import { applyOptions, keepaliveOnListener } from './sockopts.js';
import { ConnTable, MAX_ALIASES } from './table.js';
import { TlsDomains, type TlsDomain } from './tls.js';
import { acceptTls, clientTlsInfo, timeClientHandshake } from './tls-handshake.js';
import type { ConnectionRelay, DatagramSendOptions, DatagramSent, Engine, EngineOptions } from './types.js';
import { bindUdp, kernelUdpDrops, receiveDatagram, sendDatagram, sendDatagramCb, sizeRecvBuffer, type UdpSink } from './udp.js';
import { tap } from '../tap.js';
import { CloseLog, type CloseCount, type Leveled } from './closes.js';
import { LogLimiter } from '../log-limit.js';
import { isFdExhaustion, nofileLimit, openDescriptors, probeDescriptor } from './fds.js';
import { TimerWheel, type TimerEntry } from './wheel.js';

/** connections kept below the count at which descriptors ran out (see onFdExhausted) */
const FD_HEADROOM = 16;
/**
 * Connections the timer wheel may close in one turn before it yields to I/O (setImmediate) and
 * goes on: deadlines cluster (300 slowloris peers started together time out together), and
 * closing hundreds of sockets in one turn would stall every other connection for tens of ms.
 */
const SWEEP_CLOSES_PER_TURN = 32;
/** the timer wheel: ticks of at most 10 ms (connect, handshake and write timeouts fire within one), 1024 slots */
const WHEEL_TICK_MS = 10;
const WHEEL_SLOTS = 1024;

interface Proto {
  spec: ProtocolSpec;
  stats: ProtoStats;
  live: number;
}

interface ListenerImpl extends ListenerInfo {
  address: Address;
  recvBufferSize?: number;
  server?: Server;
  udp?: UdpSocket;
}

type Handlers = { [K in keyof EngineEvents]: EngineEvents[K][] };

class EngineImpl implements Engine, ConnOwner {
  readonly defaultProfile: ConnectionProfile;
  private readonly maxConnections: number;
  private readonly backlog: number;
  private readonly tlsHandshakeTimeout: number;
  private readonly tls: TlsDomains;
  private readonly log: Logger;
  readonly stats: StatsRegistry;
  private readonly protos = new Map<string, Proto>();
  private readonly listenerList: ListenerImpl[] = [];
  private readonly conns: ConnTable;
  private resolver: ProfileResolver | null = null;
  /** listener id -> keepalive set on its listening socket (see keepaliveOnListener) */
  private readonly listenerKeepalive = new Map<number, number>();
  private readonly handlers: Handlers = { accept: [], connect: [], message: [], messageStart: [], messagePart: [], messageEnd: [], datagram: [], close: [], error: [] };
  private nextListenerId = 1;
  readonly startupSec: number;
  /** the lifetime / read-timeout check interval (deadlines are checked at its boundaries) */
  readonly sweepMs: number;
  /** every connection deadline, one Node timer for all of them (armed for the next tick holding one) */
  private readonly wheel: TimerWheel;
  private wheelTimer: NodeJS.Timeout | null = null;
  private wheelAt = Infinity;
  /** reads being handled (nested: a handler's own read loop), their time, the connections gathering writes */
  private readDepth = 0;
  private readClock = 0;
  private readonly dirty: Conn[] = [];
  /** the descriptor check, once per sweep interval */
  private sweepTimer: NodeJS.Timeout | null;
  private stopped = false;
  private readonly closeLog: CloseLog;
  /** the engine's own lines that peers can cause (closes, refusals): rate-limited per reason and peer */
  private readonly limiter: LogLimiter;
  /** tcp_max_connections_per_ip: accepted connections from one address (0 = no cap) */
  private readonly maxPerIp: number;
  /** a cap set when descriptors ran out (FD_HEADROOM below the count then), lifted once they are free */
  private fdCap = Infinity;
  private readonly fdExhausted: Stat;
  /** outbound TLS without a client domain: node's defaults (system CAs), made once */
  private defaultClientContext: SecureContext | undefined;
  /** sends, writes and closes for connections this engine does not own (EngineOptions.relay) */
  private readonly relay: ConnectionRelay | undefined;

  constructor(opts: EngineOptions) {
    this.defaultProfile = makeProfile(opts.defaultProfile ?? {});
    this.maxConnections = intOpt('maxConnections', opts.maxConnections, 2048, 1);
    this.backlog = intOpt('socketBacklog', opts.socketBacklog, 10, 1);
    this.tlsHandshakeTimeout = intOpt('tlsHandshakeTimeout', opts.tlsHandshakeTimeout, 100, 1);
    const sweep = intOpt('sweepInterval', opts.sweepInterval, 1000, 1);
    this.tls = new TlsDomains(opts.tlsDomains ?? []);
    this.log = opts.logger ?? NOOP_LOGGER;
    this.stats = opts.stats ?? createStatsRegistry();
    this.limiter = new LogLimiter((key, n) => this.log.warn({ suppressed: n, key }, `${n} similar connection log lines suppressed (rate limit)`), opts.logLimit);
    this.closeLog = new CloseLog(this.log, this.limiter);
    this.maxPerIp = intOpt('maxConnectionsPerIp', opts.maxConnectionsPerIp, 0, 0);
    if (!Number.isInteger(this.maxPerIp)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `engine option "maxConnectionsPerIp" expects an integer >= 0, got ${this.maxPerIp}`);
    const first = opts.firstConnectionId;
    if (first !== undefined && (!Number.isInteger(first) || first < 0 || first >= 2 ** 32)) {
      throw new ConfigError(ErrorCodes.INVALID_OPTION, `engine option "firstConnectionId" expects an integer in 0..4294967295, got ${JSON.stringify(first)}`);
    }
    const shard = opts.connectionIdShard;
    if (shard !== undefined && !(Number.isInteger(shard.bits) && shard.bits >= 0 && shard.bits <= 8 && Number.isInteger(shard.index) && shard.index >= 0 && shard.index < 2 ** shard.bits)) {
      throw new ConfigError(ErrorCodes.INVALID_OPTION, `engine option "connectionIdShard" expects { bits: 0..8, index: 0..2**bits-1 }, got ${JSON.stringify(shard)}`);
    }
    this.conns = new ConnTable(first ?? (Math.random() * 2 ** 32) >>> 0, shard);
    this.relay = opts.relay;
    this.startupSec = Math.floor(Date.now() / 1000);
    this.stats.gauge('net', 'waiting_tcp', 'bytes queued for writing on tcp-transport connections', () => this.conns.waitingBytes('tcp'));
    this.stats.gauge('net', 'waiting_tls', 'bytes queued for writing on tls-transport connections', () => this.conns.waitingBytes('tls'));
    this.fdExhausted = this.stats.counter('conn', 'fd_exhausted', 'times the process had no free file descriptor: seen by the engine\'s check each sweep (new connections were then dropped by Node before reaching the engine), or an accept or outbound connect failing with EMFILE/ENFILE');
    this.sweepMs = sweep;
    this.wheel = new TimerWheel(Math.min(WHEEL_TICK_MS, sweep), WHEEL_SLOTS, Date.now());
    // what a soak watches for leaks; computed when scraped, never on the hot path
    this.stats.gauge('conn', 'records', 'connection records in the engine table (open, connecting or closing)', () => this.conns.size);
    this.stats.gauge('conn', 'index_entries', 'entries of the engine\'s address and per-IP indexes', () => this.conns.indexEntries);
    this.stats.gauge('conn', 'timers', 'connection deadlines armed in the engine\'s timer wheel (read, lifetime, connect, handshake, write)', () => this.wheel.size);
    this.sweepTimer = setInterval(() => this.checkDescriptors(), sweep);
    this.sweepTimer.unref();
  }

  now(): number {
    return Date.now();
  }

  clock(): number {
    return this.readDepth !== 0 ? this.readClock : Date.now();
  }

  // ---- reads and their write batches ------------------------------------------------------

  get reading(): boolean {
    return this.readDepth !== 0;
  }

  beginRead(now: number): void {
    if (this.readDepth++ === 0) this.readClock = now;
  }

  /** The read is over: every connection written during it writes what it gathered, once. */
  endRead(): void {
    if (this.readDepth !== 1) {
      this.readDepth--;
      return;
    }
    // flushed while the read's clock still holds (a write refreshes the lifetime with it)
    const d = this.dirty;
    try {
      for (let i = 0; i < d.length; i++) d[i]!.endBatch();
    } finally {
      d.length = 0;
      this.readDepth = 0;
    }
  }

  batched(conn: Conn): void {
    this.dirty.push(conn);
  }

  // ---- timer wheel ------------------------------------------------------------------------

  schedule(e: TimerEntry, at: number): void {
    this.wheel.schedule(e, at);
    const tick = this.wheel.tickMs;
    const wake = (Math.floor(at / tick) + 1) * tick;
    if (wake < this.wheelAt) this.armWheel(wake);
  }

  cancel(e: TimerEntry): void {
    this.wheel.cancel(e);
  }

  private armWheel(wake: number): void {
    if (this.stopped) return;
    if (this.wheelTimer !== null) clearTimeout(this.wheelTimer);
    this.wheelAt = wake;
    const delay = wake - Date.now();
    this.wheelTimer = setTimeout(this.onWheel, delay > 1 ? delay : 1);
    this.wheelTimer.unref();
  }

  private readonly onWheel = (): void => {
    this.wheelTimer = null;
    this.wheelAt = Infinity;
    this.wheel.advance(Date.now());
    this.runWheel();
  };

  /** Fires what is due, at most SWEEP_CLOSES_PER_TURN closes per turn, then arms the timer for the next tick holding an entry. */
  private readonly runWheel = (): void => {
    if (this.stopped) return;
    if (!this.wheel.runDue(Date.now(), SWEEP_CLOSES_PER_TURN)) {
      setImmediate(this.runWheel);
      return;
    }
    const next = this.wheel.nextWake();
    if (next < this.wheelAt) this.armWheel(next);
  };

  // ---- protocols and listeners ---------------------------------------------------------

  registerProtocol(spec: ProtocolSpec<unknown>): void {
    validateSpec(spec);
    if (this.protos.has(spec.name)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `protocol "${spec.name}" is already registered`);
    const p: Proto = { spec, stats: undefined as unknown as ProtoStats, live: 0 };
    p.stats = protoStats(this.stats, spec.name, () => p.live);
    if (spec.transport === 'udp') {
      p.stats.kernelDrops = this.stats.gauge(spec.name, 'kernel_drops', `${spec.name} datagrams the kernel dropped on this process's sockets (receive buffer full): /proc/net/udp drops, read when scraped`, () =>
        kernelUdpDrops(this.listenerList.filter((l) => l.proto === spec.name && l.udp).map((l) => l.address)),
      );
    }
    this.protos.set(spec.name, p);
  }

  protocol(name: string): ProtocolSpec<unknown> | undefined {
    return this.protos.get(name)?.spec;
  }

  listeners(proto?: string): ListenerInfo[] {
    return this.listenerList.filter((l) => proto === undefined || l.proto === proto);
  }

  async listen(specIn: SocketSpec | string): Promise<ListenerInfo> {
    if (this.stopped) throw new ConnectionError(ErrorCodes.CLOSED, 'engine is shut down');
    const spec = typeof specIn === 'string' ? parseSocketSpec(specIn, (pr) => this.protos.get(pr)?.spec.defaultPort ?? null) : specIn;
    const p = this.protos.get(spec.proto);
    if (!p) throw new ConfigError(ErrorCodes.UNKNOWN_PROTOCOL, `socket "${spec.proto}:${spec.host}": protocol "${spec.proto}" is not loaded`);
    const port = spec.port ?? p.spec.defaultPort;
    if (port === null) throw new ConfigError(ErrorCodes.BAD_SOCKET_SPEC, `socket "${spec.proto}:${spec.host}": protocol "${spec.proto}" has no default port, give one`);
    const host = spec.host === '*' ? '0.0.0.0' : spec.host;
    const transport = p.spec.transport;
    if (transport === 'tls' && !this.tls.hasServer()) {
      throw new ConfigError(ErrorCodes.INVALID_OPTION, `socket "${spec.proto}:${host}:${port}": no TLS server domain defined`);
    }
    const l: ListenerImpl = { id: this.nextListenerId++, proto: spec.proto, transport, address: { host, port }, spec, ...(spec.tag !== undefined ? { tag: spec.tag } : {}) };
    if (transport === 'udp') {
      const { udp, address } = await bindUdp(spec.proto, host, port);
      l.address = address;
      l.udp = udp;
      if (p.spec.recvBufferSize) {
        const asked = p.spec.recvBufferSize;
        const { granted, capped } = sizeRecvBuffer(udp, asked);
        l.recvBufferSize = granted;
        if (capped) {
          this.log.warn(
            { proto: spec.proto, listener: formatAddress(address), asked, granted },
            `${spec.proto}:${formatAddress(address)}: receive buffer capped at ${granted} bytes (asked ${asked}); raise net.core.rmem_max to let bursts queue without loss`,
          );
        } else this.log.info({ proto: spec.proto, listener: formatAddress(address), asked, granted }, `${spec.proto}:${formatAddress(address)}: receive buffer ${granted} bytes`);
      } else l.recvBufferSize = udp.getRecvBufferSize();
      const v6 = address.host.includes(':'); // bindUdp opens udp6 for an IPv6 host
      udp.on('message', (msg, rinfo) => {
        // writes the datagram's handlers make to stream connections are gathered as for a stream read
        const now = Date.now();
        this.beginRead(now);
        try {
          receiveDatagram(p.spec, p.stats, l, msg, rinfo.address, rinfo.port, this.udpSink, v6, now);
        } finally {
          this.endRead();
        }
      });
      udp.on('error', (error) => this.emit('error', { listener: l, error }));
    } else {
      const server = createServer({ noDelay: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port, backlog: this.backlog }, () => {
          server.removeListener('error', reject);
          resolve();
        });
      }).catch((err: unknown) => {
        throw new ConnectionError(ErrorCodes.SOCKET, `cannot listen on ${spec.proto}:${formatAddress({ host, port })}: ${(err as Error).message}`, { cause: err });
      });
      const a = server.address();
      if (a && typeof a === 'object') l.address = { host: normalizeHost(a.address), port: a.port };
      const inherited = keepaliveOnListener(server, this.defaultProfile);
      if (inherited !== undefined) this.listenerKeepalive.set(l.id, inherited);
      l.server = server;
      server.on('connection', (s: Socket) => this.onAccept(p, l, s));
      server.on('error', (error: NodeJS.ErrnoException) => {
        if (isFdExhaustion(error.code)) this.onFdExhausted(error.code, 'accept');
        this.emit('error', { listener: l, error });
      });
    }
    this.listenerList.push(l);
    return l;
  }

  // ---- profiles -------------------------------------------------------------------------

  setProfileResolver(resolver: ProfileResolver | null): void {
    if (resolver !== null && this.resolver !== null) {
      throw new ConfigError(ErrorCodes.RESOLVER_SET, 'a profile resolver is already set (one module owns connection profiles, e.g. tcp_mgm); clear it with setProfileResolver(null) first');
    }
    if (resolver !== null && typeof resolver !== 'function') throw new ConfigError(ErrorCodes.INVALID_OPTION, 'setProfileResolver expects a function or null');
    this.resolver = resolver;
  }

  private resolve(proto: string, remote: Address, local: Address, localTag?: string): { profile: ConnectionProfile; matched: boolean } {
    if (!this.resolver) return { profile: this.defaultProfile, matched: false };
    try {
      return this.resolver(localTag !== undefined ? { proto, remote, local, localTag } : { proto, remote, local });
    } catch (err) {
      this.log.error({ err }, 'profile resolver failed; using the default profile');
      return { profile: this.defaultProfile, matched: false };
    }
  }

  // ---- connection table -----------------------------------------------------------------

  private newConn(p: Proto, remote: Address, local: Address, listener: ListenerInfo | undefined, accepted: boolean, profile: ConnectionProfile, state: ConnState, tlsKey?: string): Conn {
    const id = this.conns.allocId();
    const conn = new Conn(this, { id, spec: p.spec, stats: p.stats, remote, local, listener, accepted, profile, state, now: Date.now(), tlsKey });
    this.conns.add(conn, accepted && (this.maxPerIp > 0 || this.resolver !== null));
    p.live++;
    if (conn.tapped && tap.open.hasSubscribers) tap.open.publish({ proto: conn.proto, transport: conn.transport, conn });
    return conn;
  }

  closeCounts(): CloseCount[] {
    return this.closeLog.list();
  }

  connection(id: ConnectionId): ConnectionInfo | undefined {
    return this.conns.get(id);
  }

  connections(proto?: string): ConnectionInfo[] {
    return this.conns.list(proto);
  }

  addAlias(id: ConnectionId, port: number): boolean {
    const conn = this.conns.get(id);
    if (!conn || conn.closed || !Number.isInteger(port) || port < 0 || port > 65535) return false;
    if (conn.aliases.includes(port)) return true;
    if (this.conns.taken(conn, port)) {
      this.log.warn({ id, port, remote: formatAddress(conn.remote) }, 'alias refused: possible port hijack');
      return false;
    }
    if (conn.aliases.length >= MAX_ALIASES) {
      this.log.warn({ id, port }, `alias refused: a connection has at most ${MAX_ALIASES} aliases`);
      return false;
    }
    conn.aliases.push(port);
    this.conns.index(conn, port);
    return true;
  }

  setLifetime(id: ConnectionId, seconds: number): void {
    const conn = this.conns.get(id);
    if (!conn) return;
    const lt = Date.now() + seconds * 1000;
    if (lt > conn.lifetime) conn.lifetime = lt;
  }

  close(id: ConnectionId, reason?: string): boolean {
    const conn = this.conns.get(id);
    if (!conn) return this.relay?.close(id, reason ?? 'Closed by MI') ?? false;
    if (conn.closed) return false;
    conn.close((reason ?? 'Closed by MI') as CloseReason);
    return true;
  }

  pause(id: ConnectionId): boolean {
    const conn = this.conns.get(id);
    if (!conn || conn.closed) return false;
    conn.pause();
    return true;
  }

  resume(id: ConnectionId): boolean {
    const conn = this.conns.get(id);
    if (!conn || conn.closed) return false;
    conn.resume();
    return true;
  }

  drained(id: ConnectionId, mark = 0): Promise<ConnectionInfo> {
    const conn = this.conns.get(id);
    if (!conn || conn.closed) return Promise.reject(new ConnectionError(ErrorCodes.NOT_FOUND, `connection ${id} not found`));
    if (typeof mark !== 'number' || !(mark >= 0)) return Promise.reject(new ConfigError(ErrorCodes.INVALID_OPTION, `drained: mark must be a number of bytes >= 0, got ${JSON.stringify(mark)}`));
    return conn.whenDrained(mark);
  }

  /** the connection cap in force: tcp_max_connections, lower while descriptors ran out */
  private get cap(): number {
    return this.fdCap < this.maxConnections ? this.fdCap : this.maxConnections;
  }

  /**
   * Once per sweep: can one more descriptor be opened? When the table is full, Node (libuv)
   * accepts and closes pending connections with a descriptor it holds back, without telling
   * anyone: this check is how the engine learns it. While capped, the cap is lifted once
   * 2 x FD_HEADROOM descriptors are free again.
   */
  private checkDescriptors(): void {
    const r = probeDescriptor();
    if (r === 'EMFILE' || r === 'ENFILE') {
      this.onFdExhausted(r, 'check');
      return;
    }
    if (this.fdCap === Infinity || r !== 'ok') return;
    const lim = nofileLimit();
    const open = openDescriptors();
    if (lim !== undefined && open !== undefined && lim.soft - open < 2 * FD_HEADROOM) return;
    this.log.info({ connections: this.conns.size, max: this.maxConnections }, `file descriptors are free again: connections accepted up to tcp_max_connections (${this.maxConnections}) again`);
    this.fdCap = Infinity;
  }

  /**
   * Out of descriptors: counted (conn:fd_exhausted), logged (warn, rate-limited), and the
   * engine backs off: it accepts and opens at most FD_HEADROOM fewer connections than it holds
   * now, so that descriptors SIP connections free go to MI, metrics, logs and outbound work
   * first, until they are free again (checkDescriptors).
   */
  private onFdExhausted(code: 'EMFILE' | 'ENFILE', where: 'check' | 'accept' | 'connect'): void {
    this.fdExhausted.inc();
    const cap = Math.max(1, this.conns.size - FD_HEADROOM);
    if (cap < this.fdCap) this.fdCap = cap;
    if (!this.limiter.allow(`fd|${code}`)) return;
    this.log.warn(
      { code, where, connections: this.conns.size, cap: this.fdCap },
      `out of file descriptors (${code}${code === 'ENFILE' ? ', the system\'s table' : ''}): new connections are dropped before they reach the engine; at most ${this.fdCap} connections until descriptors are free again (raise the open-files limit or lower tcp_max_connections)`,
    );
  }

  // ---- events ---------------------------------------------------------------------------

  on<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): void {
    const h = this.handlers as unknown as Record<K, unknown[]>;
    h[event] = [...h[event], fn];
  }

  off<K extends keyof EngineEvents>(event: K, fn: EngineEvents[K]): void {
    const h = this.handlers as unknown as Record<K, unknown[]>;
    h[event] = h[event].filter((f) => f !== fn);
  }

  private emit<K extends keyof EngineEvents>(event: K, arg: Parameters<EngineEvents[K]>[0]): void {
    const list = this.handlers[event] as ((a: typeof arg) => void)[];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(arg);
      } catch (err) {
        if (event === 'error') this.log.error({ err }, 'error handler threw');
        else this.emit('error', { error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  }

  onMessage(conn: Conn, message: unknown, now: number): void {
    if (this.handlers.message.length !== 0) this.emit('message', { conn, message, receivedAt: now });
  }

  onMessageStart(conn: Conn, message: unknown, now: number): void {
    if (this.handlers.messageStart.length !== 0) this.emit('messageStart', { conn, message, receivedAt: now });
  }

  onMessagePart(conn: Conn, data: Buffer): void {
    if (this.handlers.messagePart.length !== 0) this.emit('messagePart', { conn, data });
  }

  onMessageEnd(conn: Conn, now: number): void {
    if (this.handlers.messageEnd.length !== 0) this.emit('messageEnd', { conn, receivedAt: now });
  }

  onPostponed(conn: Conn, chunks: number, timeoutMs: number): void {
    this.log.debug({ id: conn.id, proto: conn.proto, chunks, bytes: conn.queuedBytes, timeoutMs }, 'write postponed: no progress within local_write_timeout, connection kept');
  }

  onClosed(conn: Conn, reason: CloseReason, error: Error | undefined): void {
    if (this.conns.remove(conn)) {
      const p = this.protos.get(conn.proto);
      if (p) p.live--;
    }
    conn.stats.closed.inc();
    this.closeLog.record(conn, reason, error);
    if (conn.tapped && tap.close.hasSubscribers) tap.close.publish(error ? { proto: conn.proto, transport: conn.transport, conn, reason, error } : { proto: conn.proto, transport: conn.transport, conn, reason });
    if (error && error instanceof ProtocolError) this.emit('error', { conn, error });
    else if (error && !(error instanceof LimitError) && (error as { code?: string }).code !== ErrorCodes.EOF) this.emit('error', { conn, error });
    this.emit('close', error ? { conn, reason, error } : { conn, reason });
  }

  // ---- accept ---------------------------------------------------------------------------

  private onAccept(p: Proto, l: ListenerImpl, socket: Socket): void {
    if (this.stopped || socket.remoteAddress === undefined) {
      p.stats.rejected.inc();
      socket.destroy();
      return;
    }
    if (this.conns.size >= this.cap) {
      p.stats.rejected.inc();
      if (this.fdCap < this.maxConnections) this.refusedLog(p, socket, 'fd_exhausted', `connection refused: out of file descriptors, at most ${this.fdCap} connections until some are free`, { max: this.fdCap });
      else this.refusedLog(p, socket, 'max_connections', `connection refused: tcp_max_connections (${this.maxConnections}) reached`, { max: this.maxConnections });
      socket.destroy();
      return;
    }
    const remote = { host: normalizeHost(socket.remoteAddress), port: socket.remotePort ?? 0 };
    // a listener bound to one address accepts on that address: no getsockname per accept
    const lh = l.address.host;
    const local = lh === '0.0.0.0' || lh === '::' ? { host: normalizeHost(socket.localAddress ?? l.address.host), port: socket.localPort ?? l.address.port } : l.address;
    const { profile } = this.resolve(p.spec.name, remote, local, l.tag);
    // a profile's max_connections_per_ip (tcp_mgm attrs) wins over the global; 0 there: no cap
    const perIp = profile.attrs.maxConnectionsPerIp ?? this.maxPerIp;
    if (perIp > 0) {
      const have = this.conns.acceptedFrom(remote.host);
      if (have >= perIp) {
        p.stats.rejected.inc();
        p.stats.rejectedPerIp.inc();
        this.refusedLog(p, socket, 'per_ip', `connection refused: ${remote.host} already has ${have} connections (tcp_max_connections_per_ip ${perIp})`, { max: perIp, profile: profile.id });
        socket.destroy();
        return;
      }
    }
    const conn = this.newConn(p, remote, local, l, true, profile, ConnState.OK);
    applyOptions(socket, profile, this.listenerKeepalive.get(l.id));
    if (p.spec.transport === 'tls') {
      this.acceptTls(p, l, conn, socket);
      return;
    }
    this.attach(conn, socket);
    p.stats.accepted.inc();
    conn.announced = true;
    if (conn.tapped && tap.accept.hasSubscribers) tap.accept.publish({ proto: conn.proto, transport: conn.transport, conn });
    this.emit('accept', conn);
  }

  /** a refused accept, logged at warn, rate-limited per reason and source address */
  private refusedLog(p: Proto, socket: Socket, reason: string, msg: string, extra: Record<string, unknown>): void {
    const log = this.log as Leveled;
    if (typeof log.isLevelEnabled === 'function' && !log.isLevelEnabled('warn')) return;
    const host = socket.remoteAddress ?? '?';
    if (!this.limiter.allow(`${p.spec.name}|refused_${reason}|${host}`)) return;
    log.warn({ proto: p.spec.name, remote: formatAddress({ host: normalizeHost(host), port: socket.remotePort ?? 0 }), reason, ...extra }, msg);
  }

  private acceptTls(p: Proto, l: ListenerImpl, conn: Conn, raw: Socket): void {
    acceptTls(this.tls, l.address, conn, raw, this.handshakeTimeout(p), (s) => this.attach(conn, s), () => {
      p.stats.accepted.inc();
      conn.announced = true;
      if (conn.tapped && tap.accept.hasSubscribers) tap.accept.publish({ proto: conn.proto, transport: conn.transport, conn });
      this.emit('accept', conn);
    });
  }

  /** the protocol's TLS handshake timeout, else the engine-wide one */
  private handshakeTimeout(p: Proto): number {
    return p.spec.tlsHandshakeTimeout ?? this.tlsHandshakeTimeout;
  }

  /** Wires a socket to its connection: framer, read loop, end / error / close. */
  private attach(conn: Conn, socket: Socket): void {
    conn.attach(socket, conn.spec.createFramer!(conn));
  }

  onSocketError(conn: Conn, err: NodeJS.ErrnoException): void {
    if (conn.closed) return;
    if (conn.state === ConnState.CONNECTING) {
      if (isFdExhaustion(err.code)) this.onFdExhausted(err.code, 'connect');
      const tlsErr = conn.transport === 'tls' && err.code !== 'ECONNREFUSED' && err.syscall !== 'connect';
      conn.close(tlsErr ? 'TLS handshake failed' : 'Async connect failed', new ConnectionError(ErrorCodes.CONNECT_FAILED, `connect to ${formatAddress(conn.remote)} failed: ${err.message}`, { cause: err }));
      return;
    }
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
      if (conn.inMessage) conn.close('EOF received', new ConnectionError(ErrorCodes.EOF, `connection reset with an incomplete message pending`, { cause: err }));
      else conn.close('EOF received');
      return;
    }
    const reason: CloseReason = err.syscall === 'write' ? 'Write error' : conn.transport === 'tls' && !conn.announced ? 'TLS handshake failed' : 'Read error';
    conn.close(reason, new ConnectionError(ErrorCodes.SOCKET, err.message, { cause: err }));
  }

  // ---- send -----------------------------------------------------------------------------

  send(proto: string, dest: Address, data: Buffer, opts?: SendOptions): Promise<ConnectionInfo | undefined> {
    const p = this.protos.get(proto);
    if (!p) return Promise.reject(new ConnectionError(ErrorCodes.UNKNOWN_PROTOCOL, `protocol "${proto}" is not registered`));
    if (this.stopped) return Promise.reject(new ConnectionError(ErrorCodes.CLOSED, 'engine is shut down'));
    if (p.spec.transport === 'udp') return this.sendUdp(p, dest, data, opts);
    if (opts?.connectionId !== undefined) {
      const conn = this.conns.get(opts.connectionId);
      if (!conn && this.relay) {
        const id = opts.connectionId;
        const taken = this.relay.send(proto, dest, data, opts, () => Promise.reject(new ConnectionError(ErrorCodes.NOT_FOUND, `connection ${id} not found`)));
        if (taken) return taken;
      }
      if (!conn || conn.closed) return Promise.reject(new ConnectionError(ErrorCodes.NOT_FOUND, `connection ${opts.connectionId} not found`));
      return this.sendOn(conn, data);
    }
    if (isIP(dest.host) === 0) {
      return lookup(dest.host).then(
        (a) => this.send(proto, { host: a.address, port: dest.port }, data, opts),
        (err: unknown) => {
          throw new ConnectionError(ErrorCodes.CONNECT_FAILED, `cannot resolve "${dest.host}": ${(err as Error).message}`, { cause: err });
        },
      );
    }
    return this.sendTo(p, { host: normalizeHost(dest.host), port: dest.port }, data, opts, this.relay);
  }

  /** a send by address: a local connection to reuse, else the relay's (when it takes it), else a new one */
  private sendTo(p: Proto, dest: Address, data: Buffer, opts: SendOptions | undefined, relay: ConnectionRelay | undefined): Promise<ConnectionInfo | undefined> {
    if (this.stopped) return Promise.reject(new ConnectionError(ErrorCodes.CLOSED, 'engine is shut down'));
    const tlsKey = p.spec.transport === 'tls' ? this.tlsKey(opts) : undefined;
    let found: Conn | undefined;
    try {
      found = this.conns.find(p.spec.name, dest.host, dest.port, opts?.listenerId, tlsKey, opts?.reuse);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (found) return this.sendOn(found, data);
    if (relay) {
      const taken = relay.send(p.spec.name, dest, data, opts, () => this.sendTo(p, dest, data, opts, undefined));
      if (taken) return taken;
    }
    return this.connectAndSend(p, dest, data, opts, tlsKey);
  }

  write(id: ConnectionId, data: Buffer): void {
    if (this.stopped) throw new ConnectionError(ErrorCodes.CLOSED, 'engine is shut down');
    const conn = this.conns.get(id);
    if (!conn && this.relay?.write(id, data)) return;
    if (!conn || conn.closed) throw new ConnectionError(ErrorCodes.NOT_FOUND, `connection ${id} not found`);
    const refused = this.refusal(conn);
    if (refused) throw refused;
    this.put(conn, data);
  }

  private tlsKey(opts: SendOptions | undefined): string | undefined {
    if (!opts || (opts.tlsDomain === undefined && opts.servername === undefined)) return undefined;
    return (opts.tlsDomain ?? '') + '/' + (opts.servername ?? '');
  }

  /**
   * Why `conn` refuses one more message, or null: a connection neither connecting nor open
   * (ERR_CONN_CLOSED), or a full queue (ERR_CONN_QUEUE_FULL, the connection then closed).
   * The checks of send on a connection and of write.
   */
  private refusal(conn: Conn): Error | null {
    if (conn.state !== ConnState.CONNECTING && conn.state !== ConnState.OK) {
      return new ConnectionError(ErrorCodes.CLOSED, `connection ${conn.id} is closed`);
    }
    return conn.refuseWhenFull();
  }

  /**
   * Hands a message `refusal` let through to `conn`: queued while connecting, else written
   * (timed against the profile's send_threshold); counted in snd_msgs either way.
   */
  private put(conn: Conn, data: Buffer, cb?: (err?: Error | null) => void): void {
    conn.stats.sndMsgs.inc();
    if (conn.state === ConnState.CONNECTING) {
      conn.enqueuePre(data);
      return;
    }
    const threshold = conn.profile.sendThreshold;
    const t0 = threshold > 0 ? performance.now() : 0;
    conn.writeRaw(data, cb);
    if (threshold > 0) this.checkSlow(conn, t0, threshold);
  }

  private sendOn(conn: Conn, data: Buffer): Promise<ConnectionInfo> {
    const refused = this.refusal(conn);
    if (refused) return Promise.reject(refused);
    if (conn.state === ConnState.CONNECTING) {
      this.put(conn, data);
      return conn.connectPromise!;
    }
    if (!conn.spec.write.async) {
      return new Promise((resolve, reject) => {
        this.put(conn, data, (err) => {
          // Node calls back without an error for writes cut short by destroy
          if (conn.closed) reject(conn.closeError ?? new ConnectionError(ErrorCodes.CLOSED, 'connection closed'));
          else if (err) reject(new ConnectionError(ErrorCodes.SOCKET, `write failed: ${err.message}`, { cause: err }));
          else resolve(conn);
        });
      });
    }
    this.put(conn, data);
    return conn.resolvedSelf;
  }

  private checkSlow(conn: Conn, t0: number, thresholdUs: number): void {
    if (thresholdUs <= 0) return;
    const us = (performance.now() - t0) * 1000;
    if (us > thresholdUs) {
      conn.stats.slowSends.inc();
      this.log.warn({ id: conn.id, us: Math.round(us), threshold: thresholdUs }, 'slow send');
    }
  }

  private pickListener(proto: string, listenerId: number | undefined): ListenerImpl | undefined {
    if (listenerId !== undefined) return this.listenerList.find((l) => l.id === listenerId && l.proto === proto);
    return this.listenerList.find((l) => l.proto === proto);
  }

  private connectAndSend(p: Proto, dest: Address, data: Buffer, opts: SendOptions | undefined, tlsKey: string | undefined): Promise<ConnectionInfo> {
    const spec = p.spec;
    const l = this.pickListener(spec.name, opts?.listenerId);
    if (opts?.listenerId !== undefined && !l) {
      return Promise.reject(new ConnectionError(ErrorCodes.NO_SOCKET, `no ${spec.name} listener with id ${opts.listenerId}`));
    }
    const localQ = l ? l.address : { host: isIP(dest.host) === 6 ? '::' : '0.0.0.0', port: 0 };
    const { profile, matched } = this.resolve(spec.name, dest, localQ, l?.tag);
    const noNew = matched ? profile.noNewConn : opts?.noNewConn === true;
    if (noNew) return Promise.reject(new ConnectionError(ErrorCodes.NO_NEW_CONN, `no ${spec.name} connection to ${formatAddress(dest)} and no_new_conn is set`));
    if (this.conns.size >= this.cap) {
      const why = this.fdCap < this.maxConnections ? `out of file descriptors: at most ${this.fdCap} connections until some are free` : `max connections (${this.maxConnections}) reached`;
      return Promise.reject(new ConnectionError(ErrorCodes.MAX_CONNECTIONS, why));
    }
    let domain: TlsDomain | undefined;
    if (spec.transport === 'tls') {
      domain = this.tls.clientDomain(dest, opts?.tlsDomain, opts?.servername);
      if (opts?.tlsDomain !== undefined && !domain) {
        return Promise.reject(new ConnectionError(ErrorCodes.CONNECT_FAILED, `unknown TLS client domain "${opts.tlsDomain}"`));
      }
    }
    const localHost = l && !['0.0.0.0', '::'].includes(l.address.host) && isIP(l.address.host) === isIP(dest.host) ? l.address.host : undefined;
    const conn = this.newConn(p, dest, { host: localHost ?? (isIP(dest.host) === 6 ? '::' : '0.0.0.0'), port: 0 }, l, false, profile, ConnState.CONNECTING, tlsKey);
    conn.connectPromise = new Promise<Conn>((resolve, reject) => {
      conn.connectResolve = resolve;
      conn.connectReject = reject;
    });
    conn.enqueuePre(data);
    p.stats.sndMsgs.inc();
    const w = spec.write;
    const timeoutMs = w.async && w.localConnectTimeout > 0 ? Math.min(w.localConnectTimeout, profile.connectTimeout) : profile.connectTimeout;
    let socket: Socket;
    if (spec.transport === 'tls') {
      const servername = opts?.servername;
      socket = tlsConnect({
        host: dest.host,
        port: dest.port,
        ...(localHost !== undefined ? { localAddress: localHost } : {}),
        // no client domain: one default context for all such connections (node:tls would build
        // one per connection, an SSL_CTX with the root store each time)
        secureContext: domain ? domain.context : (this.defaultClientContext ??= createSecureContext({})),
        ...(servername !== undefined && isIP(servername) === 0 ? { servername } : {}),
        rejectUnauthorized: domain ? domain.verifyCert : true,
        // tls_mgm verifies the chain only, not the host name (OpenSSL SSL_VERIFY_PEER)
        checkServerIdentity: () => undefined,
      });
      timeClientHandshake(conn, socket, this.handshakeTimeout(p));
    } else {
      socket = netConnect({ host: dest.host, port: dest.port, ...(localHost !== undefined ? { localAddress: localHost } : {}) });
    }
    this.attach(conn, socket);
    conn.armSetup('connect', timeoutMs);
    socket.once(spec.transport === 'tls' ? 'secureConnect' : 'connect', () => this.onConnected(p, conn, socket, domain));
    return conn.connectPromise;
  }

  private onConnected(p: Proto, conn: Conn, socket: Socket, domain: TlsDomain | undefined): void {
    if (conn.closed) return;
    conn.clearSetup();
    applyOptions(socket, conn.profile, undefined);
    conn.local = { host: normalizeHost(socket.localAddress ?? conn.local.host), port: socket.localPort ?? 0 };
    if (socket instanceof TLSSocket) conn.tls = clientTlsInfo(socket, domain);
    conn.state = ConnState.OK;
    if (conn.tapped && tap.connect.hasSubscribers) tap.connect.publish({ proto: conn.proto, transport: conn.transport, conn });
    conn.flushPre();
    p.stats.connected.inc();
    const resolve = conn.connectResolve;
    conn.connectResolve = null;
    conn.connectReject = null;
    conn.announced = true;
    this.emit('connect', conn);
    resolve?.(conn);
  }

  // ---- UDP ------------------------------------------------------------------------------

  private readonly udpSink: UdpSink = {
    datagram: (ev) => this.emit('datagram', ev),
    error: (ev) => this.emit('error', ev),
    wantsDatagrams: () => this.handlers.datagram.length !== 0,
  };

  sendDatagram(proto: string, dest: Address, data: Buffer, done?: DatagramSent, opts?: DatagramSendOptions): void {
    const p = this.protos.get(proto);
    let err: ConnectionError;
    if (!p) err = new ConnectionError(ErrorCodes.UNKNOWN_PROTOCOL, `protocol "${proto}" is not registered`);
    else if (this.stopped) err = new ConnectionError(ErrorCodes.CLOSED, 'engine is shut down');
    else if (p.spec.transport !== 'udp') err = new ConnectionError(ErrorCodes.NO_SOCKET, `${proto} is not a datagram protocol: send it with send()`);
    else {
      const l = this.pickListener(proto, opts?.listenerId);
      if (l?.udp) return sendDatagramCb(p.spec, l, l.udp, p.stats, dest, data, done);
      err = new ConnectionError(ErrorCodes.NO_SOCKET, `no ${proto} listener to send from`);
    }
    if (done) process.nextTick(done, err);
  }

  private sendUdp(p: Proto, dest: Address, data: Buffer, opts: SendOptions | undefined): Promise<undefined> {
    const l = this.pickListener(p.spec.name, opts?.listenerId);
    if (!l?.udp) return Promise.reject(new ConnectionError(ErrorCodes.NO_SOCKET, `no ${p.spec.name} listener to send from`));
    return sendDatagram(p.spec, l, l.udp, p.stats, dest, data);
  }

  // ---- shutdown -------------------------------------------------------------------------

  async shutdown(opts?: { deadlineMs?: number }): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const deadline = opts?.deadlineMs ?? 1000;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    if (this.wheelTimer) clearTimeout(this.wheelTimer);
    this.wheelTimer = null;
    const closing: Promise<void>[] = [];
    for (const l of this.listenerList) {
      if (l.server) {
        const s = l.server;
        closing.push(new Promise((r) => s.close(() => r())));
      }
      if (l.udp) {
        const u = l.udp;
        closing.push(new Promise((r) => u.close(() => r())));
      }
    }
    const flushing: Promise<void>[] = [];
    for (const c of [...this.conns.values()]) {
      if (c.state === ConnState.OK && c.socket && c.queuedBytes > 0) {
        flushing.push(c.endGracefully());
      } else if (c.state !== ConnState.OK) {
        c.close('Shutdown');
      }
    }
    if (flushing.length > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(flushing), new Promise<void>((r) => (t = setTimeout(r, deadline)))]);
      if (t) clearTimeout(t);
    }
    for (const c of [...this.conns.values()]) c.close('Shutdown');
    this.listenerList.length = 0;
    await Promise.all(closing);
    this.limiter.close();
  }
}

/** Creates the connection engine. Register protocols, then `listen` and `send`. */
export function createEngine(opts: EngineOptions = {}): Engine {
  return new EngineImpl(opts);
}
