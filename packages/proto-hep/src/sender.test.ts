// HepSender's retry policy with a scripted transmit and fake timers: exponential back-off up
// to the cap, order kept, success resets, hep_max_retries -> cooldown -> one attempt again.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HEP_SENDER_SLAB, HepSender, type HepPacketWriter } from './sender.js';
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

  describe('sendWith (packets encoded straight into the sender buffer)', () => {
    /** a HEP3-framed packet: "HEP3", its length, then the text (what packetsOf splits on) */
    const frame = (text: string): Buffer => {
      const b = Buffer.alloc(6 + Buffer.byteLength(text));
      b.write('HEP3');
      b.writeUInt16BE(b.length, 4);
      b.write(text, 6);
      return b;
    };
    const writer: HepPacketWriter<string> = (text, b, o) => {
      if (text === 'bad') return 0;
      const f = frame(text);
      if (b.length - o < f.length) return -f.length;
      f.copy(b, o);
      return o + f.length;
    };
    const writes = () => {
      const got: Buffer[] = [];
      let down = false;
      const transmit = (_d: HepDestination, data: Buffer): Promise<unknown> => {
        if (down) return Promise.reject(new Error('down'));
        got.push(Buffer.from(data));
        return Promise.resolve();
      };
      return { got, transmit, setDown: (v: boolean) => (down = v) };
    };

    it('tcp: the packets of one turn leave in one write, in order, byte for byte; the next turn in the next write', async () => {
      const w = writes();
      const s = new HepSender(dest, w.transmit);
      const sent: string[] = [];
      s.on('sent', (d: Buffer) => sent.push(d.subarray(6).toString()));
      for (const t of ['a1', 'b22', 'c333']) expect(s.sendWith(t, writer)).toBe(true);
      expect(w.got).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(0);
      expect(w.got).toHaveLength(1);
      expect(w.got[0]!.equals(Buffer.concat(['a1', 'b22', 'c333'].map(frame)))).toBe(true);
      s.sendWith('d4', writer);
      await vi.advanceTimersByTimeAsync(0);
      expect(w.got).toHaveLength(2);
      expect(w.got[1]!.equals(frame('d4'))).toBe(true);
      expect(sent).toEqual(['a1', 'b22', 'c333', 'd4']);
      expect(s.stats()).toMatchObject({ sent: 4, queued: 0, dropped: 0 });
      s.close();
    });

    it('tcp: packets past the buffer size go on in a new buffer; batches stay within batchBytes; every byte arrives in order', async () => {
      const w = writes();
      const s = new HepSender(dest, w.transmit, { batchBytes: 20_000, maxQueue: 10_000 });
      const texts = Array.from({ length: 300 }, (_, i) => `${i}:`.padEnd(100 + (i % 7) * 111, 'x'));
      for (const t of texts) expect(s.sendWith(t, writer)).toBe(true);
      await vi.advanceTimersByTimeAsync(0);
      const all = Buffer.concat(w.got);
      expect(all.equals(Buffer.concat(texts.map(frame)))).toBe(true);
      expect(all.length).toBeGreaterThan(HEP_SENDER_SLAB);
      expect(Math.max(...w.got.map((g) => g.length))).toBeLessThanOrEqual(20_000);
      expect(s.stats()).toMatchObject({ sent: 300, queued: 0 });
      s.close();
    });

    it('a packet the writer cannot encode is dropped as invalid and counted; the queue bound holds while the collector is down', async () => {
      const w = writes();
      w.setDown(true);
      const dropped: number[] = [];
      const s = new HepSender(dest, w.transmit, { maxQueue: 3, backoffMs: 1000, onDropped: (n) => dropped.push(n) });
      const why: string[] = [];
      s.on('drop', (_d: Buffer, r: string) => why.push(r));
      expect(s.sendWith('bad', writer)).toBe(false);
      for (let i = 0; i < 5; i++) s.sendWith(`p${i}`, writer);
      await vi.advanceTimersByTimeAsync(0);
      expect(why).toEqual(['invalid', 'queue full', 'queue full']);
      expect(s.stats()).toMatchObject({ queued: 3, dropped: 3, failures: 1 });
      w.setDown(false);
      await vi.advanceTimersByTimeAsync(1000);
      expect(w.got.map((g) => g.length)).toEqual([3 * 8]);
      expect(s.stats()).toMatchObject({ queued: 0, sent: 3, dropped: 3 });
      expect(dropped.reduce((a, b) => a + b, 0)).toBe(3);
      s.close();
    });

    it('udp: one datagram per packet', async () => {
      const w = writes();
      const s = new HepSender({ ...dest, transport: 'udp' }, w.transmit);
      for (const t of ['a', 'bb', 'ccc']) s.sendWith(t, writer);
      await vi.advanceTimersByTimeAsync(0);
      expect(w.got.map((g) => g.subarray(6).toString())).toEqual(['a', 'bb', 'ccc']);
      expect(s.stats()).toMatchObject({ sent: 3, queued: 0 });
      s.close();
    });

    /** A datagram transmit whose completions the test gives, in any order. */
    const datagrams = () => {
      const pending: { data: string; done: (err?: Error) => void }[] = [];
      const wire: string[] = [];
      const datagram = (_d: HepDestination, data: Buffer, done: (err?: Error) => void): void => {
        wire.push(data.subarray(6).toString());
        pending.push({ data: data.subarray(6).toString(), done });
      };
      /** completes what is pending, in `order` (indexes into the pending list), failing `fail` */
      const complete = (fail: string[] = [], order?: number[]) => {
        const list = pending.splice(0);
        for (const i of order ?? list.map((_, k) => k)) list[i]!.done(fail.includes(list[i]!.data) ? new Error('EPERM') : undefined);
      };
      const never = (): Promise<unknown> => Promise.reject(new Error('transmit must not be used'));
      return { wire, pending, datagram, complete, never };
    };

    it('udp with a datagram transmit: one datagram per packet in order, no promise transmit; sent counted once all complete', async () => {
      const d = datagrams();
      const sent: number[] = [];
      const s = new HepSender({ ...dest, transport: 'udp' }, d.never, { datagram: d.datagram, onSent: (n) => sent.push(n) });
      const each: string[] = [];
      s.on('sent', (b: Buffer) => each.push(b.subarray(6).toString()));
      for (const t of ['a', 'bb', 'ccc']) s.sendWith(t, writer);
      s.send(frame('dddd'));
      expect(d.wire).toEqual([]);
      await vi.advanceTimersByTimeAsync(0);
      expect(d.wire).toEqual(['a', 'bb', 'ccc', 'dddd']);
      expect(s.stats()).toMatchObject({ sent: 0, queued: 4 });
      // packets of the next turn wait for the flush in flight
      s.sendWith('e', writer);
      await vi.advanceTimersByTimeAsync(0);
      expect(d.wire).toHaveLength(4);
      d.complete([], [3, 1, 0, 2]);
      expect(s.stats()).toMatchObject({ sent: 4, queued: 1, failures: 0 });
      expect(d.wire).toEqual(['a', 'bb', 'ccc', 'dddd', 'e']);
      d.complete();
      expect(s.stats()).toMatchObject({ sent: 5, queued: 0, dropped: 0 });
      expect(sent).toEqual([4, 1]);
      expect(each).toEqual(['a', 'bb', 'ccc', 'dddd', 'e']);
      s.close();
    });

    it('udp with a datagram transmit: the failed datagrams (told apart whatever the completion order) are retried first, in order, after the back-off', async () => {
      const d = datagrams();
      const s = new HepSender({ ...dest, transport: 'udp' }, d.never, { datagram: d.datagram, backoffMs: 100 });
      for (const t of ['a', 'b', 'c', 'd']) s.sendWith(t, writer);
      await vi.advanceTimersByTimeAsync(0);
      s.sendWith('e', writer);
      d.complete(['b', 'd'], [3, 2, 1, 0]);
      expect(s.stats()).toMatchObject({ sent: 2, queued: 3, failures: 1 });
      await vi.advanceTimersByTimeAsync(99);
      expect(d.wire).toEqual(['a', 'b', 'c', 'd']);
      await vi.advanceTimersByTimeAsync(1);
      expect(d.wire.slice(4)).toEqual(['b', 'd', 'e']);
      d.complete();
      expect(s.stats()).toMatchObject({ sent: 5, queued: 0, failures: 0, dropped: 0 });
      s.close();
    });

    it('udp with a datagram transmit: maxRetries failed flushes start the cooldown and drop the queue, counted', async () => {
      const d = datagrams();
      const dropped: number[] = [];
      const s = new HepSender({ ...dest, transport: 'udp' }, d.never, { datagram: d.datagram, backoffMs: 10, maxRetries: 2, retryCooldown: 60, onDropped: (n) => dropped.push(n) });
      s.sendWith('a', writer);
      s.sendWith('b', writer);
      await vi.advanceTimersByTimeAsync(0);
      d.complete(['a', 'b']);
      await vi.advanceTimersByTimeAsync(10);
      expect(d.wire).toEqual(['a', 'b', 'a', 'b']);
      d.complete(['a']);
      expect(s.stats()).toMatchObject({ sent: 1, dropped: 1, queued: 0, coolingDown: true });
      expect(s.sendWith('c', writer)).toBe(false);
      expect(dropped).toEqual([1, 1]);
      s.close();
    });

    it('udp with a datagram transmit: closed with datagrams in flight, the failed ones are dropped as closed, nothing stays queued', async () => {
      const d = datagrams();
      const s = new HepSender({ ...dest, transport: 'udp' }, d.never, { datagram: d.datagram });
      const why: string[] = [];
      s.on('drop', (b: Buffer, r: string) => why.push(`${b.subarray(6).toString()} ${r}`));
      for (const t of ['a', 'b', 'c']) s.sendWith(t, writer);
      await vi.advanceTimersByTimeAsync(0);
      s.sendWith('q', writer);
      s.close();
      expect(why).toEqual(['q closed']);
      d.complete(['b']);
      expect(why).toEqual(['q closed', 'b closed']);
      expect(s.stats()).toMatchObject({ sent: 2, dropped: 2, queued: 0 });
      await vi.advanceTimersByTimeAsync(1000);
      expect(d.wire).toEqual(['a', 'b', 'c']);
    });
  });
});
