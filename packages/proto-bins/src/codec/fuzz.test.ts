// encode(decode(b)) is b for every valid packet; decode, the framer and the clusterer readers
// reject mutated bytes with typed errors only, and never throw anything else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import { BinFramer } from '../framer/framer.js';
import {
  BinError,
  ClustererMsgType,
  decode,
  decodeClustererInternal,
  decodeGenericMsg,
  encode,
  encodeClustererInternal,
  encodeGenericMsg,
  type BinPacket,
  type ClustererInternalMsg,
} from './index.js';

const typed = (e: unknown): void => {
  if (!(e instanceof BinError) || !/^ERR_BIN_[A-Z_]+$/.test(e.code) || e.name !== 'BinError') throw e;
};
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const id = fc.integer({ min: 1, max: 64 });
const ids = fc.array(id, { maxLength: 6 });
const ascii = fc.string({ maxLength: 40 });

const validPacket: fc.Arbitrary<Buffer> = fc
  .record({
    version: fc.integer({ min: -32768, max: 32767 }),
    capability: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a).toString('latin1')),
    type: i32,
    body: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
  })
  .map(encode);

const descr = fc.record({ url: ascii, sipAddr: ascii, priority: i32, noPingRetries: i32 });
const head = { clusterId: id, sourceId: id };
const internal: fc.Arbitrary<ClustererInternalMsg> = fc.oneof(
  fc.record({ type: fc.constant(ClustererMsgType.PING), ...head, reqNodeList: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ type: fc.constant(ClustererMsgType.PONG), ...head, nodes: ids }),
  fc.record({ type: fc.constant(ClustererMsgType.LS_UPDATE), ...head, seqNo: i32, timestamp: i32, neighbourId: id, linkState: fc.integer({ min: 0, max: 6 }), path: ids }),
  fc.record({
    type: fc.constant(ClustererMsgType.FULL_TOP_UPDATE),
    ...head,
    seqNo: i32,
    timestamp: i32,
    nodes: fc.array(fc.record({ nodeId: id, description: descr, lsSeqNo: i32, lsTimestamp: i32, neighbours: ids }, { requiredKeys: ['nodeId', 'lsSeqNo', 'lsTimestamp', 'neighbours'] }), { maxLength: 4 }),
    path: ids,
  }),
  fc.record({ type: fc.constant(ClustererMsgType.UNKNOWN_ID), ...head }),
  fc.record({ type: fc.constant(ClustererMsgType.NODE_DESCRIPTION), ...head, description: descr, path: ids }),
  fc.record({
    type: fc.constant(ClustererMsgType.CAP_UPDATE),
    ...head,
    seqNo: i32,
    timestamp: i32,
    nodes: fc.array(fc.record({ nodeId: id, capabilities: fc.array(fc.record({ name: ascii, state: fc.integer({ min: 0, max: 1 }) }), { maxLength: 3 }) }), { maxLength: 3 }),
    requireReply: fc.integer({ min: 0, max: 1 }),
    path: ids,
  }),
);

type Mutation = (b: Buffer) => Buffer;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([i, v]) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length) c[i % c.length] = v;
    return c;
  }),
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
  fc.uint8Array({ maxLength: 8 }).map((a) => (b: Buffer) => Buffer.concat([b, Buffer.from(a)])),
  fc.tuple(fc.nat(), i32).map(([i, v]) => (b: Buffer) => {
    const c = Buffer.from(b);
    if (c.length >= 4) c.writeInt32LE(v, (i % (c.length - 3)) & ~0);
    return c;
  }),
);

class Sink implements FramerSink<BinPacket> {
  got: BinPacket[] = [];
  message(m: BinPacket): void {
    this.got.push(m);
  }
  keepalive(): void {}
  reply(): void {}
}

describe('properties', () => {
  it('encode(decode(b)) is b', () => {
    fc.assert(fc.property(validPacket, (b) => encode(decode(b)).equals(b)), { numRuns: 500 });
  });
  it('clusterer-internal packets: typed decode then encode is the identity', () => {
    fc.assert(
      fc.property(internal, (m) => {
        const b = encodeClustererInternal(m);
        const back = decodeClustererInternal(decode(b));
        expect(encodeClustererInternal(back).equals(b)).toBe(true);
        expect(back).toEqual(m);
      }),
      { numRuns: 400 },
    );
  });
  it('GENERIC_MSG round trips', () => {
    fc.assert(
      fc.property(fc.record({ reqLike: fc.integer({ min: 0, max: 1 }), tag: ascii, message: fc.string({ maxLength: 300 }), clusterId: id, sourceId: id, destId: fc.oneof(id, fc.constant(-1)) }), (m) => {
        expect(decodeGenericMsg(decode(encodeGenericMsg(m)))).toEqual(m);
      }),
    );
  });
  it('mutated packets: decode and the typed readers throw BinError or succeed, never anything else', () => {
    const seeds = fc.oneof(validPacket, internal.map(encodeClustererInternal));
    fc.assert(
      fc.property(seeds, mutation, (b, mut) => {
        const m = mut(b);
        try {
          const p = decode(m);
          expect(encode(p).equals(m)).toBe(true);
          if (p.capability === 'clusterer-internal') decodeClustererInternal(p);
        } catch (e) {
          typed(e);
        }
      }),
      { numRuns: 1500 },
    );
  });
  it('a stream of valid packets cut anywhere frames to the same packets', () => {
    fc.assert(
      fc.property(fc.array(validPacket, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (pkts, cuts) => {
        const stream = Buffer.concat(pkts);
        const points = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
        const f = new BinFramer();
        const s = new Sink();
        let prev = 0;
        for (const p of [...points, stream.length]) {
          f.push(stream.subarray(prev, p), s);
          prev = p;
        }
        expect(Buffer.concat(s.got.map(encode)).equals(stream)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
  it('a mutated stream: the framer throws BinError or frames, never anything else', () => {
    fc.assert(
      fc.property(fc.array(validPacket, { minLength: 1, maxLength: 4 }), mutation, fc.nat(), (pkts, mut, cut) => {
        const stream = mut(Buffer.concat(pkts));
        const f = new BinFramer();
        const s = new Sink();
        try {
          const c = stream.length ? cut % stream.length : 0;
          f.push(stream.subarray(0, c), s);
          f.push(stream.subarray(c), s);
        } catch (e) {
          typed(e);
        }
      }),
      { numRuns: 800 },
    );
  });
});
