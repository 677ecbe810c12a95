import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { byteRange, decode, decodeAll, encode, fromPath, getHeader, MsrpParser, toPath, type MsrpMessage } from '../src/index.js';
import { readTcpSegments, streams } from './pcap.js';

const PCAP = fileURLToPath(new URL('./fixtures/msrp-tcp-kamailio-relay.pcap', import.meta.url));

describe('the Kamailio relay capture', () => {
  const segs = readTcpSegments(PCAP);

  it('every segment is one whole message that decodes and encodes back to the same bytes', () => {
    expect(segs.length).toBe(7);
    for (const s of segs) {
      const m = decode(s.payload);
      expect(encode(m).equals(s.payload)).toBe(true);
    }
  });

  it('reads the AUTH, its 200 with Use-Path and Expires, and the SEND with its typed Byte-Range', () => {
    const msgs = segs.map((s) => decode(s.payload));
    const auth = msgs[0]!;
    expect(auth).toMatchObject({ kind: 'request', method: 'AUTH', tid: '333e6fde', continuation: '$' });
    expect(toPath(auth)[0]).toMatchObject({ host: '127.0.0.1', port: 12855, session: '', params: 'tcp', secured: false });
    const ok = msgs[1]!;
    expect(ok).toMatchObject({ kind: 'response', status: 200, reason: 'OK' });
    expect(getHeader(ok, 'use-path')).toBe('msrp://127.0.0.1:12855/msrp-6b03b778-64a2-1;tcp');
    expect(getHeader(ok, 'Expires')).toBe('3600');
    const send = msgs[4]!;
    expect(send).toMatchObject({ kind: 'request', method: 'SEND', tid: '66da0091' });
    expect(send.body?.toString()).toBe('hello bob via kamailio msrp relay');
    expect(byteRange(send)).toEqual({ start: 1, end: 33, total: 33 });
    expect(toPath(send).map((u) => u.session)).toEqual(['msrp-6b03b778-64a3-1', 'bobb2366c']);
    const fwd = msgs[6]!;
    expect(fromPath(fwd)).toHaveLength(3);
    expect(fwd.body?.equals(send.body!)).toBe(true);
  });

  it('each direction of each connection frames the same when fed one byte at a time', () => {
    for (const [, bytes] of streams(segs)) {
      const whole = decodeAll(bytes);
      const got: MsrpMessage[] = [];
      const p = new MsrpParser();
      const sink = { message: (m: MsrpMessage) => got.push(m), head: () => {}, body: () => {}, end: () => {} };
      for (let i = 0; i < bytes.length; i++) p.push(bytes.subarray(i, i + 1), sink);
      expect(got.map((m) => encode(m).toString('latin1'))).toEqual(whole.map((m) => encode(m).toString('latin1')));
      expect(p.pendingBytes).toBe(0);
    }
  });
});
