import { EventEmitter } from 'node:events';
import type { HepDestination } from './hep-id.js';

/** Sends one encoded packet; rejects on failure (connect refused, write error...). */
export type HepTransmit = (dest: HepDestination, data: Buffer) => Promise<unknown>;

/**
 * Sends one datagram and calls `done` once, never synchronously: with no argument once it left
 * (the kernel took it), with an error when it did not. Datagrams must leave in call order
 * (core-conn's `engine.sendDatagram` is one).
 */
export type HepDatagramTransmit = (dest: HepDestination, data: Buffer, done: (err?: Error) => void) => void;

/**
 * Writes one packet into `b` at offset `o` (`b.length - o` bytes are free) and returns its end
 * offset; `-size` when it needs `size` bytes and they do not fit (nothing written: the sender
 * calls it again with a buffer that has the room); 0 when the item cannot be encoded (dropped and
 * counted as 'invalid').
 */
export type HepPacketWriter<T> = (item: T, b: Buffer, o: number) => number;

export interface HepSenderOptions {
  /** packets waiting at most; a packet sent to a full queue is dropped and counted (default 1024) */
  maxQueue?: number;
  /** consecutive failures before the cooldown (hep_max_retries, default 5) */
  maxRetries?: number;
  /** seconds during which sends are suppressed once maxRetries is reached (hep_retry_cooldown, default 3600) */
  retryCooldown?: number;
  /** first retry delay in ms, doubled per failure (default 100) */
  backoffMs?: number;
  /** retry delay cap in ms (default 5000) */
  maxBackoffMs?: number;
  /**
   * TCP/TLS destinations: packets queued during one turn of the event loop go out together in
   * one write of at most this many bytes (default 65536; 0 = one packet per write). UDP: always
   * one datagram per packet.
   */
  batchBytes?: number;
  /**
   * UDP destinations: sends each datagram with this instead of `transmit` (no promise per
   * datagram, no array per flush). `attachHep` gives core-conn's `engine.sendDatagram`.
   */
  datagram?: HepDatagramTransmit;
  /** called with the number of packets handed to the engine (cheaper than a 'sent' listener) */
  onSent?: (packets: number) => void;
  /** called with the number of packets dropped (cheaper than a 'drop' listener) */
  onDropped?: (packets: number) => void;
}

export interface HepSenderStats {
  sent: number;
  dropped: number;
  queued: number;
  failures: number;
  /** true while sends are suppressed after maxRetries failures */
  coolingDown: boolean;
}

const EMPTY = Buffer.alloc(0);
/** the size of the buffers `sendWith` encodes into (a bigger packet gets a buffer of its own size) */
export const HEP_SENDER_SLAB = 64 * 1024;

/** The HEPv3 packets of a batch of `n` (split by their length field), or the batch itself. */
function packetsOf(data: Buffer, n: number): Buffer[] {
  if (n === 1) return [data];
  const out: Buffer[] = [];
  let o = 0;
  while (o + 6 <= data.length && out.length < n) {
    const len = data.readUInt16BE(o + 4);
    out.push(data.subarray(o, o + len));
    o += len;
  }
  return out;
}

/** Batches back to back: one view when they are adjacent in one buffer (batches of one slab), else a copy. */
function joined(list: Buffer[], bytes: number): Buffer {
  const first = list[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < list.length; i++) {
    const b = list[i]!;
    if (b.buffer !== first.buffer || b.byteOffset !== end) return Buffer.concat(list, bytes);
    end += b.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, bytes);
}

/**
 * One HEP destination: a bounded FIFO (`maxQueue` packets) flushed once per turn of the event
 * loop. `sendWith` encodes a packet straight into a 64 KiB buffer (no Buffer per packet); what a
 * turn queued for a TCP destination leaves in one write (a view of that buffer, no copy). A
 * failed write stays at the head and is retried with exponential back-off (so a TCP collector that
 * restarts gets a new connection and loses nothing queued); after `maxRetries` consecutive
 * failures the queue is dropped and sends are suppressed for `retryCooldown` seconds (OpenSIPS's
 * hep_retry_cooldown). Events: 'sent' (data), 'drop' (data, reason), per packet; 'error' is
 * never emitted (failures are counted).
 */
export class HepSender extends EventEmitter {
  readonly dest: HepDestination;
  /** batches waiting, oldest first, and the packets in each */
  private readonly queue: Buffer[] = [];
  private readonly counts: number[] = [];
  /** packets queued (batches + the open batch) */
  private queued = 0;
  /** the buffer sendWith encodes into; [openStart, openEnd) is the open batch of openN packets */
  private slab: Buffer = EMPTY;
  private openStart = 0;
  private openEnd = 0;
  private openN = 0;
  private readonly opts: Required<Omit<HepSenderOptions, 'onSent' | 'onDropped' | 'datagram'>> & Pick<HepSenderOptions, 'onSent' | 'onDropped'>;
  /** a UDP destination with a callback transmit: flushed by pumpDatagrams */
  private readonly datagram: HepDatagramTransmit | undefined;
  /** pumpDatagrams' flush in flight: its datagrams, their packet counts, what failed */
  private flight: Buffer[] = [];
  private flightN: number[] = [];
  private flightLeft = 0;
  private flightFailed: number[] | undefined;
  /** a TCP destination of HEPv3 packets: batches several packets per write */
  private readonly stream: boolean;
  private sentCount = 0;
  private droppedCount = 0;
  private failures = 0;
  private cooldownUntil = 0;
  private pumping = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.cut();
    if (!this.pumping && !this.timer) this.startPump();
  };

  constructor(dest: HepDestination, private readonly transmit: HepTransmit, opts: HepSenderOptions = {}) {
    super();
    this.dest = dest;
    this.opts = {
      maxQueue: opts.maxQueue ?? 1024,
      maxRetries: opts.maxRetries ?? 5,
      retryCooldown: opts.retryCooldown ?? 3600,
      backoffMs: opts.backoffMs ?? 100,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      batchBytes: opts.batchBytes ?? 65536,
      onSent: opts.onSent,
      onDropped: opts.onDropped,
    };
    this.stream = dest.transport !== 'udp' && this.opts.batchBytes > 0;
    this.datagram = dest.transport === 'udp' ? opts.datagram : undefined;
  }

  /** Whether a packet sent now would be queued (not closed, not cooling down, queue not full). */
  accepting(): boolean {
    return !this.closed && this.queued < this.opts.maxQueue && (this.cooldownUntil === 0 || this.cooldownUntil <= Date.now());
  }

  /** Why a packet sent now would be dropped, or undefined. */
  private refusal(): string | undefined {
    if (this.closed) return 'closed';
    if (this.cooldownUntil !== 0) {
      if (this.cooldownUntil > Date.now()) return 'cooldown';
      this.cooldownUntil = 0;
    }
    if (this.queued >= this.opts.maxQueue) return 'queue full';
    return undefined;
  }

  /**
   * Queues a packet; false (and counted as dropped) when the queue is full, cooling down or closed.
   * `invalid`: the caller could not build the packet; it is only counted as dropped ('invalid').
   */
  send(data: Buffer, invalid = false): boolean {
    if (invalid) return this.drop(data, 'invalid');
    const no = this.refusal();
    if (no !== undefined) return this.drop(data, no);
    this.cut();
    this.queue.push(data);
    this.counts.push(1);
    this.queued++;
    this.schedule();
    return true;
  }

  /**
   * Queues one packet that `write` encodes straight into the sender's buffer (the trace hot path:
   * no Buffer per packet; what a turn queued for a TCP destination is one write of a view of that
   * buffer). Refused (false, counted) as `send` refuses, or when `write` cannot encode the item.
   */
  sendWith<T>(item: T, write: HepPacketWriter<T>): boolean {
    const no = this.refusal();
    if (no !== undefined) return this.drop(EMPTY, no);
    let at = this.openEnd;
    let end = write(item, this.slab, at);
    if (end < 0) {
      this.cut();
      this.slab = Buffer.allocUnsafeSlow(Math.max(HEP_SENDER_SLAB, -end));
      this.openStart = this.openEnd = at = 0;
      end = write(item, this.slab, 0);
    }
    if (end <= at) return this.drop(EMPTY, 'invalid');
    // one packet per batch unless several can share a write (a view of the buffer, no copy)
    if (this.openN > 0 && (!this.stream || this.dest.version !== 3 || end - this.openStart > this.opts.batchBytes)) this.cut();
    this.openEnd = end;
    this.openN++;
    this.queued++;
    this.schedule();
    return true;
  }

  stats(): HepSenderStats {
    return {
      sent: this.sentCount,
      dropped: this.droppedCount,
      queued: this.queued,
      failures: this.failures,
      coolingDown: this.cooldownUntil > Date.now(),
    };
  }

  /** Stops retrying; queued packets are dropped and counted. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dropAll('closed');
  }

  /** Closes the open batch: it joins the queue. */
  private cut(): void {
    if (this.openN === 0) return;
    this.queue.push(this.slab.subarray(this.openStart, this.openEnd));
    this.counts.push(this.openN);
    this.openStart = this.openEnd;
    this.openN = 0;
  }

  /** One flush per turn of the event loop: whatever the turn queued leaves together. */
  private schedule(): void {
    if (this.scheduled || this.timer) return;
    this.scheduled = true;
    setImmediate(this.flushNow);
  }

  private drop(data: Buffer, reason: string, n = 1): false {
    this.droppedCount += n;
    this.opts.onDropped?.(n);
    if (this.listenerCount('drop') > 0) for (const d of packetsOf(data, n)) this.emit('drop', d, reason);
    return false;
  }

  private dropAll(reason: string): void {
    this.cut();
    const q = this.queue.splice(0);
    const c = this.counts.splice(0);
    // what is in flight stays counted until its sends complete
    for (let i = 0; i < q.length; i++) {
      this.queued -= c[i]!;
      this.drop(q[i]!, reason, c[i]!);
    }
  }

  /** Puts batches that failed back at the head, in order; drops them if the sender closed meanwhile. */
  private requeue(data: Buffer[], n: number[]): void {
    if (this.closed) {
      for (let i = 0; i < data.length; i++) {
        this.queued -= n[i]!;
        this.drop(data[i]!, 'closed', n[i]!);
      }
      return;
    }
    this.queue.unshift(...data);
    this.counts.unshift(...n);
  }

  private startPump(): void {
    if (this.datagram) this.pumpDatagrams();
    else void this.pump();
  }

  /**
   * UDP with a callback transmit: every datagram queued goes out now, in order (no promise, no
   * array per datagram); once all completed, the failed ones go back to the head of the queue
   * in order and the failure policy of `pump` applies.
   */
  private pumpDatagrams(): void {
    if (this.queue.length === 0 || this.closed) return;
    this.pumping = true;
    this.flight = this.queue.splice(0);
    this.flightN = this.counts.splice(0);
    this.flightLeft = this.flight.length;
    this.flightFailed = undefined;
    const send = this.datagram!;
    const flight = this.flight;
    for (let i = 0; i < flight.length; i++) {
      // a failure is told by its index: completions need not come in the order of the sends
      send(this.dest, flight[i]!, (err) => {
        if (err) (this.flightFailed ??= []).push(i);
        if (--this.flightLeft === 0) this.datagramsDone();
      });
    }
  }

  private datagramsDone(): void {
    let taken = this.flight;
    let takenN = this.flightN;
    const failed = this.flightFailed?.sort((a, b) => a - b);
    this.flight = [];
    this.flightN = [];
    this.flightFailed = undefined;
    this.pumping = false;
    if (failed) {
      const data: Buffer[] = [];
      const n: number[] = [];
      const okData: Buffer[] = [];
      const okN: number[] = [];
      let f = 0;
      for (let i = 0; i < taken.length; i++) {
        if (f < failed.length && failed[f] === i) {
          data.push(taken[i]!);
          n.push(takenN[i]!);
          f++;
        } else {
          okData.push(taken[i]!);
          okN.push(takenN[i]!);
        }
      }
      taken = okData;
      takenN = okN;
      this.requeue(data, n);
    }
    this.account(taken, takenN);
    if (this.closed) return;
    if (failed) return this.fail();
    this.failures = 0;
    if (this.queue.length) this.pumpDatagrams();
    else if (this.openN > 0 && !this.timer) this.schedule();
  }

  /**
   * One more failed attempt, which ends the pump: after maxRetries in a row the cooldown begins
   * and the queue is dropped, else a retry is scheduled after the back-off.
   */
  private fail(): void {
    this.failures++;
    if (this.failures >= this.opts.maxRetries) {
      this.cooldownUntil = Date.now() + this.opts.retryCooldown * 1000;
      this.dropAll('cooldown');
      // one attempt is allowed again once the cooldown is over
      this.failures = this.opts.maxRetries - 1;
      return;
    }
    const delay = Math.min(this.opts.backoffMs * 2 ** (this.failures - 1), this.opts.maxBackoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.cut();
      this.startPump();
    }, delay);
    this.timer.unref?.();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        // a stream destination takes what queued up in one write (HEP3 packets are back to
        // back on TCP); a failed write stays at the head and is retried whole. UDP: every
        // datagram queued goes out at once, the failed ones stay at the head.
        let taken: Buffer[];
        let takenN: number[];
        let ok: boolean;
        if (this.dest.transport !== 'udp') {
          let k = 1;
          let bytes = this.queue[0]!.length;
          while (k < this.queue.length && bytes + this.queue[k]!.length <= this.opts.batchBytes) bytes += this.queue[k++]!.length;
          taken = this.queue.splice(0, k);
          takenN = this.counts.splice(0, k);
          const data = k === 1 ? taken[0]! : joined(taken, bytes);
          try {
            await this.transmit(this.dest, data);
            ok = true;
          } catch {
            ok = false;
            this.requeue(taken, takenN);
          }
        } else {
          taken = this.queue.splice(0);
          takenN = this.counts.splice(0);
          const results = await Promise.allSettled(taken.map((d) => this.transmit(this.dest, d)));
          const failed: Buffer[] = [];
          const failedN: number[] = [];
          for (let i = 0; i < results.length; i++) {
            if (results[i]!.status === 'rejected') {
              failed.push(taken[i]!);
              failedN.push(takenN[i]!);
            }
          }
          ok = failed.length === 0;
          if (!ok) {
            this.requeue(failed, failedN);
            taken = taken.filter((_, i) => results[i]!.status !== 'rejected');
            takenN = takenN.filter((_, i) => results[i]!.status !== 'rejected');
          }
          this.account(taken, takenN);
        }
        if (!ok) {
          this.fail();
          return;
        }
        if (this.dest.transport !== 'udp') this.account(taken, takenN);
        this.failures = 0;
      }
    } finally {
      this.pumping = false;
      // what was queued while the last write was awaited goes out at the next turn
      if (this.openN > 0 && !this.timer && !this.closed) this.schedule();
    }
  }

  private account(done: Buffer[], n: number[]): void {
    let packets = 0;
    for (const k of n) packets += k;
    if (packets === 0) return;
    this.queued -= packets;
    this.sentCount += packets;
    this.opts.onSent?.(packets);
    if (this.listenerCount('sent') > 0) for (let i = 0; i < done.length; i++) for (const d of packetsOf(done[i]!, n[i]!)) this.emit('sent', d);
  }
}
