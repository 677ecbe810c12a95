import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildTid, coreHash, md5Strings, parseReverseHex, parseTid, reverseHex } from './codec/tid.js';
import { TransactionTable, type Transaction } from './transactions.js';

describe('transaction ids', () => {
  it('reversed hex as OpenSIPS writes it', () => {
    expect(reverseHex(0)).toBe('0');
    expect(reverseHex(0x1a)).toBe('a1');
    expect(reverseHex(255)).toBe('ff');
    expect(reverseHex(0x1234)).toBe('4321');
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (n) => {
        expect(parseReverseHex(reverseHex(n))).toBe(n);
      }),
    );
  });

  it('<hash>.<idx>.<rand>.<md5> cut to 20 chars, parsed back to its bucket and slot', () => {
    const md5 = md5Strings(['msrp://a:1/s;tcp', 'msrp://b:2/t;tcp', 'mid']);
    expect(md5).toMatch(/^[0-9a-f]{32}$/);
    expect(buildTid(0x1a, 3, ['msrp://a:1/s;tcp', 'msrp://b:2/t;tcp', 'mid'], 0x00ff)).toBe(`a1.3.ff.${md5.slice(0, 12)}`);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 29 }), fc.string(), (h, i, s) => {
        const tid = buildTid(h, i, [s, 'x']);
        expect(tid.length).toBeLessThanOrEqual(20);
        expect(tid).toMatch(/^[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+$/);
        expect(parseTid(tid)).toEqual({ hash: h, idx: i });
      }),
    );
    expect(parseTid('333e6fde')).toBeNull();
    expect(parseTid('001.0.1.x')).toBeNull(); // hash 256
    expect(parseTid('0.e1.1.x')).toBeNull(); // slot 30
  });

  it('MD5 sources are trimmed', () => {
    expect(md5Strings([' a ', 'b\t'])).toBe(md5Strings(['a', 'b']));
  });

  it('core_hash of the received id picks a bucket < 256, always the same', () => {
    for (const s of ['66da0091', 'a786hjs2', '', 'x']) {
      expect(coreHash(s, 256)).toBe(coreHash(s, 256));
      expect(coreHash(s, 256)).toBeLessThan(256);
    }
    expect(coreHash('66da0091', 0)).not.toBe(coreHash('66da0092', 0));
  });
});

describe('TransactionTable', () => {
  const nt = (data: number) => ({ method: 'SEND', fromPath: 'msrp://a:1/x;tcp', toTop: 'msrp://r:2/y;tcp', messageId: 'm', md5Extra: 'm', data });

  it('a reply finds its transaction by id once; the first reply ends it', () => {
    const table = new TransactionTable<number>({ onTimeout: () => {} });
    const t = table.create(nt(1));
    expect(table.size).toBe(1);
    expect(table.take(t.tid)?.data).toBe(1);
    expect(table.take(t.tid)).toBeUndefined();
    expect(table.size).toBe(0);
    expect(table.take('not.ours')).toBeUndefined();
  });

  it('forwarded requests take their bucket from the received id', () => {
    const table = new TransactionTable<number>({ onTimeout: () => {} });
    const t = table.create({ ...nt(2), recvTid: '66da0091' });
    expect(t.hash).toBe(coreHash('66da0091', 256));
    expect(t.recvTid).toBe('66da0091');
    expect(parseTid(t.tid)).toEqual({ hash: t.hash, idx: 0 });
  });

  it('times out after the slots have gone round (30 ticks), reported to the owner; replies before that win', () => {
    const timedOut: Transaction<number>[] = [];
    const table = new TransactionTable<number>({ onTimeout: (t) => timedOut.push(t) });
    const a = table.create(nt(1));
    const b = table.create(nt(2));
    table.tick();
    const c = table.create(nt(3));
    expect(parseTid(c.tid)?.idx).toBe(1);
    expect(table.take(b.tid)?.data).toBe(2);
    for (let i = 0; i < 28; i++) table.tick();
    expect(timedOut).toEqual([]);
    table.tick(); // slot 0 is about to be reused
    expect(timedOut.map((t) => t.data)).toEqual([1]);
    expect(table.take(a.tid)).toBeUndefined();
    table.tick();
    expect(timedOut.map((t) => t.data)).toEqual([1, 3]);
    expect(table.size).toBe(0);
  });

  it('an owner that throws on timeout does not stop the others', () => {
    const seen: number[] = [];
    const table = new TransactionTable<number>({ slots: 2, onTimeout: (t) => { seen.push(t.data); throw new Error('x'); } });
    table.create(nt(1));
    table.create(nt(2));
    table.tick();
    table.tick();
    expect(seen.sort()).toEqual([1, 2]);
  });
});
