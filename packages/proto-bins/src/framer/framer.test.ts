import fc from 'fast-check';
import { runFramerCompliance } from '@x/core-conn/testing';
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import type { BinError} from '../codec/index.js';
import { BinBuilder, encode, encodeGenericMsg, type BinPacket } from '../codec/index.js';
import { binSpec, binsSpec, PROTO_BIN_DEFAULTS, PROTO_BINS_DEFAULTS } from '../module/params.js';
import { BinFramer } from './framer.js';

class Sink implements FramerSink<BinPacket> {
  readonly got: BinPacket[] = [];
  keepalives = 0;
  message(m: BinPacket): void {
    this.got.push(m);
  }
  keepalive(): void {
    this.keepalives++;
  }
  reply(): void {}
}

const pkt = (msg: string, extra = 0) => encodeGenericMsg({ reqLike: 1, tag: 't', message: msg + 'x'.repeat(extra), clusterId: 1, sourceId: 2, destId: -1 });

function errCode(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    expect((e as Error).name).toBe('BinError');
    return (e as { code: string }).code;
  }
  return undefined;
}

describe('BinFramer', () => {
  it('frames back-to-back packets in one read and across reads', () => {
    const a = pkt('a');
    const b = pkt('b', 1000);
    const all = Buffer.concat([a, b, a]);
    const f = new BinFramer();
    const s = new Sink();
    f.push(all.subarray(0, 3), s);
    f.push(all.subarray(3, a.length + 10), s);
    expect(s.got).toHaveLength(1);
    expect(f.pendingBytes).toBe(10);
    f.push(all.subarray(a.length + 10), s);
    expect(Buffer.concat(s.got.map(encode)).equals(all)).toBe(true);
    expect(f.pendingBytes).toBe(0);
  });
  it('a 65515-byte packet fed one byte at a time frames once', () => {
    const big = new BinBuilder('cap', 1).pushRaw(Buffer.alloc(65515 - 19, 7)).build();
    expect(big.length).toBe(65515);
    const f = new BinFramer();
    const s = new Sink();
    for (let i = 0; i < big.length; i++) f.push(big.subarray(i, i + 1), s);
    expect(s.got).toHaveLength(1);
    expect(encode(s.got[0]!).equals(big)).toBe(true);
  });
  it('a wrong marker fails at its first wrong byte, even one byte at a time', () => {
    for (let k = 0; k < 4; k++) {
      const b = Buffer.from(pkt('m'));
      b[k] = 0x51;
      const f = new BinFramer();
      const s = new Sink();
      for (let i = 0; i < k; i++) f.push(b.subarray(i, i + 1), s);
      expect(errCode(() => f.push(b.subarray(k, k + 1), s))).toBe('ERR_BIN_MARKER');
      expect(errCode(() => new BinFramer().push(b, new Sink()))).toBe('ERR_BIN_MARKER');
    }
  });
  it('length 16, 0 and 70000 -> ERR_BIN_LENGTH as soon as the length is in, split or not', () => {
    for (const len of [0, 16, 65516, 70000, 0xffffffff]) {
      const b = Buffer.from(pkt('x'));
      b.writeUInt32LE(len, 4);
      expect(errCode(() => new BinFramer().push(b, new Sink()))).toBe('ERR_BIN_LENGTH');
      const f = new BinFramer();
      f.push(b.subarray(0, 7), new Sink());
      expect(errCode(() => f.push(b.subarray(7, 8), new Sink()))).toBe('ERR_BIN_LENGTH');
    }
  });
  it('a 65515 length with fewer bytes waits (the engine caps chunks and time)', () => {
    const b = Buffer.from(pkt('x'));
    b.writeUInt32LE(65515, 4);
    const f = new BinFramer();
    f.push(b, new Sink());
    expect(f.pendingBytes).toBe(b.length);
  });
  it('a capability length that does not fit drops that packet only, as OpenSIPS', () => {
    const bad = Buffer.from(pkt('bad'));
    bad.writeUInt16LE(900, 10);
    const drops: BinError[] = [];
    const f = new BinFramer({ onDrop: (e) => drops.push(e) });
    const s = new Sink();
    f.push(Buffer.concat([pkt('one'), bad, pkt('two')]), s);
    expect(s.got).toHaveLength(2);
    expect(s.keepalives).toBe(1);
    expect(drops.map((e) => e.code)).toEqual(['ERR_BIN_CAPABILITY']);
  });
  it('plaintext HTTP, TLS ClientHello bytes and SIP are refused at the first byte', () => {
    for (const s of ['GET / HTTP/1.1\r\n', '\x16\x03\x01\x02\x00', 'OPTIONS sip:a SIP/2.0\r\n']) {
      expect(errCode(() => new BinFramer().push(Buffer.from(s, 'latin1'), new Sink()))).toBe('ERR_BIN_MARKER');
    }
  });
});

const arb: fc.Arbitrary<BinPacket> = fc.record({
  version: fc.integer({ min: -32768, max: 32767 }),
  capability: fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'a')),
  type: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  body: fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
});

runFramerCompliance<BinPacket>({
  name: 'proto-bins BIN framer (bin)',
  spec: binSpec(),
  encode,
  arbitraryMessage: arb,
  equals: (framed, original) => encode(framed).equals(encode(original)),
  incomplete: pkt('incomplete', 300).subarray(0, 200),
  numRuns: 120,
});

describe('bins spec', () => {
  it('is the same framing over tls with the bins defaults', () => {
    const s = binsSpec();
    expect(s).toMatchObject({ name: 'bins', transport: 'tls', defaultPort: 5556, maxMsgChunks: 32, maxMsgBytes: 65515, tlsHandshakeTimeout: 100 });
    expect(s.write).toEqual({ async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 });
    expect(binSpec()).toMatchObject({ name: 'bin', transport: 'tcp', defaultPort: 5555, maxMsgChunks: 32 });
    expect(binSpec().write.maxPostponedChunks).toBe(1024);
  });

  it("passes *_async_max_postponed_chunks as is, as OpenSIPS's proto_bin/proto_bins (only proto_tcp forces >= 2)", () => {
    expect(binsSpec({ ...PROTO_BINS_DEFAULTS, bins_async_max_postponed_chunks: 1 }).write.maxPostponedChunks).toBe(1);
    expect(binSpec({ ...PROTO_BIN_DEFAULTS, bin_async_max_postponed_chunks: 0, bin_send_timeout: 7 }).write).toMatchObject({ maxPostponedChunks: 0, sendTimeout: 7 });
  });
});
