import type { Socket } from 'node:net';
import { ConnectionError, ErrorCodes, LimitError, ProtocolError, XError } from '../errors.js';
import type {
  Address,
  CloseReason,
  ConnectionId,
  ConnectionInfo,
  ConnectionProfile,
  Framer,
  StreamingSink,
  ListenerInfo,
  ProtocolSpec,
  Transport,
} from '../types.js';
import { ConnState } from '../types.js';
import { MessageEvent, tap } from '../tap.js';
import type { ProtoStats } from './proto-stats.js';
import { TimerEntry, type TimerTarget } from './wheel.js';

const EMPTY = Buffer.alloc(0);

/** The kinds of a connection's wheel entries. */
const T_LIFE = 0;
const T_SETUP = 1;
const T_WRITE = 2;

/** What a setup timer guards: an outbound connect, or a TLS handshake. */
export type SetupKind = 'connect' | 'tls';

const kConn = Symbol('x.conn');
type ConnSocket = Socket & { [kConn]?: Conn };

// The socket listeners are shared by every connection (the connection is found on the socket):
// no closure per connection.
function onSocketData(this: ConnSocket, chunk: Buffer): void {
  this[kConn]!.handleData(chunk);
}
function onSocketEnd(this: ConnSocket): void {
  this[kConn]!.onEnd();
}
function onSocketError(this: ConnSocket, err: NodeJS.ErrnoException): void {
  const conn = this[kConn]!;
  conn.owner.onSocketError(conn, err);
}
function onSocketClose(this: ConnSocket): void {
  this[kConn]!.close('EOF received');
}

/** What a connection needs from its engine (kept narrow so the class stays testable). */
export interface ConnOwner {
  now(): number;
  /** the time of the read being handled, else now: what a write refreshes the lifetime with */
  clock(): number;
  /** lifetime and partial-message deadlines are checked at multiples of this (ms; sweepInterval) */
  readonly sweepMs: number;
  /** a read is being handled: a write to any connection joins the read's write batch */
  readonly reading: boolean;
  /** `conn` gathers its writes until the read ends (the owner then calls conn.endBatch()) */
  batched(conn: Conn): void;
  schedule(e: TimerEntry, at: number): void;
  cancel(e: TimerEntry): void;
  onSocketError(conn: Conn, err: NodeJS.ErrnoException): void;
  /** start-up time, seconds (the cid's middle bits) */
  readonly startupSec: number;
  /** a read (of `now`) is handled: writes are gathered until endRead */
  beginRead(now: number): void;
  endRead(): void;
  onMessage(conn: Conn, msg: unknown, now: number): void;
  /** streaming: a message began (its head), its body follows */
  onMessageStart(conn: Conn, msg: unknown, now: number): void;
  onMessagePart(conn: Conn, data: Buffer): void;
  onMessageEnd(conn: Conn, now: number): void;
  onClosed(conn: Conn, reason: CloseReason, error: Error | undefined): void;
  /** async mode: the queue made no progress for local_write_timeout; `chunks` of it were postponed */
  onPostponed(conn: Conn, chunks: number, timeoutMs: number): void;
}

export interface ConnInit {
  id: ConnectionId;
  spec: ProtocolSpec;
  stats: ProtoStats;
  remote: Address;
  local: Address;
  listener: ListenerInfo | undefined;
  accepted: boolean;
  profile: ConnectionProfile;
  state: ConnState;
  now: number;
  /** TLS identity used for reuse lookups (domain name / servername) */
  tlsKey?: string;
}

/** What the gathered writes of a batch hold beyond the first chunk (made once per connection, on its second gathered chunk). */
interface Gather {
  bufs: Buffer[];
  cbs: ((err?: Error | null) => void)[];
  ends: number[];
}

/**
 * One stream connection: read state for the framer, write queue, deadlines.
 * It is its own FramerSink so the hot path allocates no closures per read or message. Its
 * state is flat and constant-size: queues, batches and timer entries are made on first use.
 */
export class Conn implements ConnectionInfo, StreamingSink<unknown>, TimerTarget {
  readonly id: ConnectionId;
  private cidValue: bigint | undefined;
  readonly proto: string;
  readonly transport: Transport;
  remote: Address;
  local: Address;
  readonly listener: ListenerInfo | undefined;
  state: ConnState;
  readonly accepted: boolean;
  readonly createdAt: number;
  lastUsedAt: number;
  lifetime: number;
  readonly aliases: number[];
  readonly profile: ConnectionProfile;
  tls?: ConnectionInfo['tls'];
  readonly tlsKey: string | undefined;

  readonly spec: ProtocolSpec;
  readonly stats: ProtoStats;
  /** the protocol publishes on the observation tap (ProtocolSpec.tap is not false) */
  readonly tapped: boolean;
  socket: Socket | null = null;
  framer: Framer<unknown> | null = null;
  closed = false;
  /** why it closed: a sync write whose callback fires after destroy is failed with closeError */
  private closeErr: Error | undefined;
  private closeReason: CloseReason = 'Shutdown';
  /** true once 'accept'/'connect' was emitted (TLS: after the handshake) */
  announced = false;
  /** counted in the table's accepted-per-address count (see ConnTable) */
  countedPerIp = false;
  readonly owner: ConnOwner;

  // read state
  /** between a streamed message's head() and end() */
  private streaming = false;
  /** reading paused by pause(); since when (ms epoch) */
  private pausedSince = 0;
  private drainWaiters: { mark: number; resolve: (c: Conn) => void; reject: (e: Error) => void }[] | null = null;
  private probing = false;
  private onProbe: (() => void) | null = null;
  msgAttempts = 0;
  /** absolute ms deadline for the partial message, 0 = none pending */
  readDeadline = 0;
  readonly maxChunks: number;
  private readonly lifetimeMs: number;
  private readonly readTimeoutMs: number;
  private readNow = 0;

  // deadlines, entries of the engine's timer wheel
  /** lifetime and partial-message deadline, checked at sweep-interval boundaries */
  private readonly life: TimerEntry;
  /** connect / TLS handshake timeout */
  private setup: TimerEntry | null = null;
  private setupKind: SetupKind = 'connect';
  private setupMs = 0;
  /** write timeout of the oldest unflushed chunk */
  private writeEntry: TimerEntry | null = null;

  // write state: the pre-connect queue, then unflushed chunks tracked by byte marks
  preQueue: Buffer[] | null = null;
  private preBytes = 0;
  /** cumulative bytes handed to socket.write */
  private written = 0;
  private marks: number[] | null = null;
  private times: number[] | null = null;
  private markHead = 0;
  private flushedAtCheck = 0;
  /**
   * async mode: the queue made no progress for local_write_timeout, so its chunks are
   * postponed (left to the socket, no timer); chunks queued behind them are postponed at once.
   * Cleared when the queue drains (see prune).
   */
  private postponed = false;
  /** writes are gathered for the read being handled (see startBatch) */
  private batching = false;
  /** the gathered chunks: the first in batch0 / batchCb0 / batchEnd0, the rest in `more` */
  private batchN = 0;
  private batchBytes = 0;
  private batch0: Buffer | null = null;
  private batchCb0: ((err?: Error | null) => void) | undefined = undefined;
  private batchEnd0 = 0;
  private more: Gather | null = null;
  private readonly batchMax: number;
  private settledSelf: Promise<Conn> | undefined;
  connectPromise: Promise<Conn> | null = null;
  connectResolve: ((c: Conn) => void) | null = null;
  connectReject: ((e: Error) => void) | null = null;

  constructor(owner: ConnOwner, init: ConnInit) {
    this.owner = owner;
    this.id = init.id;
    this.spec = init.spec;
    this.tapped = init.spec.tap !== false;
    this.stats = init.stats;
    this.proto = init.spec.name;
    this.transport = init.spec.transport;
    this.remote = init.remote;
    this.local = init.local;
    this.listener = init.listener;
    this.accepted = init.accepted;
    this.profile = init.profile;
    this.state = init.state;
    this.createdAt = init.now;
    this.lastUsedAt = init.now;
    this.lifetimeMs = init.profile.conLifetime * 1000;
    this.readTimeoutMs = init.profile.msgReadTimeout * 1000;
    this.lifetime = init.now + this.lifetimeMs;
    this.aliases = [init.remote.port];
    this.tlsKey = init.tlsKey;
    this.maxChunks = init.profile.attrs.maxMsgChunks ?? init.spec.maxMsgChunks;
    const maxPostponed = init.spec.write.maxPostponedChunks;
    this.batchMax = maxPostponed > 0 ? maxPostponed : 1024;
    this.life = new TimerEntry(this, T_LIFE);
    this.scheduleLife(init.now);
  }

  /** inside a message: bytes of it buffered by the framer, or a streamed message not ended */
  get inMessage(): boolean {
    return this.streaming || (this.framer !== null && this.framer.pendingBytes > 0);
  }

  get paused(): boolean {
    return this.pausedSince !== 0;
  }

  /** one settled promise reused by every async send: no allocation per message (made on the first) */
  get resolvedSelf(): Promise<Conn> {
    return (this.settledSelf ??= Promise.resolve(this));
  }

  /** the 64-bit connection id: a random byte, the start-up seconds (24 bits), the id; made on first use */
  get cid(): bigint {
    if (this.cidValue === undefined) {
      const high = ((((Math.random() * 256) & 0xff) << 24) | (this.owner.startupSec & 0xffffff)) >>> 0;
      this.cidValue = (BigInt(high) << 32n) | BigInt(this.id);
    }
    return this.cidValue;
  }

  /** why it closed, as an error; made on first use, since most closes never need one */
  get closeError(): Error | undefined {
    if (!this.closed) return undefined;
    return (this.closeErr ??= new ConnectionError(ErrorCodes.CLOSED, `connection closed: ${this.closeReason}`));
  }

  get queuedBytes(): number {
    return this.preBytes + this.batchBytes + (this.socket ? this.socket.writableLength : 0);
  }

  /** unflushed chunks: pre-connect, left in user space by the socket, and gathered by a batch */
  get queuedChunks(): number {
    this.prune();
    return (this.preQueue !== null ? this.preQueue.length : 0) + (this.marks !== null ? this.marks.length - this.markHead : 0) + this.batchN;
  }

  // ---- socket -------------------------------------------------------------------------

  /** Wires a socket to this connection: read loop, end / error / close (listeners shared by all connections). */
  attach(socket: Socket, framer: Framer<unknown>): void {
    this.socket = socket;
    this.framer = framer;
    (socket as ConnSocket)[kConn] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** the peer's FIN */
  onEnd(): void {
    if (this.inMessage) {
      this.close('EOF received', new ConnectionError(ErrorCodes.EOF, `EOF inside a message (${this.framer?.pendingBytes ?? 0} bytes of it buffered)`));
    } else this.close('EOF received');
  }

  // ---- deadlines ----------------------------------------------------------------------

  /** The wheel calls this when one of the connection's entries is due; true when it closed the connection. */
  onTimer(kind: number, now: number): boolean {
    if (this.closed) return false;
    if (kind === T_LIFE) {
      if (this.sweep(now)) return true;
      this.scheduleLife(now);
      return false;
    }
    if (kind === T_SETUP) {
      const ms = this.setupMs;
      if (this.setupKind === 'tls') this.close('TLS handshake failed', new ConnectionError(ErrorCodes.TLS_HANDSHAKE_TIMEOUT, `TLS handshake not done within ${ms} ms`));
      else this.close('Async connect failed', new ConnectionError(ErrorCodes.CONNECT_TIMEOUT, `connect to ${this.remote.host}:${this.remote.port} not done within ${ms} ms`));
      return true;
    }
    this.checkWrite(now);
    return this.closed;
  }

  /** the first sweep-interval boundary after `t` (OpenSIPS checks its deadlines on 1 s ticks) */
  private boundary(t: number): number {
    const q = this.owner.sweepMs;
    return (Math.floor(t / q) + 1) * q;
  }

  /**
   * Schedules the lifetime entry at the boundary after the nearer of the lifetime and the
   * partial-message deadline. Only a read deadline makes it earlier (scheduleRead); a lifetime
   * refreshed by traffic is seen when the entry fires, which then moves it (nothing is
   * rescheduled per message).
   */
  private scheduleLife(now: number): void {
    let d = this.lifetime;
    if (this.readDeadline !== 0 && this.readDeadline < d) d = this.readDeadline;
    // not checked while connecting (the connect timeout runs) or paused (resume moves the deadlines)
    if ((this.pausedSince !== 0 || this.state === ConnState.CONNECTING) && d < now) d = now;
    const at = this.boundary(d);
    if (!this.life.scheduled || this.life.deadline !== at) this.owner.schedule(this.life, at);
  }

  /** Arms the connect / TLS handshake timeout (replacing one armed before). */
  armSetup(kind: SetupKind, ms: number): void {
    this.setupKind = kind;
    this.setupMs = ms;
    this.owner.schedule((this.setup ??= new TimerEntry(this, T_SETUP)), this.owner.now() + ms);
  }

  clearSetup(): void {
    if (this.setup !== null) this.owner.cancel(this.setup);
  }

  // ---- read path ----------------------------------------------------------------------

  handleData(chunk: Buffer): void {
    if (this.closed) return;
    const framer = this.framer!;
    const now = this.owner.now();
    this.readNow = now;
    this.stats.rcvBytes.inc(chunk.length);
    // A read on a connection whose partial-message deadline already passed closes it
    // instead of reading (as OpenSIPS checks before each read job).
    if (this.readDeadline !== 0 && now > this.readDeadline) {
      this.stats.limitCloses.inc();
      this.close('Timeout waiting for a complete message', new LimitError(ErrorCodes.READ_TIMEOUT, `no complete message within ${this.profile.msgReadTimeout} s`));
      return;
    }
    // Writes made while this chunk is framed, on this connection or any other, are gathered and
    // leave in one write per connection when the read ends (see startBatch).
    this.owner.beginRead(now);
    try {
      framer.push(chunk, this);
    } catch (err) {
      this.owner.endRead();
      if (this.closed) return;
      if (err instanceof ProtocolError) {
        this.stats.protoErrors.inc();
        this.close('Protocol error', err);
      } else {
        this.close('Read error', err instanceof Error ? err : new Error(String(err)));
      }
      return;
    }
    this.owner.endRead();
    if (this.closed) return;
    const pending = framer.pendingBytes;
    if (pending > 0 || this.streaming) {
      if (pending > this.spec.maxMsgBytes) {
        this.stats.limitCloses.inc();
        this.close('Message too big', new LimitError(ErrorCodes.MSG_TOO_BIG, `${pending} bytes buffered without completing a message (max ${this.spec.maxMsgBytes})`));
        return;
      }
      if (++this.msgAttempts === 1) {
        this.readDeadline = now + this.readTimeoutMs;
        const at = this.boundary(this.readDeadline);
        if (at < this.life.deadline || !this.life.scheduled) this.owner.schedule(this.life, at);
      }
      if (this.maxChunks > 0 && this.msgAttempts >= this.maxChunks) {
        this.stats.limitCloses.inc();
        this.close('Too many read chunks', new LimitError(ErrorCodes.MAX_CHUNKS, `Made ${this.msgAttempts} read attempts without completing a message (max_msg_chunks ${this.maxChunks})`));
      }
    }
  }
  /**
   * A message is complete (whole, or a streamed one's end): the chunk count and read deadline
   * start over, the lifetime is refreshed and rcv_msgs counts it. Returns the read's time.
   */
  private completed(): number {
    this.msgAttempts = 0;
    this.readDeadline = 0;
    const now = this.readNow;
    this.lastUsedAt = now;
    const lt = now + this.lifetimeMs;
    if (lt > this.lifetime) this.lifetime = lt;
    this.stats.rcvMsgs.inc();
    return now;
  }

  /** FramerSink: a whole message; `wire` its bytes (default: the message, when it is a Buffer). */
  message(msg: unknown, wire?: Buffer): void {
    if (this.closed) return;
    const now = this.completed();
    if (this.tapped && tap.messageIn.hasSubscribers) this.publishIn(msg, wire, false);
    this.owner.onMessage(this, msg, now);
  }

  /** FramerSink, streaming: a message begins; its body follows in part() calls, then end(). */
  head(msg: unknown, wire?: Buffer): void {
    if (this.closed) return;
    if (this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: head() while a streamed message is in progress`);
    this.streaming = true;
    const now = this.readNow;
    this.lastUsedAt = now;
    if (this.tapped && tap.messageIn.hasSubscribers) this.publishIn(msg, wire, true);
    this.owner.onMessageStart(this, msg, now);
  }

  /** FramerSink, streaming: a piece of the body of the message in progress. */
  part(data: Buffer): void {
    if (this.closed) return;
    if (!this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: part() outside a streamed message`);
    if (this.tapped && tap.messagePart.hasSubscribers) this.publishPart(data, false);
    this.owner.onMessagePart(this, data);
  }

  /** FramerSink, streaming: the message in progress is complete; `wire`: its closing bytes, if any. */
  end(wire?: Buffer): void {
    if (this.closed) return;
    if (!this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: end() outside a streamed message`);
    this.streaming = false;
    const now = this.completed();
    if (this.tapped && tap.messagePart.hasSubscribers) this.publishPart(wire ?? EMPTY, true);
    this.owner.onMessageEnd(this, now);
  }

  // ---- flow control -------------------------------------------------------------------

  /** Stops reading (socket.pause); the read timeout and lifetime do not run while paused. */
  pause(): void {
    if (this.closed || this.pausedSince !== 0) return;
    this.pausedSince = this.owner.now() || 1;
    this.socket?.pause();
  }

  /** Reads again; the partial-message deadline and the lifetime are moved by the time paused. */
  resume(): void {
    if (this.closed || this.pausedSince === 0) return;
    const idle = this.owner.now() - this.pausedSince;
    this.pausedSince = 0;
    if (idle > 0) {
      if (this.readDeadline !== 0) this.readDeadline += idle;
      this.lifetime += idle;
    }
    this.socket?.resume();
  }

  /**
   * Resolves once the queued bytes are at or below `mark`; rejects with the close error if
   * the connection closes first. Checked each time the socket has written everything queued
   * before the check (an empty write's callback), so it costs nothing per message.
   */
  whenDrained(mark: number): Promise<Conn> {
    if (this.closed) return Promise.reject(this.closeError!);
    if (this.queuedBytes <= mark) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      (this.drainWaiters ??= []).push({ mark, resolve, reject });
      this.probe();
    });
  }

  private probe(): void {
    if (this.probing || this.closed || this.socket === null || this.state !== ConnState.OK) return;
    this.probing = true;
    this.socket.write(EMPTY, (this.onProbe ??= this.probed.bind(this)));
  }

  private probed(): void {
    this.probing = false;
    const waiters = this.drainWaiters;
    if (this.closed || waiters === null) return;
    const q = this.queuedBytes;
    let kept = 0;
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (q <= w.mark) w.resolve(this);
      else waiters[kept++] = w;
    }
    waiters.length = kept;
    if (kept === 0) this.drainWaiters = null;
    else this.probe();
  }

  /** FramerSink: a completed keep-alive item. */
  keepalive(): void {
    this.msgAttempts = 0;
    this.readDeadline = 0;
  }

  /**
   * FramerSink: write bytes back on this connection (a CRLF pong). A pong is a chunk like any
   * send (OpenSIPS answers a ping through tcp_send): adding it to a queue that holds
   * max_postponed_chunks closes the connection ("Write queue full"), so a peer that pings and
   * never reads cannot grow the queue without bound.
   */
  reply(data: Buffer): void {
    if (this.closed || this.state !== ConnState.OK || this.refuseWhenFull()) return;
    this.writeRaw(data, undefined, true);
  }

  // ---- tap ----------------------------------------------------------------------------

  private publishIn(msg: unknown, wire: Buffer | undefined, streamed: boolean): void {
    const bytes = wire ?? (Buffer.isBuffer(msg) ? msg : EMPTY);
    tap.messageIn.publish(new MessageEvent(this.proto, this.transport, this, this.listener, this.local, this.remote, bytes, msg, undefined, streamed || undefined, undefined, this.readNow));
  }

  private publishPart(bytes: Buffer, last: boolean): void {
    tap.messagePart.publish(new MessageEvent(this.proto, this.transport, this, this.listener, this.local, this.remote, bytes, undefined, undefined, true, last, this.readNow));
  }

  private publishOut(bytes: Buffer, reply: boolean): void {
    tap.messageOut.publish(new MessageEvent(this.proto, this.transport, this, this.listener, this.local, this.remote, bytes, undefined, reply ? 'reply' : 'message', undefined, undefined, Date.now()));
  }

  // ---- write path ---------------------------------------------------------------------

  /**
   * The max_postponed_chunks check of every chunk added (send, write, pong, pre-connect):
   * when the queue already holds that many, the chunk is refused, counted in limit_closes and
   * the connection closed ("Write queue full", as OpenSIPS marks it bad); returns the error.
   */
  refuseWhenFull(): LimitError | null {
    const max = this.spec.write.maxPostponedChunks;
    const maxBytes = this.spec.write.maxQueuedBytes ?? 0;
    let full: LimitError;
    if (maxBytes > 0 && this.queuedBytes >= maxBytes) {
      full = new LimitError(ErrorCodes.QUEUE_FULL, `write queue holds ${this.queuedBytes} unflushed bytes (maxQueuedBytes ${maxBytes})`);
    } else if (max <= 0 || this.queuedChunks < max) return null;
    else full = new LimitError(ErrorCodes.QUEUE_FULL, `write queue holds ${max} unflushed chunks (max_postponed_chunks)`);
    this.stats.limitCloses.inc();
    this.close('Write queue full', full);
    return full;
  }

  /** Queues while connecting; order is kept because the queue is flushed before any later write. */
  enqueuePre(data: Buffer): void {
    (this.preQueue ??= []).push(data);
    this.preBytes += data.length;
  }

  flushPre(): void {
    const q = this.preQueue;
    this.preQueue = null;
    this.preBytes = 0;
    if (q !== null) for (const b of q) this.writeRaw(b);
    if (this.drainWaiters !== null) this.probe();
  }

  /**
   * Starts gathering this connection's writes for the read being handled (on any connection):
   * every chunk written synchronously by the message handlers leaves in one socket write when
   * the read ends, instead of one write syscall each (the way an echo writes once per read, and
   * a relay once per read for each connection it forwards to). Only when nothing is queued: a
   * socket with queued bytes already coalesces its writes, and its chunks count as postponed
   * as before. Returns false when the connection cannot batch.
   */
  private startBatch(): boolean {
    const sock = this.socket;
    if (sock === null || this.state !== ConnState.OK || sock.writableLength !== 0) return false;
    this.prune();
    this.batching = true;
    this.owner.batched(this);
    return true;
  }

  /** Ends the batch (the owner calls this when the read ends): writes what it gathered. */
  endBatch(): void {
    if (!this.batching) return;
    this.batching = false;
    this.writeBatch();
  }

  private gather(data: Buffer, cb: ((err?: Error | null) => void) | undefined): void {
    if (this.batchN === 0) {
      this.batch0 = data;
      this.batchCb0 = cb;
      this.batchEnd0 = this.written;
    } else {
      const g = (this.more ??= { bufs: [], cbs: [], ends: [] });
      if (this.batchN === 1) {
        // a second chunk: the batch moves to the lists, the first chunk first
        g.bufs.push(this.batch0!);
        g.ends.push(this.batchEnd0);
        if (this.batchCb0 !== undefined) g.cbs.push(this.batchCb0);
      }
      g.bufs.push(data);
      g.ends.push(this.written);
      if (cb !== undefined) g.cbs.push(cb);
    }
    this.batchN++;
    this.batchBytes += data.length;
  }

  /**
   * Writes the gathered chunks as one buffer, then accounts each of them as if it had been
   * written alone: those still unflushed are chunks with their own marks for queuedChunks,
   * the write timeout and max_postponed_chunks. (The socket releases a write's bytes only
   * once all of it is written, so a batch the kernel takes in part leaves all its chunks
   * unflushed, where single writes would have flushed those taken whole before the first
   * partial one.) Gathered chunks count as queued (queuedChunks) while they wait, so every
   * write of the batch passed the max_postponed_chunks check of a single write and the chunks
   * left here stay within it.
   */
  private writeBatch(): void {
    const n = this.batchN;
    if (n === 0) return;
    const sock = this.socket!;
    const g = n === 1 ? null : this.more!;
    const data = g === null ? this.batch0! : Buffer.concat(g.bufs, this.batchBytes);
    let cb: ((err?: Error | null) => void) | undefined;
    if (n === 1) cb = this.batchCb0;
    else if (g!.cbs.length !== 0) {
      const list = g!.cbs.splice(0);
      cb = (err) => {
        for (let i = 0; i < list.length; i++) list[i]!(err);
      };
    }
    const end0 = this.batchEnd0;
    this.batchN = 0;
    this.batchBytes = 0;
    this.batch0 = null;
    this.batchCb0 = undefined;
    if (cb !== undefined) sock.write(data, cb);
    else sock.write(data);
    if (this.closed) {
      // the last words of a closing connection: nothing is accounted any more
      if (g !== null) g.bufs.length = g.ends.length = 0;
      return;
    }
    const flushed = this.written - sock.writableLength;
    let left = 0;
    if (flushed < this.written) {
      // behind a postponed queue: unless it drained meanwhile, these chunks are postponed too
      if (this.postponed) this.prune();
      const now = this.owner.now();
      const marks = (this.marks ??= []);
      const times = (this.times ??= []);
      for (let i = 0; i < n; i++) {
        const end = g === null ? end0 : g.ends[i]!;
        if (end > flushed) {
          marks.push(end);
          times.push(now);
          left++;
        }
      }
    }
    if (g !== null) g.bufs.length = g.ends.length = 0;
    if (left === 0) {
      this.refreshLifetime();
      return;
    }
    this.timeQueued(left);
  }

  /** Writes to the socket, tracking whether the chunk stayed in user space (postponed). `reply`: a framer's own reply (tap). */
  writeRaw(data: Buffer, cb?: (err?: Error | null) => void, reply = false): void {
    if (this.tapped && tap.messageOut.hasSubscribers) this.publishOut(data, reply);
    this.written += data.length;
    this.stats.sndBytes.inc(data.length);
    if (this.batching || (this.owner.reading && this.startBatch())) {
      this.gather(data, cb);
      // A batch never holds more chunks than max_postponed_chunks: write it and go on batching.
      if (this.batchN >= this.batchMax) this.writeBatch();
      return;
    }
    const sock = this.socket!;
    if (cb) sock.write(data, cb);
    else sock.write(data);
    if (sock.writableLength > 0) {
      // behind a postponed queue: unless it drained meanwhile, this chunk is postponed too
      if (this.postponed) this.prune();
      (this.marks ??= []).push(this.written);
      (this.times ??= []).push(this.owner.now());
      this.timeQueued(1);
    } else {
      this.refreshLifetime();
    }
  }

  /**
   * A write reached the kernel: the connection was used, its lifetime starts over (at the
   * time of the read being handled, when there is one: no clock read per write).
   */
  private refreshLifetime(): void {
    const now = this.owner.clock();
    this.lastUsedAt = now;
    const lt = now + this.lifetimeMs;
    if (lt > this.lifetime) this.lifetime = lt;
  }

  /**
   * `n` chunks were left unflushed (their marks pushed): behind a postponed queue they are
   * postponed at once, as OpenSIPS 3.x appends to a connection's pending chunks without a
   * direct write attempt; otherwise the write timer watches them.
   */
  private timeQueued(n: number): void {
    if (this.postponed) this.stats.postponedWrites.inc(n);
    else if (this.writeEntry === null || !this.writeEntry.scheduled) this.armWriteTimer(this.writeTimeoutMs());
  }

  private writeTimeoutMs(): number {
    const w = this.spec.write;
    return w.async ? w.localWriteTimeout : w.sendTimeout;
  }

  /** Drops the marks of chunks the socket has handed to the kernel. */
  private prune(): void {
    const marks = this.marks;
    if (marks === null || this.markHead === marks.length || !this.socket) return;
    const flushed = this.written - this.batchBytes - this.socket.writableLength;
    const before = this.markHead;
    while (this.markHead < marks.length && marks[this.markHead]! <= flushed) this.markHead++;
    if (this.markHead !== before) this.refreshLifetime();
    if (this.markHead === marks.length) {
      marks.length = 0;
      this.times!.length = 0;
      this.markHead = 0;
      // drained: a later stall is timed afresh
      this.postponed = false;
    } else if (this.markHead > 1024) {
      this.marks = marks.slice(this.markHead);
      this.times = this.times!.slice(this.markHead);
      this.markHead = 0;
    }
  }

  private armWriteTimer(ms: number): void {
    if (ms <= 0) return;
    this.flushedAtCheck = this.written - this.socket!.writableLength;
    this.owner.schedule((this.writeEntry ??= new TimerEntry(this, T_WRITE)), this.owner.now() + ms);
  }

  /**
   * The oldest unflushed chunk is older than the write timeout and no byte was flushed since
   * the last check (a busy but healthy peer is never cut off). Sync mode: "Write timeout",
   * the connection is closed (tcp_send_timeout). Async mode: the unflushed chunks become
   * postponed and the connection stays open, as OpenSIPS 3.x handed what a worker could not
   * write within tcp_async_local_write_timeout to TCP main; a stuck peer is then bounded by
   * max_postponed_chunks ("Write queue full") and by its lifetime, which only flushed
   * chunks refresh ("Timeout on no traffic").
   */
  private checkWrite(now: number): void {
    if (this.closed || !this.socket) return;
    this.prune();
    const marks = this.marks;
    if (marks === null || this.markHead === marks.length) return;
    const timeout = this.writeTimeoutMs();
    const age = now - this.times![this.markHead]!;
    const flushed = this.written - this.socket.writableLength;
    if (age >= timeout && flushed === this.flushedAtCheck) {
      if (this.spec.write.async) {
        const n = marks.length - this.markHead;
        this.postponed = true;
        this.stats.postponedWrites.inc(n);
        this.owner.onPostponed(this, n, timeout);
        return;
      }
      this.stats.limitCloses.inc();
      this.close('Write timeout', new LimitError(ErrorCodes.WRITE_TIMEOUT, `a queued chunk was not written within ${timeout} ms`));
      return;
    }
    this.armWriteTimer(age >= timeout ? timeout : timeout - age);
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** The lifetime / partial-message check (the wheel's lifetime entry); returns true if it closed the connection. */
  sweep(now: number): boolean {
    if (this.state === ConnState.CONNECTING) return false;
    // paused by us: the peer is not the one stalling (resume() moves the deadlines)
    if (this.pausedSince !== 0) return false;
    if (this.readDeadline !== 0 && now > this.readDeadline) {
      this.stats.limitCloses.inc();
      this.close('Timeout waiting for a complete message', new LimitError(ErrorCodes.READ_TIMEOUT, `no complete message within ${this.profile.msgReadTimeout} s`));
      return true;
    }
    if (now > this.lifetime) {
      // chunks flushed since they were queued count as traffic
      this.prune();
      if (now > this.lifetime) {
        this.close('Timeout on no traffic', new LimitError(ErrorCodes.LIFETIME, `no traffic for ${this.profile.conLifetime} s`));
        return true;
      }
    }
    return false;
  }

  close(reason: CloseReason, error?: Error): void {
    if (this.closed) return;
    // the peer answering our shutdown FIN is part of the shutdown, not an EOF of its own
    if (this.shuttingDown && reason === 'EOF received' && !error) reason = 'Shutdown';
    this.closed = true;
    this.closeErr = error;
    this.closeReason = reason;
    this.state = reason === 'EOF received' ? ConnState.EOF : ConnState.BAD;
    this.owner.cancel(this.life);
    if (this.setup !== null) this.owner.cancel(this.setup);
    if (this.writeEntry !== null) this.owner.cancel(this.writeEntry);
    this.preQueue = null;
    this.preBytes = 0;
    const sock = this.socket;
    if (sock !== null) {
      // replies framed before the close are handed to the kernel, as single writes would be
      if (this.batching) {
        this.batching = false;
        this.writeBatch();
      }
      sock.removeListener('data', onSocketData);
      sock.destroy();
    }
    if (this.drainWaiters !== null) {
      const waiters = this.drainWaiters;
      this.drainWaiters = null;
      for (const w of waiters) w.reject(this.closeError!);
    }
    if (this.connectReject) {
      this.connectReject(this.closeError!);
      this.connectReject = null;
      this.connectResolve = null;
    }
    this.owner.onClosed(this, reason, error);
  }

  private shuttingDown = false;

  /** Graceful end for shutdown: flush what is queued, then FIN; resolves once closed. */
  endGracefully(): Promise<void> {
    const sock = this.socket;
    if (!sock || this.closed) return Promise.resolve();
    this.endBatch();
    this.shuttingDown = true;
    return new Promise((resolve) => {
      sock.once('close', () => resolve());
      sock.once('finish', () => {
        this.close('Shutdown');
        resolve();
      });
      sock.end();
    });
  }
}
