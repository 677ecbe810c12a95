import fc from 'fast-check';
import { runFramerCompliance } from '@x/core-conn/testing';
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import { encode } from '../codec/encode.js';
import type { HepPacket } from '../codec/types.js';
import { hepTcpSpec } from '../module/params.js';
import { HepFramer } from './framer.js';

class Sink implements FramerSink<HepPacket> {
  readonly got: HepPacket[] = [];
  message(m: HepPacket): void {
    this.got.push(m);
  }
  keepalive(): void {}
  reply(): void {}
}

const pkt = (s: string, extra = 0): Buffer =>
  encode({ version: 3, family: 2, ipProto: 17, srcIp: '127.0.0.1', dstIp: '127.0.0.1', srcPort: 5060, dstPort: 5061, captureId: 2001, protoType: 1, payload: Buffer.from(s + 'x'.repeat(extra)) });

function errCode(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    expect((e as Error).name).toBe('HepError');
    return (e as { code: string }).code;
  }
  return undefined;
}

describe('HepFramer', () => {
  it('frames back-to-back packets in one read and across reads', () => {
    const a = pkt('OPTIONS a');
    const b = pkt('OPTIONS b', 1000);
    const both = Buffer.concat([a, b, a]);
    const f = new HepFramer();
    const s = new Sink();
    f.push(both.subarray(0, 3), s);
    f.push(both.subarray(3, a.length + 10), s);
    expect(s.got).toHaveLength(1);
    expect(f.pendingBytes).toBe(10);
    f.push(both.subarray(a.length + 10), s);
    expect(s.got.map((p) => p.payload.toString().slice(0, 9))).toEqual(['OPTIONS a', 'OPTIONS b', 'OPTIONS a']);
    expect(f.pendingBytes).toBe(0);
  });
  it('a 65535-byte packet fed one byte at a time frames once', () => {
    const big = pkt('', 65535 - pkt('').length);
    expect(big.length).toBe(65535);
    const f = new HepFramer();
    const s = new Sink();
    for (let i = 0; i < big.length; i++) f.push(big.subarray(i, i + 1), s);
    expect(s.got).toHaveLength(1);
    expect(encode(s.got[0]!).equals(big)).toBe(true);
  });
  it('length word 0 and 5 -> ERR_HEP_LENGTH, even split inside the header', () => {
    for (const len of [0, 5]) {
      const b = Buffer.from(pkt('x'));
      b.writeUInt16BE(len, 4);
      expect(errCode(() => new HepFramer().push(b, new Sink()))).toBe('ERR_HEP_LENGTH');
      const f = new HepFramer();
      f.push(b.subarray(0, 5), new Sink());
      expect(errCode(() => f.push(b.subarray(5), new Sink()))).toBe('ERR_HEP_LENGTH');
    }
  });
  it('length word 65535 with fewer bytes waits (the engine caps bytes and time)', () => {
    const b = Buffer.from(pkt('x'));
    b.writeUInt16BE(65535, 4);
    const f = new HepFramer();
    f.push(b, new Sink());
    expect(f.pendingBytes).toBe(b.length);
  });
  it('a chunk length pointing past the packet end -> ERR_HEP_CHUNK_LENGTH', () => {
    const b = Buffer.from(pkt('x'));
    b.writeUInt16BE(0x7fff, 6 + 4);
    expect(errCode(() => new HepFramer().push(b, new Sink()))).toBe('ERR_HEP_CHUNK_LENGTH');
  });
  it('HEPv1/v2 and garbage on a stream -> ERR_HEP_MAGIC at the first wrong byte', () => {
    const v1 = encode({ version: 1, srcIp: '127.0.0.1', dstIp: '127.0.0.1', payload: Buffer.from('OPTIONS') });
    expect(errCode(() => new HepFramer().push(v1.subarray(0, 1), new Sink()))).toBe('ERR_HEP_MAGIC');
    expect(errCode(() => new HepFramer().push(Buffer.from('HEP2\x00\x10'), new Sink()))).toBe('ERR_HEP_VERSION');
    const f = new HepFramer();
    f.push(Buffer.from('HE'), new Sink());
    expect(errCode(() => f.push(Buffer.from('X'), new Sink()))).toBe('ERR_HEP_MAGIC');
    // garbage after a valid packet
    const g = new HepFramer();
    const s = new Sink();
    expect(errCode(() => g.push(Buffer.concat([pkt('ok'), Buffer.from('GET /')]), s))).toBe('ERR_HEP_MAGIC');
    expect(s.got).toHaveLength(1);
  });
});

const arb: fc.Arbitrary<HepPacket> = fc
  .record({
    srcPort: fc.integer({ min: 0, max: 65535 }),
    captureId: fc.integer({ min: 0, max: 0xffffffff }),
    correlationId: fc.string({ maxLength: 30 }),
    payload: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  })
  .map((r) => ({ version: 3, family: 2, ipProto: 17, srcIp: '127.0.0.1', dstIp: '127.0.0.2', dstPort: 9060, protoType: 1, ...r }) as HepPacket);

runFramerCompliance<HepPacket>({
  name: 'proto-hep HEPv3 TCP framer',
  spec: hepTcpSpec(),
  encode,
  arbitraryMessage: arb,
  equals: (framed, original) => encode(framed).equals(encode(original)),
  incomplete: pkt('INVITE sip:bob@example.com SIP/2.0', 200).subarray(0, 180),
  numRuns: 150,
});
