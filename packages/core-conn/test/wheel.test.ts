// The engine's timer wheel on a virtual clock: every deadline fires once, never before it, at
// most one tick after it when the wheel is advanced at each tick boundary; cancel and
// reschedule hold; the due list fires with a budget.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerEntry, TimerWheel, type TimerTarget } from '../src/engine/wheel.js';

class Recorder implements TimerTarget {
  readonly fired: { kind: number; at: number }[] = [];
  onTimer(kind: number, now: number): boolean {
    this.fired.push({ kind, at: now });
    return true;
  }
}

/** Advances the wheel tick boundary by tick boundary (as the engine's timer does) up to `until`. */
function driveTo(w: TimerWheel, from: number, until: number, onStep?: (now: number) => void): number {
  let now = from;
  while (now < until) {
    const wake = w.nextWake();
    now = Math.min(until, Math.max(now + 1, wake === Infinity ? until : wake));
    w.advance(now);
    w.runDue(now);
    onStep?.(now);
  }
  return now;
}

describe('TimerWheel', () => {
  it('fires a deadline once, not before it, within one tick after it', () => {
    const w = new TimerWheel(10, 8, 1000);
    const r = new Recorder();
    const e = new TimerEntry(r, 7);
    w.schedule(e, 1234);
    expect(w.size).toBe(1);
    w.advance(1233);
    expect(w.runDue(1233)).toBe(true);
    expect(r.fired).toEqual([]);
    driveTo(w, 1233, 2000);
    expect(r.fired).toHaveLength(1);
    expect(r.fired[0]!.kind).toBe(7);
    expect(r.fired[0]!.at).toBeGreaterThanOrEqual(1234);
    expect(r.fired[0]!.at).toBeLessThanOrEqual(1244);
    expect(w.size).toBe(0);
    expect(e.scheduled).toBe(false);
    expect(w.nextWake()).toBe(Infinity);
  });

  it('keeps an entry of a later turn of the wheel in its slot until its own turn', () => {
    // 8 slots of 10 ms: one turn is 80 ms; a deadline 500 ms ahead shares a slot with earlier ticks
    const w = new TimerWheel(10, 8, 0);
    const r = new Recorder();
    w.schedule(new TimerEntry(r, 1), 505);
    driveTo(w, 0, 504);
    expect(r.fired).toEqual([]);
    driveTo(w, 504, 600);
    expect(r.fired.map((f) => f.at)).toEqual([510]);
  });

  it('cancel: a cancelled entry never fires; cancelling twice or an unscheduled entry is harmless', () => {
    const w = new TimerWheel(5, 16, 0);
    const r = new Recorder();
    const a = new TimerEntry(r, 1);
    const b = new TimerEntry(r, 2);
    w.schedule(a, 50);
    w.schedule(b, 50);
    w.cancel(a);
    w.cancel(a);
    w.cancel(new TimerEntry(r, 3));
    expect(w.size).toBe(1);
    driveTo(w, 0, 200);
    expect(r.fired.map((f) => f.kind)).toEqual([2]);
  });

  it('a deadline already past fires at the next tick boundary', () => {
    const w = new TimerWheel(10, 8, 1000);
    const r = new Recorder();
    w.advance(1055);
    w.schedule(new TimerEntry(r, 1), 900);
    driveTo(w, 1055, 1100);
    expect(r.fired.map((f) => f.at)).toEqual([1060]);
  });

  it('runDue stops after `budget` entries that returned true and goes on when called again', () => {
    const w = new TimerWheel(10, 8, 0);
    const r = new Recorder();
    for (let i = 0; i < 10; i++) w.schedule(new TimerEntry(r, i), 15);
    w.advance(20);
    expect(w.runDue(20, 4)).toBe(false);
    expect(r.fired).toHaveLength(4);
    expect(w.hasDue).toBe(true);
    expect(w.runDue(20, 4)).toBe(false);
    expect(w.runDue(20, 4)).toBe(true);
    expect(r.fired.map((f) => f.kind).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(w.size).toBe(0);
  });

  it('an entry rescheduled by its own target fires again at the new deadline', () => {
    const w = new TimerWheel(10, 8, 0);
    let fired = 0;
    const target: TimerTarget = {
      onTimer: (_k, now) => {
        if (++fired < 3) w.schedule(e, now + 100);
        return false;
      },
    };
    const e = new TimerEntry(target, 0);
    w.schedule(e, 100);
    driveTo(w, 0, 1000);
    expect(fired).toBe(3);
  });

  it('property: every deadline fires exactly once, never early, at most one tick late; cancelled ones never', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 3000 }), cancel: fc.boolean(), moveTo: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: undefined }) }), { maxLength: 60 }),
        (tick, slots, start, specs) => {
          const w = new TimerWheel(tick, slots, start);
          const firedAt = new Map<number, number[]>();
          const target: TimerTarget = {
            onTimer: (kind, now) => {
              const list = firedAt.get(kind) ?? [];
              list.push(now);
              firedAt.set(kind, list);
              return true;
            },
          };
          const entries = specs.map((s, i) => {
            const e = new TimerEntry(target, i);
            w.schedule(e, start + s.delay);
            return e;
          });
          const deadline = specs.map((s) => start + s.delay);
          specs.forEach((s, i) => {
            if (s.moveTo !== undefined) {
              w.schedule(entries[i]!, start + s.moveTo);
              deadline[i] = start + s.moveTo;
            }
            if (s.cancel) w.cancel(entries[i]!);
          });
          driveTo(w, start, start + 3000 + 2 * tick + 1);
          specs.forEach((s, i) => {
            const got = firedAt.get(i) ?? [];
            if (s.cancel) {
              expect(got).toEqual([]);
              return;
            }
            expect(got).toHaveLength(1);
            expect(got[0]!).toBeGreaterThanOrEqual(deadline[i]!);
            expect(got[0]!).toBeLessThanOrEqual(deadline[i]! + tick);
          });
          expect(w.size).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: advanced at arbitrary times, a deadline never fires early and fires by the first advance a tick past it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 32 }),
        fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 100 }),
        (tick, slots, delays, steps) => {
          const w = new TimerWheel(tick, slots, 0);
          const fired = new Map<number, number>();
          const target: TimerTarget = {
            onTimer: (kind, now) => {
              expect(fired.has(kind)).toBe(false);
              fired.set(kind, now);
              return true;
            },
          };
          delays.forEach((d, i) => w.schedule(new TimerEntry(target, i), d));
          let now = 0;
          for (let i = 0; now <= 2000 + 2 * tick; i++) {
            now += steps[i % steps.length]!;
            w.advance(now);
            w.runDue(now);
            delays.forEach((d, k) => {
              const at = fired.get(k);
              if (at !== undefined) expect(at).toBeGreaterThanOrEqual(d);
              // every tick containing the deadline is wholly past: it must have fired
              else expect(now).toBeLessThan((Math.floor(d / tick) + 1) * tick);
            });
          }
          expect(fired.size).toBe(delays.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
