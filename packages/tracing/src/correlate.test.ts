import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msrpTransactionId, sipCallId } from './correlate.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('sipCallId', () => {
  it('reads Call-ID in any case, the compact i:, spaces around the colon', () => {
    expect(sipCallId(b('OPTIONS sip:a SIP/2.0\r\nVia: x\r\nCall-ID: abc@h\r\n\r\n'))).toBe('abc@h');
    expect(sipCallId(b('SIP/2.0 200 OK\r\ncall-id:abc\r\n\r\n'))).toBe('abc');
    expect(sipCallId(b('SIP/2.0 200 OK\r\nCALL-ID \t:  x y \r\n\r\n'))).toBe('x y');
    expect(sipCallId(b('BYE sip:a SIP/2.0\r\nI: 1234\r\n\r\n'))).toBe('1234');
  });
  it('none in the head: undefined (a Call-ID in the body does not count); other i/c headers skipped', () => {
    expect(sipCallId(b('OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\nCall-ID: body'))).toBeUndefined();
    expect(sipCallId(b('OPTIONS sip:a SIP/2.0\r\nIn-Reply-To: q\r\nContact: <sip:c>\r\nCall-Info: z\r\ni: right\r\n\r\n'))).toBe('right');
    expect(sipCallId(b('OPTIONS sip:a SIP/2.0'))).toBeUndefined();
    expect(sipCallId(b(''))).toBeUndefined();
    expect(sipCallId(b('OPTIONS sip:a SIP/2.0\nCall-ID: lf-only\n\n'))).toBe('lf-only');
  });
  it('property: any token Call-ID among other headers is read back; arbitrary bytes never throw', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9.!%*_+`'~()<>:\\"/[\]?{}@-]{1,40}$/);
    fc.assert(
      fc.property(token, fc.array(fc.constantFrom('Via: SIP/2.0/TCP h', 'From: <sip:a>;tag=1', 'To: <sip:b>', 'CSeq: 1 INVITE', 'Content-Length: 0'), { maxLength: 6 }), fc.boolean(), (id, hs, compact) => {
        const at = hs.length ? id.length % (hs.length + 1) : 0;
        const lines: string[] = [...hs];
        lines.splice(at, 0, `${compact ? 'i' : 'Call-ID'}: ${id}`);
        expect(sipCallId(b(`INVITE sip:x SIP/2.0\r\n${lines.join('\r\n')}\r\n\r\n`))).toBe(id);
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (u) => void sipCallId(Buffer.from(u))));
  });
});

describe('msrpTransactionId', () => {
  it('the second token of the start line', () => {
    expect(msrpTransactionId(b('MSRP a786hjs2 SEND\r\n'))).toBe('a786hjs2');
    expect(msrpTransactionId(b('MSRP d93kswow 200 OK\r\n'))).toBe('d93kswow');
    expect(msrpTransactionId(b('hello world'))).toBeUndefined();
    expect(msrpTransactionId(b('MSRP '))).toBeUndefined();
    expect(msrpTransactionId(b(''))).toBeUndefined();
  });
});
