import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { framerChecks } from '../src/testing/index.js';
import type { Framer, FramerSink } from '../src/types.js';
import { encode, lpSpec } from './lp-proto.js';

// The suite must catch broken framers, or passing it means nothing.

/** Only frames messages that arrive whole within one read. */
class NoReassembly implements Framer<Buffer> {
  pendingBytes = 0;
  push(chunk: Buffer, sink: FramerSink<Buffer>): void {
    let off = 0;
    while (chunk.length - off >= 4) {
      const len = chunk.readUInt32BE(off);
      if (chunk.length - off - 4 < len) break;
      sink.message(chunk.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
  }
}

/** Crashes with a RangeError on a huge length instead of a ProtocolError. */
class Crashy implements Framer<Buffer> {
  pendingBytes = 0;
  push(chunk: Buffer, sink: FramerSink<Buffer>): void {
    if (chunk.length >= 4 && chunk.readUInt32BE(0) > 0x7fffffff) throw new RangeError('boom');
    if (chunk.length >= 4) sink.message(chunk.subarray(4));
  }
}

const arb = fc.uint8Array({ minLength: 1, maxLength: 50 }).map((u) => Buffer.from(u));

describe('the compliance checks fail on broken framers', () => {
  it('catches a framer that does not reassemble split messages', () => {
    const c = framerChecks({ spec: lpSpec({ createFramer: () => new NoReassembly() }), encode, arbitraryMessage: arb, numRuns: 100 });
    expect(() => c.splitAnywhere()).toThrow();
    expect(() => c.byteByByte()).toThrow();
  });

  it('catches a framer that throws something other than a ProtocolError', () => {
    const c = framerChecks({ spec: lpSpec({ createFramer: () => new Crashy() }), encode, arbitraryMessage: arb, numRuns: 300, garbage: fc.constant(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1])) });
    expect(() => c.garbage()).toThrow();
  });

  it('passes the reference framer', () => {
    const c = framerChecks({ spec: lpSpec(), encode, arbitraryMessage: arb, numRuns: 50 });
    c.splitAnywhere();
    c.byteByByte();
    c.garbage();
    c.garbageAfterValid();
  });
});
