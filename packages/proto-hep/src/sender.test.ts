// HepSender's retry policy with a scripted transmit and fake timers: exponential back-off up
// to the cap, order kept, success resets, hep_max_retries -> cooldown -> one attempt again.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HepSender } from './sender.js';
import type { HepDestination } from './hep-id.js';

const dest: HepDestination = { name: 'c', host: '127.0.0.1', port: 9060, transport: 'tcp', version: 3 };
const pkt = (n: number) => Buffer.from(`p${n}`);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A transmit that fails while `down` is true and records every attempt with its fake time. */
function collector() {
  const c = { down: true, attempts: [] as { at: number; data: string }[], delivered: [] as string[] };
  const transmit = (_d: HepDestination, data: Buffer): Promise<unknown> => {
    c.attempts.push({ at: Date.now(), data: data.toString() });
    if (c.down) return Promise.reject(new Error('ECONNREFUSED'));
    c.delivered.push(data.toString());
    return Promise.resolve();
  };
  return { c, transmit };
}

describe('HepSender', () => {
  it('retries the head packet with doubling delays up to maxBackoffMs, then delivers the queue in order', async () => {
    const { c, transmit } = collector();
    const s = new HepSender(dest, transmit, { backoffMs: 100, maxBackoffMs: 800, maxRetries: 100, batchBytes: 0 });
    const t0 = Date.now();
    for (let i = 1; i <= 3; i++) s.send(pkt(i));
    await vi.advanceTimersByTimeAsync(100 + 200 + 400 + 800 + 800);
    expect(c.attempts.map((a) => a.at - t0)).toEqual([0, 100, 300, 700, 1500, 2300]);
    expect(new Set(c.attempts.map((a) => a.data))).toEqual(new Set(['p1']));
    expect(s.stats()).toMatchObject({ queued: 3, failures: 6, sent: 0, dropped: 0 });
    c.down = false;
    await vi.advanceTimersByTimeAsync(800);
    expect(c.delivered).toEqual(['p1', 'p2', 'p3']);
    expect(s.stats()).toMatchObject({ queued: 0, failures: 0, sent: 3, dropped: 0 });
    // a success reset the back-off: the next outage starts again at backoffMs
    c.down = true;
    const t1 = Date.now();
    s.send(pkt(4));
    await vi.advanceTimersByTimeAsync(100);
    expect(c.attempts.slice(-2).map((a) => a.at - t1)).toEqual([0, 100]);
    s.close();
  });

  it('a stream destination writes the packets of one task in one write (at most batchBytes); a failed batch is retried whole; udp never batches', async () => {
    const { c, transmit } = collector();
    c.down = false;
    const s = new HepSender(dest, transmit, { backoffMs: 100, batchBytes: 6 });
    for (let i = 1; i <= 5; i++) s.send(pkt(i));
    expect(c.attempts).toHaveLength(0); // the write starts once this task is done
    await vi.advanceTimersByTimeAsync(0);
    expect(c.delivered).toEqual(['p1p2p3', 'p4p5']);
    expect(s.stats()).toMatchObject({ sent: 5, queued: 0 });
    c.down = true;
    s.send(pkt(6));
    s.send(pkt(7));
    await vi.advanceTimersByTimeAsync(0);
    c.down = false;
    await vi.advanceTimersByTimeAsync(100);
    expect(c.attempts.slice(-2).map((a) => a.data)).toEqual(['p6p7', 'p6p7']);
    expect(c.delivered.at(-1)).toBe('p6p7');
    expect(s.stats()).toMatchObject({ sent: 7, queued: 0, dropped: 0 });
    s.close();
    const u = collector();
    u.c.down = false;
    const su = new HepSender({ ...dest, transport: 'udp' }, u.transmit, {});
    for (let i = 1; i <= 3; i++) su.send(pkt(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(u.c.delivered).toEqual(['p1', 'p2', 'p3']);
    su.close();
  });

  it('maxRetries consecutive failures: queue dropped, sends refused for retryCooldown, then one attempt is allowed', async () => {
    const { c, transmit } = collector();
    const s = new HepSender(dest, transmit, { backoffMs: 10, maxRetries: 3, retryCooldown: 60 });
    const drops: string[] = [];
    s.on('drop', (d: Buffer, why: string) => drops.push(`${d.toString()}:${why}`));
    s.send(pkt(1));
    s.send(pkt(2));
    await vi.advanceTimersByTimeAsync(10 + 20);
    expect(c.attempts).toHaveLength(3);
    expect(s.stats()).toMatchObject({ coolingDown: true, queued: 0, dropped: 2 });
    expect(s.send(pkt(3))).toBe(false);
    expect(drops).toEqual(['p1:cooldown', 'p2:cooldown', 'p3:cooldown']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(s.stats().coolingDown).toBe(false);
    // still failing: one attempt, and straight back into the cooldown
    expect(s.send(pkt(4))).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(c.attempts).toHaveLength(4);
    expect(s.stats()).toMatchObject({ coolingDown: true, dropped: 4 });
    await vi.advanceTimersByTimeAsync(60_000);
    c.down = false;
    expect(s.send(pkt(5))).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(c.delivered).toEqual(['p5']);
    expect(s.stats()).toMatchObject({ coolingDown: false, failures: 0, sent: 1 });
  });

  it('close() drops what is queued, counts it, and refuses further sends', async () => {
    const { transmit } = collector();
    const s = new HepSender(dest, transmit, { backoffMs: 1000 });
    s.send(pkt(1));
    s.send(pkt(2));
    await vi.advanceTimersByTimeAsync(0);
    s.close();
    expect(s.send(pkt(3))).toBe(false);
    expect(s.stats()).toMatchObject({ queued: 0, dropped: 3 });
  });
});
