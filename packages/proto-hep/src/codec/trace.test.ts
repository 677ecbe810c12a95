// The trace hot path's encoder (writeTraceHep3) against the general one (packHep -> encode): the
// same fields give the same bytes, at any offset of a bigger buffer, for any valid input;
// whatever packHep refuses or converts, the fast path declines (TRACE_UNENCODABLE) and writes
// nothing; too little room is reported as the size needed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packHep } from '../pack.js';
import { decode } from './decode.js';
import { Hep3TraceEncoder, TRACE_UNENCODABLE, writeTraceHep3, type Hep3TraceFields } from './trace.js';

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('127.0.0.1', '::1', '::ffff:10.0.0.1', 'fe80::1'));
const fields: fc.Arbitrary<Hep3TraceFields> = fc.record(
  {
    protoType: u(8),
    ipProto: u(8),
    src: fc.record({ host, port: u(16) }),
    dst: fc.record({ host, port: u(16) }),
    timestamp: fc.record({ sec: u(32), usec: u(32) }),
    correlationId: fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 300 })),
  },
  { requiredKeys: ['protoType', 'ipProto', 'src', 'dst', 'timestamp'] },
);
const payload = fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a));

/** what the sink wrote before the fast path: packHep of the same fields */
function reference(f: Hep3TraceFields, p: Buffer, captureId: number): Buffer {
  return packHep(f.src, f.dst, f.ipProto, p, {
    version: 3,
    captureId,
    protoType: f.protoType,
    ...(f.timestamp ? { timestamp: f.timestamp } : {}),
    ...(f.correlationId !== undefined ? { correlationId: f.correlationId } : {}),
  });
}

describe('writeTraceHep3', () => {
  it('a SIP message trace: the bytes packHep writes, and they decode to the fields', () => {
    const sip = Buffer.from('OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: abc@h\r\nContent-Length: 0\r\n\r\n');
    const f: Hep3TraceFields = { protoType: 1, ipProto: 6, src: { host: '127.0.0.2', port: 40000 }, dst: { host: '127.0.0.1', port: 5060 }, timestamp: { sec: 1700000000, usec: 123456 }, correlationId: 'abc@h' };
    const b = Buffer.alloc(1024, 0xee);
    const end = writeTraceHep3(b, 10, f, sip, 2001, 0);
    const want = reference(f, sip, 2001);
    expect(end).toBe(10 + want.length);
    expect(b.subarray(10, end).equals(want)).toBe(true);
    expect(b[9]).toBe(0xee);
    expect(b[end]).toBe(0xee);
    expect(decode(b.subarray(10, end))).toMatchObject({ version: 3, srcIp: '127.0.0.2', dstIp: '127.0.0.1', srcPort: 40000, dstPort: 5060, protoType: 1, ipProto: 6, captureId: 2001, correlationId: 'abc@h', payload: sip });
  });

  it('property: byte-identical to packHep at any offset, for IPv4/IPv6/mixed addresses, any correlation text, with and without a correlation', () => {
    fc.assert(
      fc.property(fields, payload, u(32), fc.nat(64), (f, p, captureId, off) => {
        const want = reference(f, p, captureId);
        const b = Buffer.alloc(off + want.length + 8, 0xa5);
        const end = writeTraceHep3(b, off, f, p, captureId, 0);
        expect(end).toBe(off + want.length);
        expect(b.subarray(off, end).equals(want)).toBe(true);
        // nothing outside the packet touched
        expect(b.subarray(0, off).every((x) => x === 0xa5)).toBe(true);
        expect(b.subarray(end).every((x) => x === 0xa5)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('property: no room -> -(size), nothing written; then it fits exactly', () => {
    fc.assert(
      fc.property(fields, payload, fc.nat(200), (f, p, short) => {
        const size = reference(f, p, 1).length;
        const small = Buffer.alloc(Math.max(0, size - 1 - short), 0x11);
        expect(writeTraceHep3(small, 0, f, p, 1, 0)).toBe(-size);
        expect(small.every((x) => x === 0x11)).toBe(true);
        expect(writeTraceHep3(Buffer.alloc(size), 0, f, p, 1, 0)).toBe(size);
      }),
      { numRuns: 200 },
    );
  });

  it('without a timestamp: now (nowMs), as packHep stamps it', () => {
    const f: Hep3TraceFields = { protoType: 1, ipProto: 6, src: { host: '10.0.0.1', port: 1 }, dst: { host: '10.0.0.2', port: 2 } };
    const b = Buffer.alloc(512);
    const end = writeTraceHep3(b, 0, f, Buffer.from('x'), 1, 1700000000123.456);
    expect(decode(b.subarray(0, end)).timestamp).toEqual({ sec: 1700000000, usec: 123456 });
  });

  it('declines (writes nothing) what packHep refuses or converts', () => {
    const ok: Hep3TraceFields = { protoType: 1, ipProto: 6, src: { host: '10.0.0.1', port: 1 }, dst: { host: '10.0.0.2', port: 2 }, timestamp: { sec: 1, usec: 2 } };
    const bad: Array<[string, Hep3TraceFields, number?, Buffer?]> = [
      ['a host name', { ...ok, src: { host: 'localhost', port: 1 } }],
      ['a leading zero', { ...ok, dst: { host: '10.0.0.02', port: 2 } }],
      ['a port past 16 bits', { ...ok, src: { host: '10.0.0.1', port: 65536 } }],
      ['a negative port', { ...ok, dst: { host: '10.0.0.2', port: -1 } }],
      ['ipProto 256', { ...ok, ipProto: 256 }],
      ['a fractional proto type', { ...ok, protoType: 1.5 }],
      ['usec past 32 bits', { ...ok, timestamp: { sec: 1, usec: 2 ** 32 } }],
      ['a non-string correlation', { ...ok, correlationId: 5 as unknown as string }],
      ['a capture id past 32 bits', ok, 2 ** 32],
      ['a packet past 65535 bytes', ok, 1, Buffer.alloc(65535 - 98)],
    ];
    for (const [why, f, cap = 1, p = Buffer.from('x')] of bad) {
      const b = Buffer.alloc(70000, 0x33);
      expect(writeTraceHep3(b, 0, f, p, cap, 0), why).toBe(TRACE_UNENCODABLE);
      expect(b.every((x) => x === 0x33), why).toBe(true);
      if (why !== 'a host name') expect(() => reference(f, p, cap), why).toThrow();
    }
  });
});

describe('Hep3TraceEncoder (the fixed chunks of the last two address pairs kept as bytes)', () => {
  // few addresses, so that a run of packets hits, misses and alternates between the kept pairs
  const pair = fc.record({ src: fc.record({ host: fc.constantFrom('127.0.0.1', '10.1.2.3', '::1'), port: fc.constantFrom(5060, 40000) }), dst: fc.record({ host: fc.constantFrom('127.0.0.1', 'fe80::2'), port: fc.constantFrom(5060, 9) }) });
  const one = fc.tuple(fields, pair, fc.boolean(), payload);
  it('property: a run of packets, each byte-identical to packHep, in one buffer back to back; declined fields decline', () => {
    fc.assert(
      fc.property(fc.array(one, { minLength: 1, maxLength: 30 }), u(32), (run, captureId) => {
        const enc = new Hep3TraceEncoder(captureId);
        const b = Buffer.alloc(80_000);
        let o = 0;
        for (const [f0, addr, swap, p] of run) {
          const f = { ...f0, src: swap ? addr.dst : addr.src, dst: swap ? addr.src : addr.dst, ipProto: f0.ipProto % 3 === 0 ? 6 : f0.ipProto };
          const want = reference(f, p, captureId);
          const end = enc.write(b, o, f, p, 0);
          if (b.length - o < want.length) {
            expect(end).toBe(-want.length);
            break;
          }
          expect(end).toBe(o + want.length);
          expect(b.subarray(o, end).equals(want)).toBe(true);
          o = end;
        }
        // what packHep refuses, the encoder declines, after hits too
        const f = { ...run[0]![0], src: { host: '10.0.0.1', port: 70000 }, dst: run[0]![1].dst };
        expect(enc.write(b, 0, f, Buffer.from('x'), 0)).toBe(TRACE_UNENCODABLE);
        expect(enc.write(b, 0, { ...f, src: { host: 'h', port: 1 } }, Buffer.from('x'), 0)).toBe(TRACE_UNENCODABLE);
      }),
      { numRuns: 300 },
    );
  });
  it('now (nowMs) when there is no timestamp, patched into the kept bytes', () => {
    const enc = new Hep3TraceEncoder(1);
    const f: Hep3TraceFields = { protoType: 1, ipProto: 6, src: { host: '10.0.0.1', port: 1 }, dst: { host: '10.0.0.2', port: 2 } };
    const b = Buffer.alloc(512);
    for (const ms of [1700000000123.25, 1700000999000.5]) {
      const end = enc.write(b, 0, f, Buffer.from('x'), ms);
      expect(b.subarray(0, end).equals(reference({ ...f, timestamp: { sec: Math.floor(ms / 1000), usec: Math.floor((ms % 1000) * 1000) } }, Buffer.from('x'), 1))).toBe(true);
    }
  });
});
