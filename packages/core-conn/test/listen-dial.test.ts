import { afterEach, describe, expect, it } from 'vitest';
import { ConnState } from '../src/types.js';
import { collect, lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec, PING_FRAME, PONG_FRAME } from './lp-proto.js';

afterEach(stopAll);

describe('listen and dial', () => {
  it('accepts, frames messages in order and replies on the same connection', async () => {
    const server = lpEngine();
    const client = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    expect(l.address.port).toBeGreaterThan(0);
    const got = collect(server);
    const back = collect(client);
    server.on('message', (ev) => {
      void server.send('lp', ev.conn.remote, encode(Buffer.concat([Buffer.from('re:'), ev.message as Buffer])), { connectionId: ev.conn.id });
    });
    const first = await client.send('lp', l.address, encode('one'));
    expect(first?.state).toBe(ConnState.OK);
    for (let i = 0; i < 50; i++) await client.send('lp', l.address, encode(`m${i}`));
    await until(() => back.messages.length === 51);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(['one', ...Array.from({ length: 50 }, (_, i) => `m${i}`)]);
    expect(back.messages.map((m) => (m.message as Buffer).toString())[1]).toBe('re:m0');
    // one connection each way, reused
    expect(client.connections()).toHaveLength(1);
    expect(server.connections()).toHaveLength(1);
    const sc = server.connections()[0]!;
    expect(sc.accepted).toBe(true);
    expect(sc.remote.port).toBe(client.connections()[0]!.local.port);
    expect(sc.listener?.id).toBe(l.id);
  });

  it('emits connect and accept, assigns consecutive 32-bit ids and a cid', async () => {
    const server = lpEngine();
    const client = lpEngine();
    const l = await server.listen({ proto: 'lp', host: '127.0.0.1', port: 0 });
    const acc = waitFor(server, 'accept');
    const con = waitFor(client, 'connect');
    await client.send('lp', l.address, encode('x'));
    const a = await acc;
    const c = await con;
    expect(c.accepted).toBe(false);
    expect(a.id).toBeGreaterThanOrEqual(0);
    expect(a.id).toBeLessThan(2 ** 32);
    expect(a.cid & 0xffffffffn).toBe(BigInt(a.id));
    const l2 = await client.listen('lp:127.0.0.1:0');
    const acc2 = waitFor(client, 'accept');
    await server.send('lp', l2.address, encode('y'));
    const b = await acc2;
    expect(b.id).toBe((c.id + 1) >>> 0);
  });

  it('answers a ping through sink.reply and closes cleanly on EOF', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    const data: Buffer[] = [];
    s.on('data', (d: Buffer) => data.push(d));
    s.write(PING_FRAME);
    await until(() => Buffer.concat(data).length >= 4);
    expect(Buffer.concat(data)).toEqual(PONG_FRAME);
    const closed = waitFor(server, 'close');
    s.end();
    const ev = await closed;
    expect(ev.reason).toBe('EOF received');
    expect(ev.error).toBeUndefined();
  });

  it('EOF with a partial message reports ERR_CONN_EOF', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    const closed = waitFor(server, 'close');
    s.write(encode('hello').subarray(0, 6));
    await until(() => server.connections().length === 1 && server.connections()[0]!.lastUsedAt > 0);
    setTimeout(() => s.end(), 20);
    const ev = await closed;
    expect(ev.reason).toBe('EOF received');
    expect((ev.error as { code?: string }).code).toBe('ERR_CONN_EOF');
  });

  it('closes with Protocol error on bad framing and reports an error event', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const s = await rawClient(l);
    const err = waitFor(server, 'error');
    const closed = waitFor(server, 'close');
    s.write(Buffer.from([0xff, 0, 0, 1]));
    const ev = await closed;
    expect(ev.reason).toBe('Protocol error');
    expect((ev.error as { code?: string }).code).toBe('ERR_LP_LENGTH');
    expect(((await err).error as { name: string }).name).toBe('ProtocolError');
    s.destroy();
  });

  it('fails connecting to a closed port with ERR_CONN_CONNECT_FAILED', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const port = l.address.port;
    await server.shutdown();
    const client = lpEngine();
    await expect(client.send('lp', { host: '127.0.0.1', port }, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_FAILED' });
    expect(client.connections()).toHaveLength(0);
  });

  it('shutdown flushes queued writes, closes everything and refuses new work', async () => {
    const server = lpEngine({}, lpSpec({ maxMsgBytes: 1 << 20, maxMsgChunks: 0 }));
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const client = lpEngine();
    const closes = collect(client).closes;
    const big = encode(Buffer.alloc(512 * 1024, 3));
    await client.send('lp', l.address, encode('first'));
    for (let i = 0; i < 8; i++) await client.send('lp', l.address, big);
    await client.shutdown({ deadlineMs: 3000 });
    expect(closes.map((c) => c.reason)).toEqual(['Shutdown']);
    expect(client.connections()).toHaveLength(0);
    await until(() => got.messages.length === 9, 5000);
    expect((got.messages[8]!.message as Buffer).length).toBe(512 * 1024);
    await expect(client.send('lp', l.address, encode('late'))).rejects.toMatchObject({ code: 'ERR_CONN_CLOSED' });
    await expect(client.listen('lp:127.0.0.1:0')).rejects.toMatchObject({ code: 'ERR_CONN_CLOSED' });
  });

  it('rejects unknown protocols and listening without a port', async () => {
    const e = lpEngine();
    await expect(e.listen('lp:127.0.0.1')).rejects.toMatchObject({ code: 'ERR_BAD_SOCKET_SPEC' });
    await expect(e.listen('xx:127.0.0.1:0')).rejects.toMatchObject({ code: 'ERR_CONN_UNKNOWN_PROTOCOL' });
    await expect(e.send('xx', { host: '127.0.0.1', port: 1 }, Buffer.alloc(1))).rejects.toMatchObject({ code: 'ERR_CONN_UNKNOWN_PROTOCOL' });
  });
});
