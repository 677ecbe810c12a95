import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathArb } from '../../test/arbitraries.js';
import { formatUrl, parsePath, parseUrl, topUrl } from './url.js';
import { formatByteRange, formatStatus, parseByteRange, parseExpires, parseStatus } from './values.js';

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('URLs and paths', () => {
  it('parses msrp and msrps URLs, IPv6 included', () => {
    expect(parseUrl('msrp://127.0.0.1:12855/msrp-6b03b778-64a2-1;tcp')).toEqual({
      whole: 'msrp://127.0.0.1:12855/msrp-6b03b778-64a2-1;tcp', secured: false, host: '127.0.0.1', port: 12855, session: 'msrp-6b03b778-64a2-1', params: 'tcp',
    });
    expect(parseUrl('MSRPS://[2001:db8::1]:2856/s1;tcp')).toMatchObject({ secured: true, host: '2001:db8::1', port: 2856, session: 's1' });
    expect(parseUrl('msrp://[::1];tcp')).toMatchObject({ host: '::1', port: 0, session: '', params: 'tcp' });
    expect(parseUrl('msrp://bob@relay.example.com:2855;tcp')).toMatchObject({ user: 'bob', host: 'relay.example.com' });
  });

  it('refuses bad URLs with ERR_MSRP_URL', () => {
    for (const bad of ['sip://a:1', 'msrp:/a:1', 'msrp://:1;tcp', 'msrp://a:x;tcp', 'msrp://a:70000;tcp', 'msrp://[::1;tcp', 'msrp://[zz::1]:1;tcp', 'msrp://a b;tcp', 'msrp://[::1]x;tcp'])
      expect(code(() => parseUrl(bad)), bad).toBe('ERR_MSRP_URL');
    expect(code(() => parsePath('   '))).toBe('ERR_MSRP_URL');
  });

  it('a path is URLs separated by one or more spaces; the top URL is the first', () => {
    expect(parsePath('msrp://a:1/x;tcp   msrps://b:2/y;tcp').map((u) => u.session)).toEqual(['x', 'y']);
    expect(topUrl('msrp://a:1/x;tcp msrp://b:2;tcp')).toBe('msrp://a:1/x;tcp');
    fc.assert(
      fc.property(pathArb, (p) => {
        const urls = parsePath(p);
        expect(urls.map((u) => u.whole).join(' ')).toBe(p);
        for (const u of urls) expect(formatUrl(u)).toBe(u.whole);
      }),
    );
  });
});

describe('typed values', () => {
  it('Byte-Range', () => {
    expect(parseByteRange('1-33/33')).toEqual({ start: 1, end: 33, total: 33 });
    expect(parseByteRange('1001-*/*')).toEqual({ start: 1001, end: null, total: null });
    expect(formatByteRange({ start: 1, end: null, total: 10 })).toBe('1-*/10');
    for (const bad of ['0-1/1', '5-3/10', '1-20/10', 'a-1/1', '1/1', '']) expect(code(() => parseByteRange(bad)), bad).toBe('ERR_MSRP_BYTE_RANGE');
  });
  it('Status', () => {
    expect(parseStatus('000 408 Request Timeout')).toEqual({ namespace: 0, code: 408, comment: 'Request Timeout' });
    expect(parseStatus('000 481')).toEqual({ namespace: 0, code: 481 });
    expect(formatStatus({ namespace: 0, code: 403 })).toBe('000 403');
    for (const bad of ['481', '00 481', '000-481', '']) expect(code(() => parseStatus(bad)), bad).toBe('ERR_MSRP_STATUS');
  });
  it('Expires', () => {
    expect(parseExpires(' 3600 ')).toBe(3600);
    for (const bad of ['-1', 'x', '', '99999999999']) expect(code(() => parseExpires(bad)), bad).toBe('ERR_MSRP_EXPIRES');
  });
});
