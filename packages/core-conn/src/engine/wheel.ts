// One timer wheel per engine: every connection deadline (lifetime, partial-message read
// timeout, connect and TLS handshake timeouts, write timeouts) is an entry in it instead of a
// Node timer per connection (a hashed timing wheel, Varghese & Lauck). Scheduling, moving and
// cancelling are O(1) link operations on intrusive lists; the engine drives the wheel with one
// Node timer armed for the next tick that holds entries.

/** Who an entry belongs to: called when one of its entries is due. */
export interface TimerTarget {
  /** `kind` is the entry's; returns true when the call closed something (see TimerWheel.runDue). */
  onTimer(kind: number, now: number): boolean;
}

/**
 * A deadline in the wheel. The owner keeps the object and reschedules it as often as it likes;
 * nothing is allocated per schedule.
 */
export class TimerEntry {
  /** ms, the deadline it was scheduled for */
  deadline = 0;
  /** the slot holding it: -1 none, the wheel's slot count: the due list */
  slot = -1;
  next: TimerEntry | null = null;
  prev: TimerEntry | null = null;

  constructor(
    readonly target: TimerTarget,
    readonly kind: number,
  ) {}

  get scheduled(): boolean {
    return this.slot !== -1;
  }
}

/**
 * A hashed timing wheel of `slots` slots of `tickMs` each. An entry lives in the slot of the
 * tick its deadline falls in; `advance(now)` visits the ticks wholly past since the last call
 * and moves the entries whose deadline is <= now to the due list (entries of a later turn of the
 * wheel stay), `runDue` fires them. An entry therefore never fires before its deadline, and at
 * most one tick after it when `advance` runs at each tick boundary (`nextWake`).
 */
export class TimerWheel {
  readonly tickMs: number;
  private readonly n: number;
  /** slot heads; index n is the due list */
  private readonly heads: (TimerEntry | null)[];
  /** tail of the due list (FIFO) */
  private dueTail: TimerEntry | null = null;
  /** the first tick not yet visited */
  private cur: number;
  private count = 0;

  constructor(tickMs: number, slots: number, now: number) {
    if (!(tickMs > 0) || !Number.isInteger(slots) || slots < 1) throw new RangeError(`timer wheel: tick ${tickMs} ms, ${slots} slots`);
    this.tickMs = tickMs;
    this.n = slots;
    this.heads = new Array<TimerEntry | null>(slots + 1).fill(null);
    this.cur = Math.floor(now / tickMs);
  }

  /** entries scheduled or due, not yet fired */
  get size(): number {
    return this.count;
  }

  /** whether fired-due entries wait for runDue */
  get hasDue(): boolean {
    return this.heads[this.n] !== null;
  }

  /** (Re)schedules `e` for `deadline` (ms). A deadline in a tick already visited goes to the current tick. */
  schedule(e: TimerEntry, deadline: number): void {
    if (e.slot !== -1) this.unlink(e);
    else this.count++;
    e.deadline = deadline;
    let t = Math.floor(deadline / this.tickMs);
    if (t < this.cur) t = this.cur;
    const s = t % this.n;
    const head = this.heads[s]!;
    e.slot = s;
    e.prev = null;
    e.next = head;
    if (head !== null) head.prev = e;
    this.heads[s] = e;
  }

  cancel(e: TimerEntry): void {
    if (e.slot === -1) return;
    this.unlink(e);
    e.slot = -1;
    this.count--;
  }

  /** When `advance` has something to visit next: the end of the first tick holding an entry (ms), Infinity when empty. */
  nextWake(): number {
    if (this.count === 0) return Infinity;
    if (this.heads[this.n] !== null) return this.cur * this.tickMs;
    for (let i = 0; i < this.n; i++) {
      if (this.heads[(this.cur + i) % this.n] !== null) return (this.cur + i + 1) * this.tickMs;
    }
    return Infinity;
  }

  /** Moves the entries due by `now` from the ticks wholly past to the due list. */
  advance(now: number): void {
    const last = Math.floor(now / this.tickMs) - 1;
    if (last < this.cur) return;
    let steps = last - this.cur + 1;
    if (steps > this.n) steps = this.n;
    for (let i = 0; i < steps; i++) {
      const s = (this.cur + i) % this.n;
      let e: TimerEntry | null = this.heads[s]!;
      while (e !== null) {
        const next: TimerEntry | null = e.next;
        if (e.deadline <= now) {
          this.unlink(e);
          this.pushDue(e);
        }
        e = next;
      }
    }
    this.cur = last + 1;
  }

  /**
   * Fires due entries in deadline-visit order until none is left (true) or `budget` of them
   * returned true (false: call again, e.g. after yielding to I/O). An entry is unscheduled when
   * its target is called, which may schedule it again.
   */
  runDue(now: number, budget = Infinity): boolean {
    let spent = 0;
    for (;;) {
      const e = this.heads[this.n]!;
      if (e === null) return true;
      if (spent >= budget) return false;
      this.unlink(e);
      e.slot = -1;
      this.count--;
      if (e.target.onTimer(e.kind, now)) spent++;
    }
  }

  private pushDue(e: TimerEntry): void {
    e.slot = this.n;
    e.next = null;
    e.prev = this.dueTail;
    if (this.dueTail !== null) this.dueTail.next = e;
    else this.heads[this.n] = e;
    this.dueTail = e;
  }

  private unlink(e: TimerEntry): void {
    const { prev, next } = e;
    if (prev !== null) prev.next = next;
    else this.heads[e.slot] = next;
    if (next !== null) next.prev = prev;
    else if (e.slot === this.n) this.dueTail = prev;
    e.next = null;
    e.prev = null;
  }
}
