// "decoding rejects truncated chunks, bad lengths and wrong magic with typed errors and never
// throws anything else": mutations of valid v1/v2/v3 packets (the inputs that get furthest into
// the decoder), streams of them cut anywhere for the framer, and ill-typed packets for encode.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import { HepFramer } from '../framer/framer.js';
import { packHep } from '../pack.js';
import { decode, encode, HepError, type HepPacket } from './index.js';

const typed = (e: unknown): void => {
  if (!(e instanceof HepError) || !/^ERR_HEP_[A-Z_]+$/.test(e.code) || e.name !== 'HepError') throw e;
};

const u = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });
const ip = fc.oneof(fc.tuple(fc.ipV4(), fc.ipV4()), fc.tuple(fc.ipV6(), fc.ipV6()));
const validPacket: fc.Arbitrary<Buffer> = fc
  .record({
    version: fc.constantFrom(1 as const, 2 as const, 3 as const),
    ips: ip,
    ipProto: u(8), srcPort: u(16), dstPort: u(16), captureId: u(16), protoType: u(8),
    timestamp: fc.record({ sec: u(32), usec: u(32) }),
    correlationId: fc.string({ maxLength: 20 }),
    vendorChunks: fc.array(fc.record({ vendor: u(16), type: fc.integer({ min: 0x14, max: 0xffff }), data: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)) }), { maxLength: 3 }),
    payload: fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)),
  })
  .map(({ version, ips, correlationId, vendorChunks, protoType, ...r }) => {
    const p: HepPacket = { version, srcIp: ips[0], dstIp: ips[1], ...r };
    if (version === 3) Object.assign(p, { correlationId, vendorChunks, protoType });
    return encode(p);
  });

type Mutation = (b: Buffer) => Buffer;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // overwrite one byte
  fc.tuple(fc.nat(), u(8)).map(([i, v]) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length) c[i % c.length] = v;
    return c;
  }),
  // overwrite a 16-bit word (length words, chunk ids) with a boundary value
  fc.tuple(fc.nat(), fc.constantFrom(0, 1, 5, 6, 7, 8, 10, 22, 0x7fff, 0xfffe, 0xffff)).map(([i, v]) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length >= 2) c.writeUInt16BE(v, i % (c.length - 1));
    return c;
  }),
  // cut
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
  // append junk
  fc.uint8Array({ minLength: 1, maxLength: 30 }).map((a) => (b: Buffer) => Buffer.concat([b, a])),
  // fix the v3 total length after another mutation, so the chunk walk runs on the bad chunk
  fc.constant((b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length >= 6 && c.toString('latin1', 0, 4) === 'HEP3') c.writeUInt16BE(Math.min(c.length, 0xffff), 4);
    return c;
  }),
);
const mutated = fc.tuple(validPacket, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => ms.reduce((x, m) => m(x), b));

class Sink implements FramerSink<HepPacket> {
  n = 0;
  message(): void {
    this.n++;
  }
  keepalive(): void {}
  reply(): void {}
}

describe('fuzz: only typed errors', () => {
  it('decode of mutated v1/v2/v3 packets: a HepPacket or a HepError, nothing else', () => {
    let rejected = 0;
    let accepted = 0;
    fc.assert(
      fc.property(mutated, (b) => {
        try {
          const p = decode(b);
          accepted++;
          // whatever decodes must re-encode and decode again to the same fields
          expect(Buffer.isBuffer(p.payload)).toBe(true);
          expect(decode(encode(p)).payload.equals(p.payload)).toBe(true);
        } catch (e) {
          rejected++;
          typed(e);
        }
      }),
      { numRuns: 5000 },
    );
    // the mutations reach both outcomes (a fuzzer that only produced garbage would prove little)
    expect(rejected).toBeGreaterThan(500);
    expect(accepted).toBeGreaterThan(500);
  });

  it('the TCP framer fed mutated streams cut anywhere: messages or a HepError, nothing else', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(validPacket, mutated), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 20 }), (pkts, cuts) => {
        const stream = Buffer.concat(pkts);
        const f = new HepFramer();
        const s = new Sink();
        try {
          for (let i = 0, k = 0; i < stream.length; k++) {
            const n = cuts[k % cuts.length]!;
            f.push(stream.subarray(i, i + n), s);
            i += n;
          }
        } catch (e) {
          typed(e);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('encode of ill-typed packets (from untyped callers): a Buffer or a HepError ERR_HEP_INVALID', () => {
    const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant({}), fc.constant([]), fc.constant(Buffer.from('x')), fc.bigInt());
    const field = fc.constantFrom(
      'version', 'family', 'ipProto', 'srcIp', 'dstIp', 'srcPort', 'dstPort', 'timestamp', 'protoType', 'captureId', 'keepAliveTimer',
      'authKey', 'payload', 'compressed', 'correlationId', 'vlan', 'nodeName', 'extraCorrelation', 'vendorChunks', 'chunks', 'v2TimeBlockLength',
    );
    const chunkJunk = fc.array(fc.record({ vendor: fc.oneof(u(16), junk), type: fc.oneof(u(16), junk), data: fc.oneof(fc.constant(Buffer.from('d')), junk) }), { maxLength: 2 });
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3),
        fc.array(fc.tuple(field, fc.oneof(junk, chunkJunk, fc.record({ sec: junk, usec: junk }))), { minLength: 1, maxLength: 4 }),
        (version, sets) => {
          const p: Record<string, unknown> = { version, srcIp: '10.0.0.1', dstIp: '10.0.0.2', payload: Buffer.from('SIP') };
          for (const [k, v] of sets) p[k] = v;
          try {
            const b = encode(p as unknown as HepPacket);
            expect(Buffer.isBuffer(b)).toBe(true);
          } catch (e) {
            typed(e);
            expect((e as HepError).code).toBe('ERR_HEP_INVALID');
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('packHep with ill-typed arguments: a Buffer or ERR_HEP_INVALID', () => {
    const junk = fc.oneof(fc.constant(undefined), fc.constant(null), fc.string({ maxLength: 8 }), fc.integer(), fc.constant({}), fc.constant(Object.create(null) as object), fc.constant(Buffer.from('x')));
    const endpoint = fc.oneof(junk, fc.record({ host: fc.oneof(fc.ipV4(), fc.ipV6(), junk), port: fc.oneof(u(16), junk) }));
    const opts = fc.record({ version: fc.oneof(fc.constantFrom(1, 2, 3), junk), captureId: fc.oneof(u(16), junk), correlationId: junk, protoType: junk }, { requiredKeys: [] });
    fc.assert(
      fc.property(endpoint, endpoint, fc.oneof(fc.constantFrom('udp', 'tcp', 'toString', '__proto__'), u(8), junk), fc.oneof(fc.string(), junk), opts, (f, t, proto, payload, o) => {
        try {
          expect(Buffer.isBuffer(packHep(f as never, t as never, proto as never, payload as never, o as never))).toBe(true);
        } catch (e) {
          typed(e);
          expect((e as HepError).code).toBe('ERR_HEP_INVALID');
        }
      }),
      { numRuns: 3000 },
    );
  });
});
