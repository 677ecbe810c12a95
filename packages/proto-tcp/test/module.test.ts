import { afterEach, expect, it } from 'vitest';
import { createEngine, createStatsRegistry, validateParams, type Engine, type ModuleContext } from '@x/core-conn';
import { protoTcpModule, type ProtoTcpParams, type SipMessage } from '../src/index.js';
import { rawPeer, sipReq, sleep, until } from './helpers.js';

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.shutdown({ deadlineMs: 100 });
});

it('loads as the server does: validated modparams -> protocols -> init api; destroy detaches', async () => {
  const raw = new Map([
    ['tcp_max_msg_chunks', [{ value: '8', where: 'x.cfg:3:1' }]],
    ['tcp_crlf_pingpong', [{ value: 0 }]],
  ]);
  const params = validateParams<ProtoTcpParams>('proto_tcp', protoTcpModule.params, raw);
  expect(params).toMatchObject({ tcp_max_msg_chunks: 8, tcp_crlf_pingpong: false, tcp_port: 5060 });
  expect(() => validateParams('proto_tcp', protoTcpModule.params, new Map([['tcp_port', [{ value: 'abc', where: 'x.cfg:4:1' }]]]))).toThrow(/tcp_port.*x\.cfg:4:1/);

  engine = createEngine();
  for (const spec of protoTcpModule.protocols!(params)) engine.registerProtocol(spec);
  expect(engine.protocol('tcp')).toMatchObject({ maxMsgChunks: 8 });
  const stats = createStatsRegistry();
  const ctx = { engine, stats, logger: undefined, routes: () => undefined, traceSinks: undefined, modules: new Map() } as unknown as ModuleContext;
  const inst = await protoTcpModule.init(ctx, params);
  expect(inst.mi).toEqual([]);
  const got: SipMessage[] = [];
  inst.api!.on('request', (m) => {
    got.push(m);
    void m.reply(200, 'OK');
  });
  const l = await engine.listen('tcp:127.0.0.1:0');
  const peer = await rawPeer(l.address.port);
  peer.sock.write('\r\n\r\n' + sipReq('mod-1'));
  await until(() => peer.messages.length === 1);
  expect(got.map((m) => m.callId)).toEqual(['mod-1@x']);
  // tcp_crlf_pingpong=0 reached the framer: no pong before the reply
  expect(peer.bytes().subarray(0, 7).toString()).toBe('SIP/2.0');
  await inst.destroy!();
  peer.sock.write(sipReq('mod-2'));
  await sleep(200);
  expect(got).toHaveLength(1);
  peer.sock.destroy();
});
