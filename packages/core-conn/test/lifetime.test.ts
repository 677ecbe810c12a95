import { afterEach, describe, expect, it } from 'vitest';
import { collect, lpEngine, rawClient, sleep, stopAll, until, waitFor } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('con_lifetime', () => {
  it('closes an idle connection with "Timeout on no traffic", keeps a busy one', async () => {
    const server = lpEngine({ defaultProfile: { conLifetime: 0.3 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    // t0 before the idle connection exists: its lifetime cannot have started earlier
    const t0 = Date.now();
    const idle = await rawClient(l);
    const busy = await rawClient(l);
    const closed = waitFor(server, 'close');
    const timer = setInterval(() => busy.write(encode('tick')), 50);
    const ev = await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(ev.reason).toBe('Timeout on no traffic');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_LIFETIME' });
    expect(ev.conn.remote.port).toBe(idle.localPort);
    await sleep(400);
    clearInterval(timer);
    expect(got.closes).toHaveLength(1);
    expect(server.connections()).toHaveLength(1);
    idle.destroy();
    busy.destroy();
  });

  it('setLifetime extends a connection; writes refresh it too', async () => {
    const server = lpEngine({ defaultProfile: { conLifetime: 0.2 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const a = await rawClient(l);
    const b = await rawClient(l);
    await until(() => server.connections().length === 2);
    const [ca, cb] = server.connections();
    server.setLifetime(ca!.id, 1);
    const timer = setInterval(() => void server.send('lp', cb!.remote, encode('x'), { connectionId: cb!.id }), 40);
    b.resume();
    await sleep(500);
    clearInterval(timer);
    expect(got.closes).toHaveLength(0);
    await until(() => got.closes.length === 2, 3000);
    a.destroy();
    b.destroy();
  });
});
