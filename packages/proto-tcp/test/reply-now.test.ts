// SipMessage.replyNow: reply() without the promise; same bytes, same limits, errors thrown.
import { createStatsRegistry } from '@x/core-conn';
import { afterEach, describe, expect, it } from 'vitest';
import { createSipTcp, SipProtocolError, type SipMessage, type SipTcp } from '../src/index.js';
import { rawPeer, sipReq, until } from './helpers.js';

const open: SipTcp[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function server(): Promise<{ sip: SipTcp; port: number; stats: ReturnType<typeof createStatsRegistry> }> {
  const stats = createStatsRegistry();
  const sip = await createSipTcp({ listen: ['tcp:127.0.0.1:0'], engineOptions: { sweepInterval: 50, stats } });
  open.push(sip);
  return { sip, port: sip.listeners[0]!.address.port, stats };
}

/** The reply bytes with the generated To tag blanked (it differs per reply). */
const untagged = (m: Buffer): string => m.toString('latin1').replace(/;tag=[0-9a-f]{16}\r\n/, ';tag=T\r\n');

describe('SipMessage.replyNow', () => {
  it('answers in order with the bytes reply() sends, returns nothing, counts as a send', async () => {
    const { sip, port, stats } = await server();
    const returned: unknown[] = [];
    let n = 0;
    sip.on('request', (m) => {
      // alternate the two forms on one connection: order and bytes must not tell them apart
      if (n++ % 2 === 0) returned.push(m.replyNow(200, 'OK', { 'X-N': n }));
      else void m.reply(200, 'OK', { 'X-N': n });
    });
    const peer = await rawPeer(port);
    const N = 20;
    peer.sock.write(Array.from({ length: N }, (_, i) => sipReq(`rn-${i}`)).join(''));
    await until(() => peer.messages.length === N);
    const replies = peer.messages.map(untagged);
    replies.forEach((r, i) => {
      expect(r).toBe(
        `SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKrn-${i}\r\nFrom: <sip:a@x>;tag=rn-${i}\r\nTo: <sip:b@x>;tag=T\r\n` +
          `Call-ID: rn-${i}@x\r\nCSeq: 1 OPTIONS\r\nX-N: ${i + 1}\r\nContent-Length: 0\r\n\r\n`,
      );
    });
    expect(returned).toEqual(Array.from({ length: N / 2 }, () => undefined));
    expect(stats.get('tcp:snd_msgs')!.value()).toBe(N);
    peer.sock.destroy();
  });

  it('throws: a SipProtocolError for a response or a bad status, ERR_CONN_NOT_FOUND once the connection is gone', async () => {
    const { sip, port } = await server();
    const got: SipMessage[] = [];
    sip.on('message', (m) => got.push(m));
    const peer = await rawPeer(port);
    peer.sock.write(sipReq('rn-x') + 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h\r\nContent-Length: 0\r\n\r\n');
    await until(() => got.length === 2);
    const [req, res] = got as [SipMessage, SipMessage];
    expect(() => res.replyNow(200, 'OK')).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    expect(() => res.replyNow(200, 'OK')).toThrow(SipProtocolError);
    expect(() => req.replyNow(99, 'Low')).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_MESSAGE' }));
    const closed = new Promise((r) => sip.on('close', r));
    peer.sock.destroy();
    await closed;
    expect(() => req.replyNow(200, 'OK')).toThrow(expect.objectContaining({ code: 'ERR_CONN_NOT_FOUND' }));
    await expect(req.reply(200, 'OK')).rejects.toMatchObject({ code: 'ERR_CONN_NOT_FOUND' });
  });

  it('a SipMessage made without a writer sends through its sender', async () => {
    const { SipMessage: Msg } = await import('../src/index.js');
    const sent: string[] = [];
    const msg = new Msg(Buffer.from(sipReq('rn-s'), 'latin1'), {} as never, 0, (_m, d) => {
      sent.push(d.toString('latin1'));
      return Promise.reject(new Error('ignored'));
    });
    expect(msg.replyNow(404, 'Not Here')).toBeUndefined();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.startsWith('SIP/2.0 404 Not Here\r\n')).toBe(true);
  });
});
