import { afterEach, describe, expect, it } from 'vitest';
import { collect, lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

// Event-driven on purpose (a busy 2-core machine can stall this process for hundreds of ms):
// the busy connection is kept alive by a ping-pong (the next tick is sent when the previous one
// arrived), not by a timer, and every "still open" check is made at the moment another
// connection's lifetime is seen to expire, not after a sleep.
describe('con_lifetime', () => {
  it('closes an idle connection with "Timeout on no traffic", keeps a busy one', async () => {
    const server = lpEngine({ defaultProfile: { conLifetime: 0.5 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    // t0 before the idle connection exists: its lifetime cannot have started earlier
    const t0 = Date.now();
    const idle = await rawClient(l);
    const busy = await rawClient(l);
    // the busy client sends its next tick as soon as the server has read the previous one
    server.on('message', (m) => {
      // (10 ms apart, so the loop does not spin the CPU the other tests share)
      if (m.conn.remote.port === busy.localPort) setTimeout(() => busy.destroyed || busy.write(encode('tick')), 10);
    });
    const closed = waitFor(server, 'close');
    busy.write(encode('tick'));
    const ev = await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(480);
    expect(ev.reason).toBe('Timeout on no traffic');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_LIFETIME' });
    expect(ev.conn.remote.port).toBe(idle.localPort);
    // the busy connection, as old as the idle one, is still open and still talking
    expect(server.connections().map((c) => c.remote.port)).toEqual([busy.localPort]);
    const ticks = got.messages.length;
    await until(() => got.messages.length > ticks + 2);
    expect(got.closes).toHaveLength(1);
    busy.destroy();
    idle.destroy();
  });

  it('setLifetime extends a connection; writes refresh it too', async () => {
    const server = lpEngine({ defaultProfile: { conLifetime: 0.2 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const a = await rawClient(l);
    const b = await rawClient(l);
    const c = await rawClient(l);
    await until(() => server.connections().length === 3);
    const byPort = (s: { localPort?: number }) => server.connections().find((x) => x.remote.port === s.localPort)!;
    const [ca, cb, cc] = [byPort(a), byPort(b), byPort(c)];
    // a: extended far beyond the default; b: never reads from the client, only written to by the
    // server, each write sent when the client received the previous one; c: left alone
    server.setLifetime(ca.id, 30);
    let writing = true;
    b.on('data', () => {
      setTimeout(() => writing && server.write(cb.id, encode('x')), 10);
    });
    server.write(cb.id, encode('x'));
    const ev = await waitFor(server, 'close');
    expect(ev.conn.id).toBe(cc.id);
    expect(ev.reason).toBe('Timeout on no traffic');
    expect(server.connections().map((x) => x.id).sort()).toEqual([ca.id, cb.id].sort());
    // once the server stops writing, b expires at its default lifetime; a does not
    writing = false;
    await waitFor(server, 'close', (e) => e.conn.id === cb.id);
    expect(got.closes.map((x) => x.conn.id)).toEqual([cc.id, cb.id]);
    expect(server.connection(ca.id)).toBeDefined();
    a.destroy();
    b.destroy();
    c.destroy();
  });
});
