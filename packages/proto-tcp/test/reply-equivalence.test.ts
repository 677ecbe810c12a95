import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildResponse, makeTag } from '../src/codec/headers.js';
import { buildResponseRaw } from '../src/codec/reply.js';
import { buildResponseRaw as referenceBuild, toHasTag } from './reply-reference.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Runs a builder, returning its bytes or its error (code and message). */
function outcome(f: () => Buffer): string {
  try {
    return f().toString('latin1');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return `ERR ${e.code} ${e.message}`;
  }
}

const sp = fc.constantFrom('', ' ', '  ', '\t', ' \t');
const word = fc.stringMatching(/^[A-Za-z0-9.@<>:;=_-]{0,24}$/);
const name = fc.constantFrom('Via', 'v', 'VIA', 'From', 'f', 'FROM', 'To', 't', 'tO', 'Call-ID', 'i', 'call-id', 'CSeq', 'cseq', 'Max-Forwards', 'l', 'Content-Length', 'X-To', 'Tox', 'Fro');
const toValue = fc.oneof(
  word,
  fc.tuple(word, fc.constantFrom(';tag=', '; TAG = ', ';Tag\t=', ';tagx=', ';ta=', ';tag', '>;tag=', ';\u00a0tag=', ';tag\u000b='), word).map(([a, t, b]) => a + t + b),
  fc.tuple(word, word).map(([a, b]) => `<sip:${a};tag=${b}>`),
  fc.tuple(word, word).map(([a, b]) => `"${a}" <sip:${b}>;tag=${b}`),
);
const line = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(name, sp, sp, fc.oneof(word, toValue), sp).map(([n, a, b, v, c]) => `${n}${a}:${b}${v}${c}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(' ', '\t'), word).map(([a, v]) => `${a}${v}`) }, // fold
  { weight: 1, arbitrary: word }, // no colon
);
const eol = fc.constantFrom('\r\n', '\n');
const request = fc
  .tuple(
    fc.constantFrom('OPTIONS sip:a@b SIP/2.0', 'INVITE sip:x SIP/2.0', 'garbage'),
    fc.array(fc.tuple(line, eol), { maxLength: 14 }),
    fc.boolean(),
    eol,
  )
  .map(([start, lines, full, end]) => {
    const base = full ? ['Via: SIP/2.0/TCP h;branch=z9hG4bK1', 'From: <sip:a@b>;tag=1', 'To: <sip:c@d>', 'Call-ID: c1', 'CSeq: 1 OPTIONS'] : [];
    const body = [...base.map((l) => [l, '\r\n'] as const), ...lines].map(([l, e]) => l + e).join('');
    return start + '\r\n' + body + end + 'body';
  });

describe('reply fast path', () => {
  it('builds byte-for-byte what the string-based reference builds, errors included', () => {
    fc.assert(
      fc.property(request, fc.constantFrom(100, 180, 200, 404, 699), fc.constantFrom('OK', 'Not Found', 'Ünïcödé ok'), fc.constantFrom('', 'X-A: 1\r\n'), fc.constantFrom('fixedtag', 'ab;c'), (req, status, reason, extra, tag) => {
        const buf = B(req);
        expect(outcome(() => buildResponseRaw(buf, status, reason, extra, tag))).toBe(outcome(() => referenceBuild(buf, status, reason, extra, tag)));
      }),
      { numRuns: 3000 },
    );
  });

  it('adds a generated tag exactly when the reference would, in makeTag() form', () => {
    fc.assert(
      fc.property(request, (req) => {
        const buf = B(req);
        const ours = outcome(() => buildResponseRaw(buf, 200, 'OK', '', undefined));
        const ref = outcome(() => referenceBuild(buf, 200, 'OK', '', undefined));
        const norm = (s: string): string => s.replace(/;tag=[0-9a-f]{16}\r\nCall-ID/, ';tag=<generated>\r\nCall-ID');
        expect(norm(ours)).toBe(norm(ref));
      }),
      { numRuns: 1500 },
    );
  });

  it('generated tags are unique and share makeTag()’s prefix and counter', () => {
    const req = B('OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a>;tag=1\r\nTo: <sip:b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n');
    const tagOf = (b: Buffer): string => /\r\nTo: <sip:b>;tag=([0-9a-f]{16})\r\n/.exec(b.toString('latin1'))![1]!;
    const a = makeTag();
    const t1 = tagOf(buildResponse(req, 200, 'OK'));
    const t2 = tagOf(buildResponse(req, 200, 'OK'));
    const b = makeTag();
    expect(t1.slice(0, 8)).toBe(a.slice(0, 8));
    const n = (t: string): number => parseInt(t.slice(8), 16);
    expect([n(t1) - n(a), n(t2) - n(a), n(b) - n(a)]).toEqual([1, 2, 3]);
  });

  it('the string form of the tag test agrees with the byte form used by replies', () => {
    for (const v of ['<sip:a;tag=x>', '<sip:a>;tag=x', 'sip:a;TAG = x', '<sip:a>; tag\t=x', '<sip:a>;tagx=1', '<sip:a>']) {
      const req = B(`OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:a>;tag=1\r\nTo: ${v}\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n`);
      const out = buildResponseRaw(req, 200, 'OK', '', 'T').toString('latin1');
      expect(out.includes(`\r\nTo: ${v};tag=T\r\n`)).toBe(!toHasTag(v));
    }
  });
});
