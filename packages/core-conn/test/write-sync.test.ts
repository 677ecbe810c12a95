import { afterEach, describe, expect, it } from 'vitest';
import { collect, lpEngine, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';
import { stuckPeer } from '../src/testing/peers.js';

afterEach(stopAll);

describe('sync writes (async = 0)', () => {
  it('resolves each send once written and keeps order', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const client = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 200 }));
    for (let i = 0; i < 30; i++) {
      const c = await client.send('lp', l.address, encode(`s${i}`));
      expect(c!.queuedChunks).toBe(0);
    }
    await until(() => got.messages.length === 30);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(Array.from({ length: 30 }, (_, i) => `s${i}`));
  });

  it('closes with "Write timeout" when a write does not drain within send_timeout', async () => {
    const peer = await stuckPeer();
    const client = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 100, maxPostponedChunks: 0 }));
    let isClosed = false;
    const closed = waitFor(client, 'close');
    void closed.then(() => (isClosed = true));
    const big = encode(Buffer.alloc(256 * 1024, 1));
    let rejected: unknown;
    let sent = 0;
    // Sync sends resolve while the kernel takes the bytes; the first one that cannot drain times out.
    for (let i = 0; i < 400 && rejected === undefined && !isClosed; i++) {
      await client.send('lp', peer.address, big).then(
        () => sent++,
        (e: unknown) => (rejected = e),
      );
    }
    const ev = await closed;
    expect(sent).toBeGreaterThan(0);
    expect(ev.reason).toBe('Write timeout');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_WRITE_TIMEOUT' });
    expect(rejected).toMatchObject({ code: 'ERR_CONN_WRITE_TIMEOUT' });
    expect(client.connections()).toHaveLength(0);
    await peer.close();
  });
});
