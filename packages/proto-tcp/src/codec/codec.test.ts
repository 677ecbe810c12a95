import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildResponse, dialogIds, getHeader, headerEnd, isResponse, parseHeaders, parseStartLine, parseVia, splitCommas, topVia } from './headers.js';
import { HeaderScanner, scanHeaders } from './scanner.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1');
const REQ =
  'INVITE sip:bob@127.0.0.1 SIP/2.0\r\n' +
  'v: SIP/2.0/TCP 10.0.0.1:5071;branch=z9hG4bKa;alias, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n' +
  'Via: SIP/2.0/TCP [::1]:5099;branch=z9hG4bKc\r\n' +
  'f: "A, b" <sip:alice@x;lr>;tag=aa\r\n' +
  'To: <sip:bob@x>\r\n' +
  'i: call-1@x\r\n' +
  'CSeq: 7 INVITE\r\n' +
  'Subject: folded\r\n  more\r\n' +
  'l: 4\r\n\r\nbody';

describe('header helpers', () => {
  it('parses the start line of requests and responses', () => {
    expect(parseStartLine(B(REQ))).toEqual({ isRequest: true, method: 'INVITE', uri: 'sip:bob@127.0.0.1' });
    expect(parseStartLine(B('SIP/2.0 486 Busy Here\r\n\r\n'))).toEqual({ isRequest: false, status: 486, reason: 'Busy Here' });
    expect(() => parseStartLine(B('garbage\r\n'))).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    expect(isResponse(B('SIP/2.0 200 OK\r\n'))).toBe(true);
    expect(isResponse(B(REQ))).toBe(false);
  });

  it('parses headers with compact names and folding', () => {
    const h = parseHeaders(B(REQ));
    expect(getHeader(h, 'call-id')).toBe('call-1@x');
    expect(getHeader(h, 'i')).toBe('call-1@x');
    expect(getHeader(h, 'from')).toBe('"A, b" <sip:alice@x;lr>;tag=aa');
    expect(getHeader(h, 'subject')).toBe('folded more');
    expect(getHeader(h, 'content-length')).toBe('4');
    expect(h.filter((x) => x.key === 'via')).toHaveLength(2);
    expect(headerEnd(B(REQ))).toBe(REQ.length - 4);
  });

  it('top Via: host, port, alias param; IPv6; no port', () => {
    expect(topVia(B(REQ))).toMatchObject({ transport: 'TCP', host: '10.0.0.1', port: 5071, alias: true });
    expect(parseVia('SIP/2.0/TCP [::1]:5099;branch=z9hG4bKc')).toMatchObject({ host: '::1', port: 5099, alias: false });
    expect(parseVia('SIP/2.0/UDP 10.0.0.2;branch=x')).toMatchObject({ host: '10.0.0.2', port: null });
    expect(parseVia('SIP / 2.0 / TCP host.example : 5 ; alias')).toMatchObject({ host: 'host.example', port: 5, alias: true });
    expect(() => parseVia('nonsense')).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    expect(splitCommas('a, "x,y" <b,c>, d')).toEqual(['a', '"x,y" <b,c>', 'd']);
  });

  it('dialogIds reports what is missing', () => {
    expect(() => dialogIds(parseHeaders(B('OPTIONS sip:x SIP/2.0\r\nTo: <sip:x>\r\n\r\n')))).toThrow(/Via, From, Call-ID, CSeq/);
  });

  it('buildResponse copies Vias in order, From, To + tag, Call-ID, CSeq, Content-Length 0', () => {
    const r = buildResponse(B(REQ), 180, 'Ringing', { Contact: '<sip:bob@127.0.0.1>' }, 'tt').toString('latin1');
    expect(r).toBe(
      'SIP/2.0 180 Ringing\r\n' +
        'Via: SIP/2.0/TCP 10.0.0.1:5071;branch=z9hG4bKa;alias, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n' +
        'Via: SIP/2.0/TCP [::1]:5099;branch=z9hG4bKc\r\n' +
        'From: "A, b" <sip:alice@x;lr>;tag=aa\r\n' +
        'To: <sip:bob@x>;tag=tt\r\n' +
        'Call-ID: call-1@x\r\n' +
        'CSeq: 7 INVITE\r\n' +
        'Contact: <sip:bob@127.0.0.1>\r\n' +
        'Content-Length: 0\r\n\r\n',
    );
    // a reply frames as one SIP message of its own length
    expect(scanHeaders(B(r))).toEqual({ headerLength: r.length, contentLength: 0, messageLength: r.length });
    // existing To tag is kept; 100 gets no tag
    const tagged = REQ.replace('To: <sip:bob@x>', 'To: <sip:bob@x>;tag=zz');
    expect(buildResponse(B(tagged), 200, 'OK').toString()).toContain('To: <sip:bob@x>;tag=zz\r\n');
    expect(buildResponse(B(REQ), 100, 'Trying').toString()).toContain('To: <sip:bob@x>\r\n');
    // a tag inside the URI brackets is not a To tag
    const uriTag = REQ.replace('To: <sip:bob@x>', 'To: <sip:bob@x;tag=no>');
    expect(buildResponse(B(uriTag), 200, 'OK', undefined, 'k').toString()).toContain('To: <sip:bob@x;tag=no>;tag=k\r\n');
  });

  it('the raw (byte-range) and parsed-header paths of buildResponse agree', () => {
    for (const req of [REQ, REQ.replace('To: <sip:bob@x>', 'TO :  <sip:bob@x> ;tag=q'), REQ.replace('CSeq: 7 INVITE', 'cseq:7 INVITE')]) {
      const a = buildResponse(B(req), 200, 'OK', [['X-A', 1], ['X-A', 2]], 'tg');
      const b = buildResponse(parseHeaders(B(req)), 200, 'OK', [['X-A', 1], ['X-A', 2]], 'tg');
      expect(a.toString('latin1')).toBe(b.toString('latin1'));
    }
    // a folded Via is copied with its fold and still parses to the same value
    const folded = REQ.replace('Via: SIP/2.0/TCP [::1]:5099;branch=z9hG4bKc', 'Via: SIP/2.0/TCP [::1]:5099\r\n ;branch=z9hG4bKc');
    const res = buildResponse(B(folded), 200, 'OK');
    expect(parseHeaders(res).filter((h) => h.key === 'via').map((h) => h.value)).toEqual(parseHeaders(B(folded)).filter((h) => h.key === 'via').map((h) => h.value));
    expect(scanHeaders(res)?.messageLength).toBe(res.length);
  });

  it('RFC 3581: received and rport in the top Via of a reply, as OpenSIPS builds a local reply', () => {
    const req = (via: string): Buffer => B(REQ.replace('v: SIP/2.0/TCP 10.0.0.1:5071;branch=z9hG4bKa;alias, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb', `v: ${via}`));
    const topVia = (via: string, src = { host: '127.0.0.1', port: 34567 }): string => {
      const a = buildResponse(req(via), 200, 'OK', undefined, 't', src).toString('latin1');
      const b = buildResponse(parseHeaders(req(via)), 200, 'OK', undefined, 't', src).toString('latin1');
      expect(a).toBe(b);
      expect(scanHeaders(B(a))?.messageLength).toBe(a.length);
      return /^Via: (.*)$/m.exec(a)![1]!;
    };
    // rport: received right after host:port, rport gets the source port in its place
    expect(topVia('SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1;rport')).toBe('SIP/2.0/TCP 127.0.0.1:5060;received=127.0.0.1;branch=z9hG4bK1;rport=34567');
    expect(topVia('SIP/2.0/TCP 10.9.9.9;rport;branch=z9hG4bK1')).toBe('SIP/2.0/TCP 10.9.9.9;received=127.0.0.1;rport=34567;branch=z9hG4bK1');
    // an rport that already has a value is overwritten
    expect(topVia('SIP/2.0/TCP client.example:5070;RPORT=1;branch=z9hG4bK1')).toBe('SIP/2.0/TCP client.example:5070;received=127.0.0.1;rport=34567;branch=z9hG4bK1');
    // no rport: received only when the host is not the source address
    expect(topVia('SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1')).toBe('SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1');
    expect(topVia('SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bK1')).toBe('SIP/2.0/TCP 192.0.2.7:5060;received=127.0.0.1;branch=z9hG4bK1');
    expect(topVia('SIP/2.0/TCP pc.example.com;branch=z9hG4bK1')).toBe('SIP/2.0/TCP pc.example.com;received=127.0.0.1;branch=z9hG4bK1');
    // maddr is compared instead of the host when present
    expect(topVia('SIP/2.0/TCP pc.example.com;maddr=127.0.0.1;branch=z9hG4bK1')).toBe('SIP/2.0/TCP pc.example.com;maddr=127.0.0.1;branch=z9hG4bK1');
    // IPv6: the same address written differently is the source; brackets stay, received has none
    const v6 = { host: '::1', port: 5070 };
    expect(topVia('SIP/2.0/TCP [0:0::0001]:5099;branch=z9hG4bKc', v6)).toBe('SIP/2.0/TCP [0:0::0001]:5099;branch=z9hG4bKc');
    expect(topVia('SIP/2.0/TCP [2001:db8::1]:5099;rport;branch=z9hG4bKc', v6)).toBe('SIP/2.0/TCP [2001:db8::1]:5099;received=::1;rport=5070;branch=z9hG4bKc');
    // only the first via value of the header changes; the others are copied
    expect(topVia('SIP/2.0/TCP 10.0.0.1:5071;rport, SIP/2.0/UDP 10.0.0.2;rport')).toBe('SIP/2.0/TCP 10.0.0.1:5071;received=127.0.0.1;rport=34567, SIP/2.0/UDP 10.0.0.2;rport');
    // without a source (the codec used alone) the Via is copied unchanged
    expect(buildResponse(req('SIP/2.0/TCP 10.9.9.9;rport'), 200, 'OK').toString()).toContain('Via: SIP/2.0/TCP 10.9.9.9;rport\r\n');
  });

  it('buildResponse refuses bad input with ERR_SIP_BAD_MESSAGE', () => {
    for (const f of [
      () => buildResponse(B('SIP/2.0 200 OK\r\nl: 0\r\n\r\n'), 200, 'OK'),
      () => buildResponse(B(REQ), 99, 'x'),
      () => buildResponse(B(REQ), 200, 'O\r\nK'),
      () => buildResponse(B(REQ), 200, 'OK', { 'X-Bad\r\n': 'v' }),
      () => buildResponse(B('OPTIONS sip:x SIP/2.0\r\n\r\n'), 200, 'OK'),
    ]) {
      expect(f).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    }
  });

  it('property: buildResponse keeps Call-ID/CSeq/From and is itself a framable message', () => {
    const token = fc.stringMatching(/^[A-Za-z0-9.\-_@]{1,30}$/);
    fc.assert(
      fc.property(token, fc.integer({ min: 1, max: 2 ** 31 }), token, fc.integer({ min: 100, max: 699 }), (callId, seq, tag, status) => {
        const req = B(`BYE sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5;branch=z9hG4bK${tag}\r\nFrom: <sip:a@b>;tag=${tag}\r\nTo: <sip:c@d>\r\nCall-ID: ${callId}\r\nCSeq: ${seq} BYE\r\nContent-Length: 0\r\n\r\n`);
        const res = buildResponse(req, status, 'Whatever');
        const h = parseHeaders(res);
        expect(getHeader(h, 'call-id')).toBe(callId);
        expect(getHeader(h, 'cseq')).toBe(`${seq} BYE`);
        expect(getHeader(h, 'from')).toBe(`<sip:a@b>;tag=${tag}`);
        expect(parseStartLine(res)).toEqual({ isRequest: false, status, reason: 'Whatever' });
        expect(scanHeaders(res)?.messageLength).toBe(res.length);
      }),
    );
  });
});

describe('HeaderScanner', () => {
  it('is resumable at any byte and gives the same answer', () => {
    const buf = B(REQ);
    for (let cut = 0; cut <= buf.length; cut++) {
      const s = new HeaderScanner();
      const a = s.scan(buf, 0, cut);
      const b = a >= 0 ? a : s.scan(buf, 0, buf.length);
      expect(b).toBe(REQ.length - 4);
      expect(s.contentLength).toBe(4);
    }
  });

  it('returns null from scanHeaders while the headers are incomplete', () => {
    expect(scanHeaders(B('INVITE sip:x SIP/2.0\r\nl: 1\r\n'))).toBeNull();
  });
});
