// The byte-level parser against the string-based parser of 0.1 (test/reference), as a
// reference model: on valid streams and on streams with bytes flipped, inserted or cut, fed
// at any split, both report the same messages and streamed pieces, or fail with the same code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode, MsrpParser, type MsrpMessage } from '../src/index.js';
import { messageArb } from './arbitraries.js';
import { MsrpParser as ParserV0 } from './reference/parser-v0.js';

interface Outcome {
  events: unknown[];
  error?: string;
}

function run(P: new (o: { maxBodyBytes: number }) => { push(b: Buffer, s: unknown): void }, bytes: Buffer, cuts: number[], maxBody: number): Outcome {
  const events: unknown[] = [];
  const p = new P({ maxBodyBytes: maxBody });
  const sink = {
    message: (m: MsrpMessage) => events.push(['message', structuredClone({ ...m, body: m.body && Buffer.from(m.body).toString('latin1') })]),
    head: (m: MsrpMessage) => events.push(['head', structuredClone({ ...m })]),
    body: (x: Buffer) => events.push(['body', x.toString('latin1')]),
    end: (m: MsrpMessage) => events.push(['end', m.continuation]),
  };
  const offs = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  let prev = 0;
  try {
    for (const o of [...offs, bytes.length]) {
      if (o > prev) p.push(Buffer.from(bytes.subarray(prev, o)), sink);
      prev = o;
    }
  } catch (e) {
    return { events, error: (e as { code?: string }).code ?? String(e) };
  }
  return { events };
}

/** streamed body pieces are cut where the reads are; compare their concatenation */
function normalise(o: Outcome): Outcome {
  const events: unknown[] = [];
  for (const e of o.events) {
    const last = events[events.length - 1] as unknown[] | undefined;
    if ((e as unknown[])[0] === 'body' && last?.[0] === 'body') last[1] = (last[1] as string) + ((e as unknown[])[1] as string);
    else events.push([...(e as unknown[])]);
  }
  return { ...o, events };
}

const nasty = fc.constantFrom(0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2d, 0x24, 0x2b, 0x00, 0x7f, 0x78, 0x4d, 0xff);
const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('set', 'insert', 'cut'), byte: nasty });

describe('byte-level parser vs the 0.1 string parser (reference model)', () => {
  it('same messages, streamed pieces and error codes on valid and damaged streams, at any split', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 4 }),
        fc.array(edit, { maxLength: 3 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.constantFrom(8, 64, 65535),
        (msgs, edits, cuts, maxBody) => {
          const bytes = [...Buffer.concat(msgs.map(encode))];
          for (const e of edits) {
            const at = e.at % (bytes.length + 1);
            if (e.kind === 'set' && at < bytes.length) bytes[at] = e.byte;
            else if (e.kind === 'insert') bytes.splice(at, 0, e.byte);
            else bytes.splice(at, 1);
          }
          const b = Buffer.from(bytes);
          const got = normalise(run(MsrpParser, b, cuts, maxBody));
          const want = normalise(run(ParserV0 as never, b, cuts, maxBody));
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 1500 },
    );
  });
});
