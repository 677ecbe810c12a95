import { EventEmitter } from 'node:events';
import type { HepDestination } from './hep-id.js';

/** Sends one encoded packet; rejects on failure (connect refused, write error...). */
export type HepTransmit = (dest: HepDestination, data: Buffer) => Promise<unknown>;

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
   * TCP/TLS destinations: packets queued while a write is in flight go out together in one write
   * of at most this many bytes (default 65536; 0 = one packet per write). UDP: always one
   * datagram per packet.
   */
  batchBytes?: number;
}

export interface HepSenderStats {
  sent: number;
  dropped: number;
  queued: number;
  failures: number;
  /** true while sends are suppressed after maxRetries failures */
  coolingDown: boolean;
}

/**
 * One HEP destination: a bounded FIFO drained one packet at a time. A failed packet stays at
 * the head and is retried with exponential back-off (so a TCP collector that restarts gets a new
 * connection and loses nothing queued); after `maxRetries` consecutive failures the queue is
 * dropped and sends are suppressed for `retryCooldown` seconds (OpenSIPS's hep_retry_cooldown).
 * Events: 'sent' (data), 'drop' (data, reason), 'error' is never emitted (failures are counted).
 */
export class HepSender extends EventEmitter {
  readonly dest: HepDestination;
  private readonly queue: Buffer[] = [];
  private readonly opts: Required<HepSenderOptions>;
  private sentCount = 0;
  private droppedCount = 0;
  private failures = 0;
  private cooldownUntil = 0;
  private pumping = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

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
    };
  }

  /** Whether a packet sent now would be queued (not closed, not cooling down, queue not full). */
  accepting(): boolean {
    return !this.closed && this.cooldownUntil <= Date.now() && this.queue.length < this.opts.maxQueue;
  }

  /**
   * Queues a packet; false (and counted as dropped) when the queue is full, cooling down or closed.
   * `invalid`: the caller could not build the packet; it is only counted as dropped ('invalid').
   */
  send(data: Buffer, invalid = false): boolean {
    if (invalid) return this.drop(data, 'invalid');
    if (this.closed) return this.drop(data, 'closed');
    if (this.cooldownUntil > Date.now()) return this.drop(data, 'cooldown');
    if (this.queue.length >= this.opts.maxQueue) return this.drop(data, 'queue full');
    this.queue.push(data);
    if (!this.pumping && !this.timer && !this.scheduled) {
      if (this.dest.transport === 'udp' || this.opts.batchBytes === 0) void this.pump();
      else {
        // a stream destination starts writing once the current task is done, so every packet
        // the task made (e.g. the traces of all messages of one read) goes out in one write
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          if (!this.pumping && !this.timer) void this.pump();
        });
      }
    }
    return true;
  }

  stats(): HepSenderStats {
    return {
      sent: this.sentCount,
      dropped: this.droppedCount,
      queued: this.queue.length,
      failures: this.failures,
      coolingDown: this.cooldownUntil > Date.now(),
    };
  }

  /** Stops retrying; queued packets are dropped and counted. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.queue.splice(0)) this.drop(d, 'closed');
  }

  private drop(data: Buffer, reason: string): false {
    this.droppedCount++;
    this.emit('drop', data, reason);
    return false;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      const stream = this.dest.transport !== 'udp' && this.opts.batchBytes > 0;
      while (this.queue.length && !this.closed) {
        // a stream destination takes what queued up behind a write in one write (HEP3 packets
        // are back to back on TCP); a failed batch stays at the head and is retried whole
        let n = 1;
        let data = this.queue[0]!;
        if (stream && this.queue.length > 1) {
          let bytes = data.length;
          while (n < this.queue.length && bytes + this.queue[n]!.length <= this.opts.batchBytes) bytes += this.queue[n++]!.length;
          if (n > 1) data = Buffer.concat(this.queue.slice(0, n), bytes);
        }
        try {
          await this.transmit(this.dest, data);
        } catch {
          this.failures++;
          if (this.failures >= this.opts.maxRetries) {
            this.cooldownUntil = Date.now() + this.opts.retryCooldown * 1000;
            for (const d of this.queue.splice(0)) this.drop(d, 'cooldown');
            // one attempt is allowed again once the cooldown is over
            this.failures = this.opts.maxRetries - 1;
            return;
          }
          const delay = Math.min(this.opts.backoffMs * 2 ** (this.failures - 1), this.opts.maxBackoffMs);
          this.timer = setTimeout(() => {
            this.timer = undefined;
            void this.pump();
          }, delay);
          this.timer.unref?.();
          return;
        }
        const done = n === 1 ? [this.queue.shift()!] : this.queue.splice(0, n);
        this.failures = 0;
        this.sentCount += n;
        for (const d of done) this.emit('sent', d);
      }
    } finally {
      this.pumping = false;
    }
  }
}
