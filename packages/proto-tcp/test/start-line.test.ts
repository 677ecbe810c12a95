import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSipStartLine, parseStartLine, requestMethod } from '../src/codec/headers.js';
import { SipMessage } from '../src/message.js';
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
        const ref = run(() => parseStartLineReference(buf));
        expect(run(() => parseStartLine(buf))).toEqual(ref);
        // the framer's gate (a whole line, LF-terminated) accepts exactly what parses
        if (buf.includes(10)) expect(isSipStartLine(buf, 0, buf.length), JSON.stringify(line)).toBe(typeof ref !== 'string');
        const shifted = Buffer.concat([B('junk'), buf]);
        if (buf.includes(10)) expect(isSipStartLine(shifted, 4, shifted.length)).toBe(typeof ref !== 'string');
        // the method-only byte path (no uri string) agrees too, or defers to the full parse
        const fast = requestMethod(buf);
        if (fast !== null) expect(ref).toMatchObject({ isRequest: true, method: fast });
        const msg = (): SipMessage => new SipMessage(buf, {} as never, 0, () => Promise.resolve());
        const refMethod = typeof ref === 'string' ? ref : (ref as { method?: string }).method;
        expect(run(() => msg().method)).toEqual(refMethod);
        // read twice, and after the uri: the same answer
        const m = msg();
        const first = run(() => m.method);
        run(() => m.uri);
        expect(run(() => m.method)).toEqual(first);
      }),
      { numRuns: 4000 },
    );
  });
});
