import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStartLine } from '../src/codec/headers.js';
import { parseStartLineReference } from './start-line-reference.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('start line', () => {
  it('the byte fast path of parseStartLine agrees with the regular expressions', () => {
    const piece = fc.constantFrom('OPTIONS', 'ACK', 'invite', 'X-Y', 'sip:a@b', ' ', '  ', '\t', '\r', '\u00a0', 'SIP/2.0', 'sip/2.0', 'SIP/2.1', 'SIP/2.0 ', '200', 'OK', '\u00ff', '');
    const lineArb = fc.oneof(
      fc.tuple(fc.constantFrom('OPTIONS', 'ACK', 'INVITE', 'FOO', 'b@d', 'é'), fc.constantFrom(' ', '  ', '\t'), fc.constantFrom('sip:a@b', 'sip:x;y=z', 'a\u00a0b', 'a\rb', ''), fc.constantFrom(' SIP/2.0', ' sip/2.0', ' SIP/2.0 ', 'SIP/2.0', ' SiP/2.0'), fc.constantFrom('\r\n', '\n', '\r\r\n', '', '\r')).map((a) => a.join('')),
      fc.array(piece, { maxLength: 8 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(lineArb, fc.constantFrom('', 'Via: x\r\n\r\n'), (line, rest) => {
        const buf = B(line + rest);
        const run = (f: () => unknown): unknown => {
          try {
            return f();
          } catch (err) {
            return `ERR ${(err as { code?: string }).code} ${(err as Error).message}`;
          }
        };
        expect(run(() => parseStartLine(buf))).toEqual(run(() => parseStartLineReference(buf)));
      }),
      { numRuns: 4000 },
    );
  });
});
