import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { messageArb } from '../../test/arbitraries.js';
import { decode, decodeAll } from './decode.js';
import { encode } from './encode.js';
import { MsrpErrorCodes } from './errors.js';
import { byteRange, expires, getHeader, status } from './message.js';
import { MsrpParser } from './parser.js';
import type { MsrpMessage } from './types.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

const SEND =
  'MSRP a786hjs2 SEND\r\nTo-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n' +
  'From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\nMessage-ID: 87652491\r\nByte-Range: 1-25/25\r\n' +
  'Content-Type: text/plain\r\n\r\nHey Bob, are you there?\r\n-------a786hjs2$\r\n';

const bigBody = fc
  .uint8Array({ minLength: 17, maxLength: 400 })
  .map((u) => Buffer.from(u))
  .filter((x) => x.indexOf('\r\n-------') < 0);

describe('decode / encode', () => {
  it('reads the RFC 4975 example SEND and writes it back', () => {
    const m = decode(b(SEND));
    expect(m).toMatchObject({ kind: 'request', method: 'SEND', tid: 'a786hjs2', continuation: '$' });
    expect(m.body?.toString()).toBe('Hey Bob, are you there?');
    expect(byteRange(m)).toEqual({ start: 1, end: 25, total: 25 });
    expect(encode(m).toString('latin1')).toBe(SEND);
  });

  it('keeps OpenSIPS msrp_relay\'s malformed Authentication-Info verbatim', () => {
    const ok =
      'MSRP 49fh AUTH\r\n'.replace('AUTH', '200 OK') +
      'To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\nFrom-Path: msrp://relay.example.net:2855;tcp\r\n' +
      'Use-Path: msrp://relay.example.net:2855/a8fe3;tcp\r\nExpires: 1800\r\n' +
      'Authentication-Info: qop=auth, cnonce="0a4f113b", nc=00000001", rspauth="6629fae49393a05397450978507c4ef1\r\n' +
      '-------49fh$\r\n';
    const m = decode(b(ok));
    expect(getHeader(m, 'authentication-info')).toBe('qop=auth, cnonce="0a4f113b", nc=00000001", rspauth="6629fae49393a05397450978507c4ef1');
    expect(expires(m)).toBe(1800);
    expect(encode(m).toString('latin1')).toBe(ok);
  });

  it('types Status and the *-Expires headers', () => {
    const r =
      'MSRP dkei38sd REPORT\r\nTo-Path: msrp://a.example.com:7654/jshA7we;tcp\r\nFrom-Path: msrp://b.example.com:12763/kjhd37s;tcp\r\n' +
      'Message-ID: 12339sdqwer\r\nByte-Range: 1-*/*\r\nStatus: 000 200 OK\r\nMin-Expires: 60\r\n-------dkei38sd$\r\n';
    const m = decode(b(r));
    expect(status(m)).toEqual({ namespace: 0, code: 200, comment: 'OK' });
    expect(byteRange(m)).toEqual({ start: 1, end: null, total: null });
    expect(expires(m, 'Min-Expires')).toBe(60);
  });

  it('encode(decode(b)) === b and decode(encode(m)) equals m, for any message', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        const bytes = encode(m);
        const back = decode(bytes);
        expect(back).toEqual(m);
        expect(encode(back).equals(bytes)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('back-to-back messages split at any offsets frame back in order', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map(encode));
        const offs = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        const got: MsrpMessage[] = [];
        const p = new MsrpParser();
        const sink = { message: (m: MsrpMessage) => got.push(m), head: () => {}, body: () => {}, end: () => {} };
        let prev = 0;
        for (const o of [...offs, bytes.length]) {
          if (o > prev) p.push(Buffer.from(bytes.subarray(prev, o)), sink);
          prev = o;
        }
        expect(got).toEqual(msgs);
        expect(decodeAll(bytes)).toEqual(msgs);
      }),
      { numRuns: 300 },
    );
  });

  it('a body over the bound streams in pieces whose concatenation is the body, at any split', () => {
    fc.assert(
      fc.property(messageArb, bigBody, fc.array(fc.nat(), { maxLength: 10 }), (m0, body, cuts) => {
        const m: MsrpMessage = { ...m0, body, headers: m0.body ? m0.headers : [...m0.headers, { name: 'Content-Type', value: 'x/y' }] };
        const bytes = encode(m);
        const pieces: Buffer[] = [];
        const ev: string[] = [];
        const p = new MsrpParser({ maxBodyBytes: 16 });
        const sink = {
          message: () => ev.push('message'),
          head: (h: MsrpMessage) => ev.push(`head:${h.tid}`),
          body: (x: Buffer) => pieces.push(Buffer.from(x)),
          end: (h: MsrpMessage) => ev.push(`end:${h.continuation}`),
        };
        const offs = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
        let prev = 0;
        for (const o of [...offs, bytes.length]) {
          if (o > prev) p.push(Buffer.from(bytes.subarray(prev, o)), sink);
          prev = o;
        }
        expect(ev).toEqual([`head:${m.tid}`, `end:${m.continuation}`]);
        expect(Buffer.concat(pieces).equals(m.body!)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('typed errors', () => {
  const cases: [string, string, string][] = [
    ['not MSRP', 'SIP/2.0 200 OK\r\n\r\n', MsrpErrorCodes.START],
    ['tid starting with a dash', 'MSRP -abc SEND\r\n', MsrpErrorCodes.TRANSACTION_ID],
    ['method with a space', 'MSRP abc SE ND\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\n', MsrpErrorCodes.START_LINE],
    ['status of 4 digits', 'MSRP abc 2000\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\n', MsrpErrorCodes.START_LINE],
    ['no From-Path', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\n-------abc$\r\n', MsrpErrorCodes.MISSING_HEADER],
    ['no Message-ID in a SEND', 'MSRP abc SEND\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\n', MsrpErrorCodes.MISSING_HEADER],
    ['body without Content-Type', 'MSRP abc SEND\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\nMessage-ID: 1\r\n\r\nhi\r\n-------abc$\r\n', MsrpErrorCodes.MISSING_HEADER],
    ['duplicate To-Path', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\n', MsrpErrorCodes.DUPLICATE_HEADER],
    ['To-Path and From-Path not first', 'MSRP abc 200 OK\r\nX: 1\r\nY: 2\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\n', MsrpErrorCodes.HEADER_ORDER],
    ['header without colon', 'MSRP abc 200 OK\r\nTo-Path msrp://a:1;tcp\r\n-------abc$\r\n', MsrpErrorCodes.HEADER],
    ['folded header', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\n folded\r\n-------abc$\r\n', MsrpErrorCodes.HEADER],
    ['five dashes after the headers', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\n-----abc$\r\n', MsrpErrorCodes.END_OF_HEADERS],
    ['end-line with another tid', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abd$\r\n', MsrpErrorCodes.END_LINE],
    ['end-line with a bad flag', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc!\r\n', MsrpErrorCodes.END_LINE],
    ['truncated', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\n', MsrpErrorCodes.TRUNCATED],
    ['trailing bytes', 'MSRP abc 200 OK\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc$\r\nMSRP', MsrpErrorCodes.TRAILING],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => {
      expect(code(() => decode(b(text)))).toBe(want);
    });
  }

  it('a 100k-header message is refused at the head bound, early', () => {
    const head = 'MSRP abc SEND\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n';
    const p = new MsrpParser();
    const sink = { message: () => {}, head: () => {}, body: () => {}, end: () => {} };
    let fed = 0;
    const err = code(() => {
      p.push(b(head), sink);
      for (let i = 0; i < 100_000; i++) {
        const line = b(`X-H${i}: v\r\n`);
        fed += line.length;
        p.push(line, sink);
      }
    });
    expect(err).toBe(MsrpErrorCodes.TOO_BIG);
    expect(fed).toBeLessThan(70_000);
  });

  it('an end-line with another transaction id fails at its first wrong byte', () => {
    const p = new MsrpParser();
    const sink = { message: () => {}, head: () => {}, body: () => {}, end: () => {} };
    p.push(b('MSRP abcdef 200 OK\r\nTo-Path: msrp://a:1;tcp\r\nFrom-Path: msrp://b:2;tcp\r\n-------abc'), sink);
    expect(code(() => p.push(b('X'), sink))).toBe(MsrpErrorCodes.END_LINE);
  });

  it('garbage only ever throws MsrpError (a ProtocolError)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (u) => {
        const p = new MsrpParser();
        const sink = { message: () => {}, head: () => {}, body: () => {}, end: () => {} };
        try {
          p.push(Buffer.from(u), sink);
        } catch (e) {
          expect((e as Error).name).toBe('MsrpError');
          expect((e as { code: string }).code).toMatch(/^ERR_MSRP_/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('encode refuses a body that would end the message early, and bad fields', () => {
    const m = decode(b(SEND));
    expect(code(() => encode({ ...m, body: b('x\r\n-------y') }))).toBe(MsrpErrorCodes.INVALID);
    expect(code(() => encode({ ...m, tid: 'a b' }))).toBe(MsrpErrorCodes.INVALID);
    expect(code(() => encode({ ...m, headers: [{ name: 'X', value: 'a\r\nb' }] }))).toBe(MsrpErrorCodes.INVALID);
    expect(code(() => encode({ ...m, continuation: '!' as '$' }))).toBe(MsrpErrorCodes.INVALID);
  });
});
