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

const EMPTY = Buffer.alloc(0);

/** What a connection needs from its engine (kept narrow so the class stays testable). */
export interface ConnOwner {
  now(): number;
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
  /** the high 32 bits of the connection's 64-bit cid (start-up seconds and a random byte) */
  cidHigh: number;
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

/**
 * One stream connection: read state for the framer, write queue, timers.
 * It is its own FramerSink so the hot path allocates no closures per read or message.
 */
export class Conn implements ConnectionInfo, StreamingSink<unknown> {
  readonly id: ConnectionId;
  private readonly cidHigh: number;
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
  socket: Socket | null = null;
  framer: Framer<unknown> | null = null;
  closed = false;
  /** why it closed: a sync write whose callback fires after destroy is failed with closeError */
  private closeErr: Error | undefined;
  private closeReason: CloseReason = 'Shutdown';
  /** true once 'accept'/'connect' was emitted (TLS: after the handshake) */
  announced = false;

  // read state
  /** between a streamed message's head() and end() */
  private streaming = false;
  /** reading paused by pause(); since when (ms epoch) */
  private pausedSince = 0;
  private drainWaiters: { mark: number; resolve: (c: Conn) => void; reject: (e: Error) => void }[] | null = null;
  private probing = false;
  private readonly onProbe: () => void;
  msgAttempts = 0;
  /** absolute ms deadline for the partial message, 0 = none pending */
  readDeadline = 0;
  readonly maxChunks: number;
  private readonly lifetimeMs: number;
  private readonly readTimeoutMs: number;
  private readNow = 0;
  private readonly owner: ConnOwner;

  // write state: the pre-connect queue, then unflushed chunks tracked by byte marks
  preQueue: Buffer[] = [];
  private preBytes = 0;
  /** cumulative bytes handed to socket.write */
  private written = 0;
  private marks: number[] = [];
  private times: number[] = [];
  private markHead = 0;
  private writeTimer: NodeJS.Timeout | null = null;
  private flushedAtCheck = 0;
  private readonly onWriteTimer: () => void;
  /**
   * async mode: the queue made no progress for local_write_timeout, so its chunks are
   * postponed (left to the socket, no timer); chunks queued behind them are postponed at once.
   * Cleared when the queue drains (see prune).
   */
  private postponed = false;
  private wroteSinceSweep = false;
  /** a read chunk is being framed and its replies are gathered (see beginBatch) */
  private batching = false;
  private readonly batchBufs: Buffer[] = [];
  private readonly batchCbs: ((err?: Error | null) => void)[] = [];
  private batchBytes = 0;
  /** cumulative end offsets of the gathered chunks */
  private readonly batchEnds: number[] = [];
  private readonly batchMax: number;
  private settledSelf: Promise<Conn> | undefined;
  /** connect / TLS handshake timer */
  setupTimer: NodeJS.Timeout | null = null;
  connectPromise: Promise<Conn> | null = null;
  connectResolve: ((c: Conn) => void) | null = null;
  connectReject: ((e: Error) => void) | null = null;

  readonly onData: (chunk: Buffer) => void;

  constructor(owner: ConnOwner, init: ConnInit) {
    this.owner = owner;
    this.id = init.id;
    this.cidHigh = init.cidHigh;
    this.spec = init.spec;
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
    this.onData = this.handleData.bind(this);
    this.onWriteTimer = this.checkWrite.bind(this);
    this.onProbe = this.probed.bind(this);
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

  /** the 64-bit connection id, computed on first use (BigInt arithmetic is not free per accept) */
  get cid(): bigint {
    return (this.cidValue ??= (BigInt(this.cidHigh) << 32n) | BigInt(this.id));
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
    return this.preQueue.length + (this.marks.length - this.markHead) + this.batchEnds.length;
  }

  // ---- read path ----------------------------------------------------------------------

  private handleData(chunk: Buffer): void {
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
    // Replies produced while this chunk is framed go out in one write (see beginBatch).
    const batched = this.beginBatch();
    try {
      framer.push(chunk, this);
    } catch (err) {
      if (batched) this.endBatch();
      if (this.closed) return;
      if (err instanceof ProtocolError) {
        this.stats.protoErrors.inc();
        this.close('Protocol error', err);
      } else {
        this.close('Read error', err instanceof Error ? err : new Error(String(err)));
      }
      return;
    }
    if (batched) this.endBatch();
    if (this.closed) return;
    const pending = framer.pendingBytes;
    if (pending > 0 || this.streaming) {
      if (pending > this.spec.maxMsgBytes) {
        this.stats.limitCloses.inc();
        this.close('Message too big', new LimitError(ErrorCodes.MSG_TOO_BIG, `${pending} bytes buffered without completing a message (max ${this.spec.maxMsgBytes})`));
        return;
      }
      if (++this.msgAttempts === 1) this.readDeadline = now + this.readTimeoutMs;
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
    if (tap.messageIn.hasSubscribers) this.publishIn(msg, wire, false);
    this.owner.onMessage(this, msg, now);
  }

  /** FramerSink, streaming: a message begins; its body follows in part() calls, then end(). */
  head(msg: unknown, wire?: Buffer): void {
    if (this.closed) return;
    if (this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: head() while a streamed message is in progress`);
    this.streaming = true;
    const now = this.readNow;
    this.lastUsedAt = now;
    if (tap.messageIn.hasSubscribers) this.publishIn(msg, wire, true);
    this.owner.onMessageStart(this, msg, now);
  }

  /** FramerSink, streaming: a piece of the body of the message in progress. */
  part(data: Buffer): void {
    if (this.closed) return;
    if (!this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: part() outside a streamed message`);
    if (tap.messagePart.hasSubscribers) this.publishPart(data, false);
    this.owner.onMessagePart(this, data);
  }

  /** FramerSink, streaming: the message in progress is complete; `wire`: its closing bytes, if any. */
  end(wire?: Buffer): void {
    if (this.closed) return;
    if (!this.streaming) throw new XError(ErrorCodes.FRAMER_CONTRACT, `framer of ${this.proto}: end() outside a streamed message`);
    this.streaming = false;
    const now = this.completed();
    if (tap.messagePart.hasSubscribers) this.publishPart(wire ?? EMPTY, true);
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
    this.socket.write(EMPTY, this.onProbe);
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
    this.preQueue.push(data);
    this.preBytes += data.length;
  }

  flushPre(): void {
    const q = this.preQueue;
    this.preQueue = [];
    this.preBytes = 0;
    for (const b of q) this.writeRaw(b);
    if (this.drainWaiters !== null) this.probe();
  }

  /**
   * Starts a write batch for the read chunk being framed: every reply (and CRLF pong) written
   * synchronously by the message handlers is gathered and leaves in one socket write when the
   * batch ends, instead of one write syscall each (the way an echo writes once per read).
   * Only when nothing is queued: a socket with queued bytes already coalesces its writes, and
   * its chunks count as postponed as before.
   */
  private beginBatch(): boolean {
    const sock = this.socket;
    if (sock === null || this.state !== ConnState.OK || sock.writableLength !== 0) return false;
    this.prune();
    this.batching = true;
    return true;
  }

  /** Ends the batch: writes what it gathered. */
  private endBatch(): void {
    if (!this.batching) return;
    this.batching = false;
    this.writeBatch();
  }

  /**
   * Writes the gathered chunks as one buffer, then accounts each of them as if it had been
   * written alone: those still unflushed are chunks with their own marks for queuedChunks,
   * the write timeout and max_postponed_chunks. (The socket releases a write's bytes only
   * once all of it is written, so a batch the kernel takes in part leaves all its chunks
   * unflushed, where single writes would have flushed those taken whole before the first
   * partial one.) Gathered chunks count as queued
   * (queuedChunks) while they wait, so every write of the batch passed the
   * max_postponed_chunks check of a single write and the chunks left here stay within it.
   */
  private writeBatch(): void {
    const bufs = this.batchBufs;
    const n = bufs.length;
    if (n === 0) return;
    const sock = this.socket!;
    const data = n === 1 ? bufs[0]! : Buffer.concat(bufs, this.batchBytes);
    bufs.length = 0;
    this.batchBytes = 0;
    const cbs = this.batchCbs;
    if (cbs.length === 0) sock.write(data);
    else {
      const list = cbs.splice(0);
      sock.write(data, (err) => {
        for (let i = 0; i < list.length; i++) list[i]!(err);
      });
    }
    const ends = this.batchEnds;
    if (this.closed) {
      // the last words of a closing connection: nothing is accounted any more
      ends.length = 0;
      return;
    }
    const flushed = this.written - sock.writableLength;
    let left = 0;
    if (flushed < this.written) {
      // behind a postponed queue: unless it drained meanwhile, these chunks are postponed too
      if (this.postponed) this.prune();
      const now = this.owner.now();
      for (let i = 0; i < n; i++) {
        if (ends[i]! > flushed) {
          this.marks.push(ends[i]!);
          this.times.push(now);
          left++;
        }
      }
    }
    ends.length = 0;
    if (left === 0) {
      this.refreshLifetime();
      return;
    }
    this.timeQueued(left);
  }

  /** Writes to the socket, tracking whether the chunk stayed in user space (postponed). `reply`: a framer's own reply (tap). */
  writeRaw(data: Buffer, cb?: (err?: Error | null) => void, reply = false): void {
    if (tap.messageOut.hasSubscribers) this.publishOut(data, reply);
    this.written += data.length;
    this.stats.sndBytes.inc(data.length);
    if (this.batching) {
      this.batchBufs.push(data);
      this.batchBytes += data.length;
      if (cb) this.batchCbs.push(cb);
      this.batchEnds.push(this.written);
      // A batch never holds more chunks than max_postponed_chunks: write it and go on batching.
      if (this.batchEnds.length >= this.batchMax) this.writeBatch();
      return;
    }
    const sock = this.socket!;
    if (cb) sock.write(data, cb);
    else sock.write(data);
    if (sock.writableLength > 0) {
      // behind a postponed queue: unless it drained meanwhile, this chunk is postponed too
      if (this.postponed) this.prune();
      this.marks.push(this.written);
      this.times.push(this.owner.now());
      this.timeQueued(1);
    } else {
      this.refreshLifetime();
    }
  }

  /**
   * Writes mark the connection used; the sweep turns the mark into a lifetime refresh, so the
   * write path reads no clock (OpenSIPS's own lifetime ticks are 1 s coarse anyway).
   */
  private refreshLifetime(): void {
    this.wroteSinceSweep = true;
  }

  /**
   * `n` chunks were left unflushed (their marks pushed): behind a postponed queue they are
   * postponed at once, as OpenSIPS 3.x appends to a connection's pending chunks without a
   * direct write attempt; otherwise the write timer watches them.
   */
  private timeQueued(n: number): void {
    if (this.postponed) this.stats.postponedWrites.inc(n);
    else if (this.writeTimer === null) this.armWriteTimer(this.writeTimeoutMs());
  }

  private writeTimeoutMs(): number {
    const w = this.spec.write;
    return w.async ? w.localWriteTimeout : w.sendTimeout;
  }

  /** Drops the marks of chunks the socket has handed to the kernel. */
  private prune(): void {
    if (this.markHead === this.marks.length || !this.socket) return;
    const flushed = this.written - this.batchBytes - this.socket.writableLength;
    const before = this.markHead;
    while (this.markHead < this.marks.length && this.marks[this.markHead]! <= flushed) this.markHead++;
    if (this.markHead !== before) this.refreshLifetime();
    if (this.markHead === this.marks.length) {
      this.marks.length = 0;
      this.times.length = 0;
      this.markHead = 0;
      // drained: a later stall is timed afresh
      this.postponed = false;
    } else if (this.markHead > 1024) {
      this.marks = this.marks.slice(this.markHead);
      this.times = this.times.slice(this.markHead);
      this.markHead = 0;
    }
  }

  private armWriteTimer(ms: number): void {
    if (ms <= 0) return;
    this.flushedAtCheck = this.written - this.socket!.writableLength;
    this.writeTimer = setTimeout(this.onWriteTimer, ms);
    this.writeTimer.unref();
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
  private checkWrite(): void {
    this.writeTimer = null;
    if (this.closed || !this.socket) return;
    this.prune();
    if (this.markHead === this.marks.length) return;
    const timeout = this.writeTimeoutMs();
    const age = this.owner.now() - this.times[this.markHead]!;
    const flushed = this.written - this.socket.writableLength;
    if (age >= timeout && flushed === this.flushedAtCheck) {
      if (this.spec.write.async) {
        const n = this.marks.length - this.markHead;
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

  /** Sweep check; returns true if it closed the connection. */
  sweep(now: number): boolean {
    if (this.state === ConnState.CONNECTING) return false;
    // paused by us: the peer is not the one stalling (resume() moves the deadlines)
    if (this.pausedSince !== 0) return false;
    if (this.wroteSinceSweep) {
      this.wroteSinceSweep = false;
      this.lastUsedAt = now;
      const lt = now + this.lifetimeMs;
      if (lt > this.lifetime) this.lifetime = lt;
    }
    if (this.readDeadline !== 0 && now > this.readDeadline) {
      this.stats.limitCloses.inc();
      this.close('Timeout waiting for a complete message', new LimitError(ErrorCodes.READ_TIMEOUT, `no complete message within ${this.profile.msgReadTimeout} s`));
      return true;
    }
    if (now > this.lifetime) {
      this.prune();
      if (this.wroteSinceSweep) return this.sweep(now);
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
    if (this.writeTimer) clearTimeout(this.writeTimer);
    if (this.setupTimer) clearTimeout(this.setupTimer);
    this.writeTimer = null;
    this.setupTimer = null;
    this.preQueue = [];
    this.preBytes = 0;
    if (this.socket) {
      // replies framed before the close are handed to the kernel, as single writes would be
      if (this.batching) {
        this.batching = false;
        this.writeBatch();
      }
      this.socket.removeListener('data', this.onData);
      this.socket.destroy();
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
