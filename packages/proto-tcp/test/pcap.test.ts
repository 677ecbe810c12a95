import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import { buildResponse, createSipTcp, getHeader, parseHeaders, parseStartLine, SipFramer, type SipMessage, type SipTcp } from '../src/index.js';
import { readPcap, tcpStreams } from '@x/core-conn/testing';

const PCAP = fileURLToPath(new URL('./fixtures/sip-tcp-sipp-kamailio.pcap', import.meta.url));

function frame(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  const sink: FramerSink<Buffer> = { message: (m) => out.push(m), keepalive: () => {}, reply: () => {} };
  const f = new SipFramer();
  for (const c of chunks) f.push(c, sink);
  expect(f.pendingBytes).toBe(0);
  return out;
}

describe('real sipp -> Kamailio SIP over TCP capture', () => {
  const byFlow = [...tcpStreams(readPcap(PCAP))].map(([k, s]) => [k, s.segments] as const);
  const toServer = byFlow.filter(([k]) => k.endsWith(':15060'));
  const fromServer = byFlow.filter(([k]) => k.includes(':15060->'));

  it('frames both directions segment by segment: 8 OPTIONS and 8 200 replies, byte-exact', () => {
    expect(toServer).toHaveLength(4);
    expect(fromServer).toHaveLength(4);
    const reqs = toServer.flatMap(([, c]) => frame(c));
    const ress = fromServer.flatMap(([, c]) => frame(c));
    expect(reqs.map((r) => parseStartLine(r))).toEqual(Array(8).fill(expect.objectContaining({ isRequest: true, method: 'OPTIONS' })));
    expect(ress.map((r) => parseStartLine(r))).toEqual(Array(8).fill({ isRequest: false, status: 200, reason: 'Fixed Reply' }));
    // the framed messages are exactly the captured bytes
    expect(Buffer.concat(reqs).equals(Buffer.concat(toServer.flatMap(([, c]) => c)))).toBe(true);
    expect(Buffer.concat(ress).equals(Buffer.concat(fromServer.flatMap(([, c]) => c)))).toBe(true);
    // each reply carries its request's Call-ID
    expect(ress.map((r) => getHeader(parseHeaders(r), 'call-id'))).toEqual(reqs.map((r) => getHeader(parseHeaders(r), 'call-id')));
  });

  it('frames the whole capture fed one byte at a time', () => {
    for (const [, chunks] of toServer) {
      const bytes = Buffer.concat(chunks);
      const one = frame([...bytes].map((b) => Buffer.from([b])));
      expect(Buffer.concat(one).equals(bytes)).toBe(true);
    }
  });

  it('buildResponse answers each captured OPTIONS with the same Via, From, To, Call-ID, CSeq Kamailio used', () => {
    const reqs = toServer.flatMap(([, c]) => frame(c));
    const ress = fromServer.flatMap(([, c]) => frame(c));
    for (let i = 0; i < reqs.length; i++) {
      const kam = parseHeaders(ress[i]!);
      const ours = parseHeaders(buildResponse(reqs[i]!, 200, 'Fixed Reply', undefined, 'x'));
      for (const h of ['via', 'from', 'call-id', 'cseq']) expect(getHeader(ours, h), h).toBe(getHeader(kam, h));
      expect(getHeader(ours, 'to')!.replace(/;tag=.*$/, '')).toBe(getHeader(kam, 'to')!.replace(/;tag=.*$/, ''));
      expect(getHeader(ours, 'content-length')).toBe('0');
    }
  });

  describe('through a real socket', () => {
    let sip: SipTcp | undefined;
    afterEach(async () => {
      await sip?.close();
    });

    it('createSipTcp receives the captured OPTIONS and the peer gets 200s it frames', async () => {
      sip = await createSipTcp({ listen: ['tcp:127.0.0.1:0'] });
      const got: SipMessage[] = [];
      sip.on('request', (m) => {
        got.push(m);
        void m.reply(200, 'OK');
      });
      const port = sip.listeners[0]!.address.port;
      const chunks = toServer[0]![1];
      const sock = connect(port, '127.0.0.1');
      const replies: Buffer[] = [];
      const f = new SipFramer();
      sock.on('data', (d) => f.push(d, { message: (m) => replies.push(m), keepalive: () => {}, reply: () => {} }));
      await new Promise((r) => sock.once('connect', r));
      for (const c of chunks) sock.write(c);
      await expect.poll(() => replies.length, { timeout: 3000 }).toBe(chunks.length);
      const localPort = sock.localPort;
      sock.destroy();
      expect(got.map((m) => m.method)).toEqual(Array(5).fill('OPTIONS'));
      expect(Buffer.concat(got.map((m) => m.raw)).equals(Buffer.concat(chunks))).toBe(true);
      expect(replies.map((r) => getHeader(parseHeaders(r), 'call-id'))).toEqual(got.map((m) => m.callId));
      expect(got[0]!.source.port).toBe(localPort);
      expect(got[0]!.destination.port).toBe(port);
    });
  });
});
