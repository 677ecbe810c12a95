import { afterEach, describe, expect, it } from 'vitest';
import { collect, lpEngine, rawClient, sleep, stopAll, until, waitFor } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

describe('msg_read_timeout', () => {
  it('closes a connection idle with a partial message while a healthy one keeps talking', async () => {
    const server = lpEngine({ defaultProfile: { msgReadTimeout: 0.2 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const stuck = await rawClient(l);
    const healthy = await rawClient(l);
    const closed = waitFor(server, 'close');
    stuck.write(encode('partial message').subarray(0, 8));
    const started = Date.now();
    let sent = 0;
    const timer = setInterval(() => {
      healthy.write(encode(`h${sent++}`));
    }, 20);
    const ev = await closed;
    clearInterval(timer);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(ev.reason).toBe('Timeout waiting for a complete message');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_READ_TIMEOUT' });
    expect(ev.conn.remote.port).toBe(stuck.localPort);
    await until(() => got.messages.length === sent);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(Array.from({ length: sent }, (_, i) => `h${i}`));
    expect(server.connections()).toHaveLength(1);
    stuck.destroy();
    healthy.destroy();
  });

  it('does not time out when each partial message completes in time', async () => {
    // the timeout runs per message: 4 messages each completed 250 ms after their first bytes
    // take longer in all than the 1 s timeout, yet none of them times out (a 1 s timeout leaves
    // a busy machine 750 ms of slack per message)
    const server = lpEngine({ defaultProfile: { msgReadTimeout: 1 } });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const sock = await rawClient(l);
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) {
      const m = encode(`msg${i}`);
      sock.write(m.subarray(0, 3));
      await sleep(250);
      sock.write(m.subarray(3));
      await until(() => got.messages.length === i + 1);
    }
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect(got.closes).toHaveLength(0);
    sock.destroy();
  });
});
