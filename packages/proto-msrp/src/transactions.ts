import { randomInt } from 'node:crypto';
import { ConfigError, ErrorCodes } from '@x/core-conn';
import { buildTid, coreHash, parseTid, TID_HASH_SIZE, TID_SLOTS } from './codec/tid.js';

/** What a transaction remembers of the request that made it (OpenSIPS's msrp_cell). */
export interface Transaction<T = unknown> {
  /** the id the request went out with (replies carry it) */
  readonly tid: string;
  /** the id the request came in with, when it was forwarded (replies are sent back with it) */
  readonly recvTid?: string;
  /** method of the request (as written) */
  readonly method: string;
  /** the request's whole From-Path, and top To-Path URL, as received (forwarded) or sent */
  readonly fromPath: string;
  readonly toTop: string;
  readonly messageId?: string;
  readonly byteRange?: string;
  readonly failureReport?: string;
  /** the owner's data (connection of the inbound request, a promise's callbacks...) */
  readonly data: T;
  /** bucket and slot of the table */
  readonly hash: number;
  readonly idx: number;
  readonly createdAt: number;
}

export interface NewTransaction<T> {
  method: string;
  fromPath: string;
  toTop: string;
  /** set when forwarding: the bucket comes from its hash; else a random bucket */
  recvTid?: string;
  messageId?: string;
  byteRange?: string;
  failureReport?: string;
  /** the third MD5 source (Message-ID when forwarding, the first extra header when sending) */
  md5Extra?: string;
  data: T;
}

export interface TransactionTableOptions<T> {
  /** called for each transaction that got no reply within the slots' span (~30 s) */
  onTimeout: (t: Transaction<T>) => void;
  /** number of one-second slots (default 30, OpenSIPS's fixed timeout) */
  slots?: number;
  /** tick period in ms (default 1000); start() arms it */
  tickMs?: number;
}

/**
 * OpenSIPS's MSRP transaction table: a ring of one-second slots, each a map of ids, with
 * ids that name their slot and bucket (so a reply finds its transaction without a search).
 * A tick (every second once started) empties the slot about to be reused and reports each
 * transaction in it as timed out; so a transaction lives between slots-1 and slots seconds.
 * `take` finds and removes: the first reply ends a transaction.
 */
export class TransactionTable<T = unknown> {
  private readonly slots: Map<string, Transaction<T>>[];
  private idx = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onTimeout: (t: Transaction<T>) => void;
  private readonly tickMs: number;

  constructor(opts: TransactionTableOptions<T>) {
    const n = opts.slots ?? TID_SLOTS;
    if (!Number.isInteger(n) || n < 2 || n > TID_SLOTS) throw new ConfigError(ErrorCodes.INVALID_OPTION, `slots must be an integer in 2..${TID_SLOTS}`);
    this.slots = Array.from({ length: n }, () => new Map<string, Transaction<T>>());
    this.onTimeout = opts.onTimeout;
    this.tickMs = opts.tickMs ?? 1000;
  }

  /** the slot new transactions go into */
  get currentSlot(): number {
    return this.idx;
  }

  get size(): number {
    let n = 0;
    for (const s of this.slots) n += s.size;
    return n;
  }

  /** Creates a transaction with a fresh id (retried on the rare duplicate) and stores it. */
  create(nt: NewTransaction<T>): Transaction<T> {
    const slot = this.slots[this.idx]!;
    for (;;) {
      const hash = nt.recvTid !== undefined ? coreHash(nt.recvTid, TID_HASH_SIZE) : randomInt(0, TID_HASH_SIZE);
      const md5 = [nt.toTop, nt.fromPath];
      if (nt.md5Extra !== undefined) md5.push(nt.md5Extra);
      const tid = buildTid(hash, this.idx, md5);
      if (slot.has(tid)) continue;
      const t: Transaction<T> = {
        tid,
        method: nt.method,
        fromPath: nt.fromPath,
        toTop: nt.toTop,
        data: nt.data,
        hash,
        idx: this.idx,
        createdAt: Date.now(),
        ...(nt.recvTid !== undefined ? { recvTid: nt.recvTid } : {}),
        ...(nt.messageId !== undefined ? { messageId: nt.messageId } : {}),
        ...(nt.byteRange !== undefined ? { byteRange: nt.byteRange } : {}),
        ...(nt.failureReport !== undefined ? { failureReport: nt.failureReport } : {}),
      };
      slot.set(tid, t);
      return t;
    }
  }

  /** Finds and removes the transaction of a reply's id; undefined when unknown or malformed. */
  take(tid: string): Transaction<T> | undefined {
    const p = parseTid(tid);
    if (p === null || p.idx >= this.slots.length) return undefined;
    const slot = this.slots[p.idx]!;
    const t = slot.get(tid);
    if (t === undefined || t.hash !== p.hash) return undefined;
    slot.delete(tid);
    return t;
  }

  /** Removes a transaction without reporting it (a send that failed). */
  drop(t: Transaction<T>): void {
    this.slots[t.idx]?.delete(t.tid);
  }

  /** One timer step: the next slot's transactions time out, and it becomes the current one. */
  tick(): void {
    const next = (this.idx + 1) % this.slots.length;
    const slot = this.slots[next]!;
    const expired = [...slot.values()];
    slot.clear();
    this.idx = next;
    for (const t of expired) {
      try {
        this.onTimeout(t);
      } catch {
        // an owner's failure must not stop the others' timeouts
      }
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Removes every transaction (shutdown); returns them. */
  clear(): Transaction<T>[] {
    const all: Transaction<T>[] = [];
    for (const s of this.slots) {
      all.push(...s.values());
      s.clear();
    }
    return all;
  }
}
