import { afterEach, describe, expect, it } from 'vitest';
import { createSipTcp, parseTarget, type SipMessage } from '../src/index.js';
import { rawPeer, responder, sipReq, stopAll, until } from './helpers.js';

afterEach(stopAll);

describe('parseTarget', () => {
  it('accepts addresses, host:port, [v6]:port and sip: URIs; the port defaults to tcp_port', () => {
    expect(parseTarget({ host: '127.0.0.1', port: 5070 }, 5060)).toEqual({ host: '127.0.0.1', port: 5070 });
    expect(parseTarget('127.0.0.1:5071', 5060)).toEqual({ host: '127.0.0.1', port: 5071 });
    expect(parseTarget('127.0.0.1', 5090)).toEqual({ host: '127.0.0.1', port: 5090 });
    expect(parseTarget('[::1]:5072', 5060)).toEqual({ host: '::1', port: 5072 });
    expect(parseTarget('::1', 5060)).toEqual({ host: '::1', port: 5060 });
    expect(parseTarget('sip:bob@127.0.0.1:5073;transport=tcp', 5060)).toEqual({ host: '127.0.0.1', port: 5073 });
    expect(parseTarget('SIP:localhost;lr?x=y', 5061)).toEqual({ host: '127.0.0.1', port: 5061 });
  });
  it('refuses what it cannot send over tcp with ERR_SIP_BAD_TARGET', () => {
    for (const t of ['sip:127.0.0.1;transport=udp', 'sips:127.0.0.1', 'example.com:5060', '127.0.0.1:0', '127.0.0.1:70000', '', 'a:b:c']) {
      expect(() => parseTarget(t, 5060), t).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_TARGET' }));
    }
    expect(() => parseTarget({ host: '1.2.3.4', port: 0 }, 5060)).toThrow(expect.objectContaining({ code: 'ERR_SIP_BAD_TARGET' }));
  });
});

describe('SipTcp', () => {
  it('delivers requests and responses with their fields; reply to a response is refused', async () => {
    const { sip, port } = await responder();
    const cli = await createSipTcp({ listen: ['tcp:127.0.0.1:0'] });
    try {
      const responses: SipMessage[] = [];
      const all: SipMessage[] = [];
      cli.on('response', (m) => responses.push(m));
      cli.on('message', (m) => all.push(m));
      const reqs: SipMessage[] = [];
      sip.on('request', (m) => reqs.push(m));
      // a Buffer goes as is (sipReq counts Content-Length in latin1 bytes)
      const conn = await cli.send(`127.0.0.1:${port}`, Buffer.from(sipReq('api-1', { method: 'MESSAGE', body: 'héllo' }), 'latin1'));
      await until(() => responses.length === 1);
      expect(reqs[0]).toMatchObject({ isRequest: true, method: 'MESSAGE', uri: 'sip:svc@127.0.0.1', callId: 'api-1@x', status: undefined });
      expect(reqs[0]!.body.toString('latin1')).toBe('héllo');
      expect(reqs[0]!.source).toEqual(conn.local);
      expect(responses[0]).toMatchObject({ isRequest: false, status: 200, reason: 'OK', method: undefined, callId: 'api-1@x' });
      expect(all).toHaveLength(1);
      expect(responses[0]!.header('cseq')).toBe('1 MESSAGE');
      await expect(responses[0]!.reply(200, 'OK')).rejects.toMatchObject({ code: 'ERR_SIP_BAD_MESSAGE' });
      await expect(reqs[0]!.reply(700, 'Nope')).rejects.toMatchObject({ code: 'ERR_SIP_BAD_MESSAGE' });
      // the second send reuses the connection
      const again = await cli.send(`sip:127.0.0.1:${port}`, sipReq('api-2'));
      expect(again.id).toBe(conn.id);
    } finally {
      await cli.close();
    }
    await expect(cli.send(`127.0.0.1:${port}`, sipReq('late'))).rejects.toMatchObject({ code: 'ERR_SIP_CLOSED' });
  });

  it('a throwing handler is reported on "error" and does not stop delivery', async () => {
    const { sip, port } = await responder();
    const errors: Error[] = [];
    sip.on('request', () => {
      throw new Error('boom');
    });
    sip.on('error', (e) => errors.push(e));
    const peer = await rawPeer(port);
    peer.sock.write(sipReq('t1') + sipReq('t2'));
    await until(() => peer.messages.length === 2);
    expect(peer.messages).toHaveLength(2);
    expect(errors.map((e) => e.message)).toEqual(['boom', 'boom']);
  });

  it('reply fails with a connection error once the connection is gone', async () => {
    const { sip, port } = await responder();
    const got: SipMessage[] = [];
    sip.on('request', (m) => got.push(m));
    const peer = await rawPeer(port);
    peer.sock.write(sipReq('gone'));
    await until(() => got.length === 1);
    sip.engine.close(got[0]!.conn.id);
    await expect(got[0]!.reply(486, 'Busy Here')).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_CONN_/) });
  });

  it('rejects bad params before opening anything', async () => {
    await expect(createSipTcp({ params: { tcp_max_msg_chunks: 'x' as unknown as number } })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
