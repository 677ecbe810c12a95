import fc from 'fast-check';
import type { MsrpHeader, MsrpMessage } from '../src/index.js';

const alnum = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
const visible = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
export const tidArb = fc
  .tuple(alnum, fc.array(visible, { minLength: 0, maxLength: 30 }))
  .map(([a, r]) => a + r.join(''));
const token = fc.array(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!'), { minLength: 1, maxLength: 16 }).map((a) => a.join(''));
/** a header value: any bytes but CR, LF and other controls (tab allowed), latin1 */
const valueArb = fc
  .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)), { maxLength: 60 })
  .map((a) => String.fromCharCode(...a))
  .filter((v) => v.length === 0 || (v[0] !== ' ' && v[0] !== '\t'));
const sepArb = fc.constantFrom(': ', ':', ' : ', ':\t', ':  ');
const hostArb = fc.oneof(
  fc.constantFrom('127.0.0.1', 'relay.example.com', 'a.b'),
  fc.constantFrom('[::1]', '[2001:db8::7]', '[fe80::1:2]'),
);
export const urlArb = fc
  .tuple(fc.boolean(), hostArb, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), fc.option(token, { nil: undefined }))
  .map(([s, h, p, sess]) => `msrp${s ? 's' : ''}://${h}${p ? `:${p}` : ''}${sess ? `/${sess}` : ''};tcp`);
export const pathArb = fc.array(urlArb, { minLength: 1, maxLength: 4 }).map((a) => a.join(' '));

const otherHeader: fc.Arbitrary<MsrpHeader> = fc.record({ name: token.map((t) => `X-${t}`), value: valueArb, sep: sepArb }).map((h) =>
  h.sep === ': ' ? { name: h.name, value: h.value } : h,
);

/** A body that never holds CRLF + seven dashes. */
export const bodyArb = fc
  .oneof(fc.uint8Array({ maxLength: 300, size: 'medium' }), fc.constantFrom(new Uint8Array(Buffer.from('a\r\n------ b')), new Uint8Array(Buffer.from('\r\n-')), new Uint8Array(Buffer.from('-------'))))
  .map((u) => Buffer.from(u))
  .filter((b) => b.indexOf('\r\n-------') < 0);

export const messageArb: fc.Arbitrary<MsrpMessage> = fc
  .record({
    tid: tidArb,
    response: fc.boolean(),
    method: fc.constantFrom('SEND', 'REPORT', 'AUTH', 'send', 'FOO', 'NICKNAME'),
    status: fc.integer({ min: 0, max: 999 }),
    reason: fc.option(valueArb.filter((v) => !v.includes('\t')), { nil: undefined }),
    to: pathArb,
    from: pathArb,
    extra: fc.array(otherHeader, { maxLength: 5 }),
    messageId: fc.option(token, { nil: undefined }),
    body: fc.option(bodyArb, { nil: undefined }),
    flag: fc.constantFrom('$', '+', '#' as const),
  })
  .map((r) => {
    const headers: MsrpHeader[] = [
      { name: 'To-Path', value: r.to },
      { name: 'From-Path', value: r.from },
    ];
    const method = r.method;
    if (r.messageId !== undefined || (!r.response && method.toUpperCase() !== 'AUTH')) headers.push({ name: 'Message-ID', value: r.messageId ?? 'mid1' });
    headers.push(...r.extra);
    if (r.body !== undefined) headers.push({ name: 'Content-Type', value: 'text/plain' });
    const base = { tid: r.tid, headers, continuation: r.flag as '$' | '+' | '#' };
    const m: MsrpMessage = r.response
      ? { ...base, kind: 'response', status: r.status, ...(r.reason !== undefined ? { reason: r.reason } : {}) }
      : { ...base, kind: 'request', method };
    if (r.body !== undefined) m.body = r.body;
    return m;
  });
