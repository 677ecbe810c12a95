// Pipelined requests on one connection: replies in order, each reply promise settles to
// undefined (async and sync mode), and a reply after the connection is gone rejects.
import { createSipTcp, type SipMessage } from '../src/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { rawPeer, sipReq, stopAll, until } from './helpers.js';

afterEach(stopAll);

describe('pipelined requests', () => {
  for (const tcp_async of [true, false]) {
    it(`answers ${tcp_async ? 'async' : 'sync'}: in order, every reply promise resolves to undefined`, async () => {
      const sip = await createSipTcp({ listen: ['tcp:127.0.0.1:0'], params: { tcp_async } });
      const outcomes: unknown[] = [];
      const reqs: SipMessage[] = [];
      sip.on('request', (m) => {
        reqs.push(m);
        m.reply(200, 'OK').then(
          (v) => outcomes.push(v),
          (e: unknown) => outcomes.push(e),
        );
      });
      try {
        const peer = await rawPeer(sip.listeners[0]!.address.port);
        const N = 50;
        peer.sock.write(Array.from({ length: N }, (_, i) => sipReq(`p${i}`)).join(''));
        await until(() => peer.messages.length === N && outcomes.length === N, 5000);
        expect(outcomes).toEqual(Array.from({ length: N }, () => undefined));
        const callIds = peer.messages.map((m) => /\r\nCall-ID: ([^\r]+)\r\n/.exec(m.toString('latin1'))![1]);
        expect(callIds).toEqual(Array.from({ length: N }, (_, i) => `p${i}@x`));
        peer.sock.destroy();
        await until(() => sip.engine.connections('tcp').length === 0, 3000);
        await expect(reqs[0]!.reply(200, 'OK')).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_CONN_/) });
      } finally {
        await sip.close();
      }
    });
  }
});
