import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProtocolError, type FramerSink } from '@x/core-conn';
import { SipFramer, type SipFramerOptions } from './framer.js';

interface Rec {
  msgs: Buffer[];
  keepalives: number;
  replies: Buffer[];
  sink: FramerSink<Buffer>;
}
function rec(): Rec {
  const r: Rec = {
    msgs: [],
    keepalives: 0,
    replies: [],
    sink: {
      message: (m) => r.msgs.push(m),
      keepalive: () => r.keepalives++,
      reply: (d) => r.replies.push(d),
    },
  };
  return r;
}

function sipMsg(n: number, body = '', clName = 'Content-Length'): string {
  return (
    `OPTIONS sip:u${n}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK${n}\r\n` +
    `From: <sip:a@x>;tag=${n}\r\nTo: <sip:b@x>\r\nCall-ID: ${n}@x\r\nCSeq: ${n} OPTIONS\r\n${clName}: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`
  );
}

function feed(chunks: Buffer[], opts?: SipFramerOptions): Rec & { framer: SipFramer } {
  const f = new SipFramer(opts);
  const r = rec();
  for (const c of chunks) f.push(c, r.sink);
  return { ...r, framer: f };
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const pts = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of pts) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const B = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('SipFramer', () => {
  it('frames back-to-back messages in one chunk as zero-copy subarrays', () => {
    const a = sipMsg(1, 'hello');
    const b = sipMsg(2);
    const chunk = B(a + b);
    const r = feed([chunk]);
    expect(r.msgs.map((m) => m.toString('latin1'))).toEqual([a, b]);
    expect(r.msgs[0]!.buffer).toBe(chunk.buffer);
    expect(r.framer.pendingBytes).toBe(0);
  });

  it('accepts LF-only line ends and LF CR LF as end of headers', () => {
    const a = 'MESSAGE sip:x SIP/2.0\nl: 3\n\nabc';
    const b = 'MESSAGE sip:x SIP/2.0\nContent-Length: 2\n\r\nhi';
    const r = feed([B(a + b)]);
    expect(r.msgs.map(String)).toEqual([a, b]);
  });

  it('skips leading LF/SP/TAB (and CR without pingpong) before a message', () => {
    const m = sipMsg(3);
    const r = feed([B(' \t\n\n' + m)]);
    expect(r.msgs.map(String)).toEqual([m]);
    const r2 = feed([B('\r\n\r\n\r' + m)], { crlfPingpong: false });
    expect(r2.msgs.map(String)).toEqual([m]);
    expect(r2.replies).toEqual([]);
  });

  it('compact l, Content_Length, folded and spaced forms; first valid one wins, a repeat of the same value is fine', () => {
    for (const [hdr, len] of [
      ['l: 4', 4],
      ['L:4', 4],
      ['Content_Length: 4', 4],
      ['content-length \t: \t4', 4],
      ['X: 1\r\n Content-Length: 4', 4],
      ['Content-Length: 4\r\nContent-Length: 4', 4],
      ['Content-Length: 4\r\nl: 04', 4],
      ['Content-Length: 4x\r\nl: 4', 4],
      ['Content-Length: 4 ', 4],
    ] as const) {
      const m = `INFO sip:x SIP/2.0\r\n${hdr}\r\n\r\nbody`;
      const r = feed([B(m + 'tail')]);
      expect(r.msgs.map(String), hdr).toEqual([m.slice(0, m.length - 4 + len)]);
    }
  });

  it('missing / invalid Content-Length is a ProtocolError with a stable code', () => {
    const err = (s: string): unknown => {
      try {
        feed([B(s)]);
      } catch (e) {
        return e;
      }
      return null;
    };
    expect(err('INFO sip:x SIP/2.0\r\nX: 1\r\n\r\n')).toMatchObject({ code: 'ERR_SIP_NO_CONTENT_LENGTH' });
    expect(err('INFO sip:x SIP/2.0\r\nContent-Length: abc\r\n\r\n')).toMatchObject({ code: 'ERR_SIP_BAD_CONTENT_LENGTH' });
    expect(err('INFO sip:x SIP/2.0\r\nContent-Length: 12;x\r\n\r\n')).toMatchObject({ code: 'ERR_SIP_BAD_CONTENT_LENGTH' });
    expect(err('INFO sip:x SIP/2.0\r\nContent-Length: 4294967295\r\n\r\n')).toMatchObject({ code: 'ERR_SIP_TOO_BIG' });
    expect(err('INFO sip:x SIP/2.0\r\nContent-Length: 4294967295\r\n\r\n')).toBeInstanceOf(ProtocolError);
  });

  it('two Content-Length values that differ are ERR_SIP_CONFLICTING_CONTENT_LENGTH (request smuggling), split anywhere', () => {
    const m = 'INVITE sip:x SIP/2.0\r\nContent-Length: 10\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 0\r\n\r\n';
    const nextReq = 'OPTIONS sip:y SIP/2.0\r\nl: 0\r\n\r\n';
    for (let cut = 1; cut < m.length; cut += 7) {
      expect(() => feed([B(m.slice(0, cut)), B(m.slice(cut) + nextReq)]), `cut ${cut}`).toThrow(expect.objectContaining({ code: 'ERR_SIP_CONFLICTING_CONTENT_LENGTH', name: 'SipProtocolError' }));
    }
    expect(() => feed([B('INFO sip:x SIP/2.0\r\nl: 1\r\ncontent_length:2\r\n\r\nab')])).toThrow(expect.objectContaining({ code: 'ERR_SIP_CONFLICTING_CONTENT_LENGTH' }));
  });

  it('a start line that is not SIP is ERR_SIP_BAD_MESSAGE: never emitted', () => {
    for (const bad of ['X', 'INVITE sip:x', 'INVITE sip:x SIP/3.0', 'INVITE  sip:x SIP/2.0', 'INVITE sip:x y SIP/2.0', 'SIP/2.0 20 OK', 'SIP/2.0 2000', 'SIP/2.0 200OK', '\x00\x01 a SIP/2.0', 'GET / HTTP/1.1']) {
      const r = rec();
      expect(() => new SipFramer().push(B(`${bad}\r\nl:0\r\n\r\n`), r.sink), bad).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE', name: 'SipProtocolError' }));
      expect(r.msgs, bad).toEqual([]);
    }
    for (const good of ['INVITE sip:x SIP/2.0', 'x-y.z sip:a@b;c=d sip/2.0', 'SIP/2.0 200', 'SIP/2.0 183 Session Progress', 'SIP/2.0 200 ']) {
      expect(feed([B(`${good}\r\nl:0\r\n\r\n`)]).msgs, good).toHaveLength(1);
    }
    // the first message is delivered, the garbage after it is not
    const r = rec();
    expect(() => new SipFramer().push(B('OPTIONS sip:x SIP/2.0\r\nl:0\r\n\r\nX\r\nl:0\r\n\r\n'), r.sink)).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    expect(r.msgs).toHaveLength(1);
  });

  it('Content-Length boundary: 65534 ok (when it fits), 65535 is an error', () => {
    const head = 'I s SIP/2.0\nl:65534\n\n';
    // the whole message must fit in maxMsgBytes: raise it so only the CL rule is tested
    const ok = feed([B(head + 'x'.repeat(65534))], { maxMsgBytes: 70000 });
    expect(ok.msgs).toHaveLength(1);
    expect(ok.msgs[0]!.length).toBe(head.length + 65534);
    expect(() => feed([B('I s SIP/2.0\nl:65535\n\n')], { maxMsgBytes: 70000 })).toThrow(expect.objectContaining({ code: 'ERR_SIP_TOO_BIG' }));
    // default 65535 budget: headers + body of 65535 bytes complete, one more cannot fit
    const fit = 'I s SIP/2.0\nl:65514\n\n';
    expect(fit.length + 65514).toBe(65535);
    expect(feed([B(fit + 'y'.repeat(65514))]).msgs).toHaveLength(1);
    expect(() => feed([B('I s SIP/2.0\nl:65515\n\n')])).toThrow(expect.objectContaining({ code: 'ERR_SIP_TOO_BIG' }));
  });

  it('65535 bytes buffered without the end of headers is ERR_SIP_TOO_BIG', () => {
    const f = new SipFramer();
    const r = rec();
    f.push(B('INVITE sip:x SIP/2.0\r\nX: ' + 'a'.repeat(60000)), r.sink);
    expect(f.pendingBytes).toBeGreaterThan(60000);
    expect(() => f.push(B('a'.repeat(6000)), r.sink)).toThrow(expect.objectContaining({ code: 'ERR_SIP_TOO_BIG' }));
  });

  it('pendingBytes reports an incomplete message', () => {
    const m = B(sipMsg(4, 'abcdef'));
    const f = new SipFramer();
    const r = rec();
    f.push(m.subarray(0, 10), r.sink);
    expect(f.pendingBytes).toBe(10);
    f.push(m.subarray(10, m.length - 1), r.sink);
    expect(f.pendingBytes).toBe(m.length - 1);
    f.push(m.subarray(m.length - 1), r.sink);
    expect(f.pendingBytes).toBe(0);
    expect(r.msgs.map(String)).toEqual([m.toString('latin1')]);
  });

  it('CRLF CRLF ping gets one CRLF pong, at every split offset', () => {
    const m = sipMsg(5);
    const stream = B('\r\n\r\n' + m + '\r\n\r\n');
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 3)]) {
        const r = feed(splitAt(stream, [a, b]));
        expect(r.msgs.map(String)).toEqual([m]);
        expect(Buffer.concat(r.replies).toString()).toBe('\r\n\r\n');
        expect(r.keepalives).toBe(2);
      }
    }
  });

  it('no pong when pingpong is off', () => {
    const r = feed([B('\r\n\r\n'), B('\r\n'), B('\r\n')], { crlfPingpong: false });
    expect(r.replies).toEqual([]);
    expect(r.keepalives).toBe(0);
    expect(r.framer.pendingBytes).toBe(0);
  });

  it('a lone CRLF stays pending unless crlfDrop (with pingpong)', () => {
    const off = feed([B('\r\n')]);
    expect(off.framer.pendingBytes).toBe(2);
    expect(off.keepalives).toBe(0);
    const on = feed([B('\r\n')], { crlfDrop: true });
    expect(on.framer.pendingBytes).toBe(0);
    expect(on.keepalives).toBe(1);
    expect(on.replies).toEqual([]);
    // crlfDrop without pingpong: the CRLF is plain whitespace, nothing pending, no keepalive
    const nop = feed([B('\r\n')], { crlfDrop: true, crlfPingpong: false });
    expect(nop.framer.pendingBytes).toBe(0);
    expect(nop.keepalives).toBe(0);
    // a lone CRLF then a message: the CRLF is skipped, the message framed
    const m = sipMsg(6);
    const then = feed([B('\r\n'), B(m)]);
    expect(then.msgs.map(String)).toEqual([m]);
  });

  it('batches the pongs of a ping flood into one reply per push', () => {
    const r = feed([B('\r\n\r\n'.repeat(1000))]);
    expect(r.replies).toHaveLength(1);
    expect(r.replies[0]!.length).toBe(2000);
    expect(r.keepalives).toBe(1000);
  });

  it('a 1-byte-at-a-time stream frames the same messages', () => {
    const text = sipMsg(7, 'x'.repeat(300)) + '\r\n\r\n' + sipMsg(8);
    const r = feed([...B(text)].map((b) => Buffer.from([b])));
    expect(r.msgs.map(String)).toEqual([sipMsg(7, 'x'.repeat(300)), sipMsg(8)]);
    expect(r.replies.map(String)).toEqual(['\r\n']);
  });

  it('property: any split of any sequence of valid messages frames back byte-exact', () => {
    const arbMsg = fc
      .record({
        n: fc.nat(1e6),
        body: fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 200 }),
        cl: fc.constantFrom('Content-Length', 'l', 'content_length', 'CONTENT-LENGTH'),
        lead: fc.constantFrom('', '\r\n\r\n', '\n', ' \t'),
      })
      .map(({ n, body, cl, lead }) => ({ lead, msg: sipMsg(n, body, cl) }));
    fc.assert(
      fc.property(fc.array(arbMsg, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), (items, cuts, pp) => {
        const stream = B(items.map((i) => i.lead + i.msg).join(''));
        const r = feed(splitAt(stream, cuts), { crlfPingpong: pp });
        expect(r.msgs.map((m) => m.toString('latin1'))).toEqual(items.map((i) => i.msg));
        expect(r.framer.pendingBytes).toBe(0);
        const pings = items.filter((i) => i.lead === '\r\n\r\n').length;
        expect(Buffer.concat(r.replies).length).toBe(pp ? 2 * pings : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('property: random bytes never throw anything but a ProtocolError, and never emit more than was fed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        (chunks, pp, drop) => {
          const f = new SipFramer({ crlfPingpong: pp, crlfDrop: drop, maxMsgBytes: 512 });
          const r = rec();
          let total = 0;
          try {
            for (const c of chunks) {
              total += c.length;
              f.push(Buffer.from(c), r.sink);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            return;
          }
          const emitted = r.msgs.reduce((a, m) => a + m.length, 0);
          expect(emitted + f.pendingBytes).toBeLessThanOrEqual(total);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: random bytes spliced with SIP keywords behave the same whatever the split', () => {
    const tok = fc.constantFrom('\r\n', '\n', '\r', ' ', 'l:', 'Content-Length: ', '5', '0', 'x', 'INVITE sip:a SIP/2.0', '\r\n\r\n', 'abcde');
    fc.assert(
      fc.property(fc.array(tok, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 8 }), (toks, cuts) => {
        const stream = B(toks.join(''));
        const run = (chunks: Buffer[]): string => {
          const r = feed.bind(null);
          try {
            const out = r(chunks);
            return JSON.stringify([out.msgs.map(String), Buffer.concat(out.replies).length]);
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            return 'error:' + (e as ProtocolError).code;
          }
        };
        const whole = run([stream]);
        const split = run(splitAt(stream, cuts));
        // errors are split-independent; successful framings are identical except that a split
        // may leave the stream pending where the whole was (both report the same messages)
        if (whole.startsWith('error:') || split.startsWith('error:')) expect(split).toBe(whole);
        else expect(JSON.parse(split)[0]).toEqual(JSON.parse(whole)[0]);
      }),
      { numRuns: 400 },
    );
  });

  it('scanning is incremental: 1-byte pushes of a 60 KB message are linear', () => {
    const big = B(`MESSAGE sip:x SIP/2.0\r\n${'X-Pad: '.concat('p'.repeat(70), '\r\n').repeat(700)}l: 10\r\n\r\n0123456789`);
    expect(big.length).toBeLessThan(65535);
    const f = new SipFramer();
    const r = rec();
    let scanned = 0;
    const spy = f as unknown as { scanner: { scan: (...a: unknown[]) => number; pos: number } };
    const orig = spy.scanner.scan.bind(spy.scanner);
    spy.scanner.scan = (...a: unknown[]) => {
      const before = spy.scanner.pos;
      const res = orig(...a);
      scanned += spy.scanner.pos - before;
      return res;
    };
    for (let i = 0; i < big.length; i++) f.push(big.subarray(i, i + 1), r.sink);
    expect(r.msgs).toHaveLength(1);
    expect(r.msgs[0]!.equals(big)).toBe(true);
    // every header byte is examined exactly once over the whole stream
    expect(scanned).toBeLessThanOrEqual(big.length);
  });
});
