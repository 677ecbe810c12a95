import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { lpEngine, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';
import { stuckPeer } from './stuck-peer.js';

afterEach(stopAll);

const CLIENTS = 100;
const PER_CLIENT = 20;

describe('async write queue', () => {
  it('a peer that never reads trips the queue limit while 100 other connections lose nothing', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats }, lpSpec({}, { async: true, maxPostponedChunks: 8, localWriteTimeout: 60_000 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    // echo server
    engine.on('message', (ev) => {
      if (ev.conn.accepted) void engine.send('lp', ev.conn.remote, encode(ev.message as Buffer), { connectionId: ev.conn.id });
    });
    const frame = encode('0123456789abcdef');
    const clients: { sock: Socket; received: number }[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const sock = await new Promise<Socket>((r) => {
        const s: Socket = connect(l.address.port, '127.0.0.1', () => r(s));
      });
      const c = { sock, received: 0 };
      sock.on('data', (d: Buffer) => (c.received += d.length));
      clients.push(c);
    }
    const peer = await stuckPeer();
    const big = encode(Buffer.alloc(64 * 1024, 7));
    const closed = waitFor(engine, 'close', (ev) => ev.conn.remote.port === peer.address.port);
    let failure: unknown;
    let maxQueued = 0;
    let maxWaiting = 0;
    let round = 0;
    while (failure === undefined && round < 2000) {
      round++;
      if (round <= PER_CLIENT) for (const c of clients) c.sock.write(frame);
      try {
        const conn = await engine.send('lp', peer.address, big);
        maxQueued = Math.max(maxQueued, conn!.queuedChunks);
        maxWaiting = Math.max(maxWaiting, stats.get('net:waiting_tcp')!.value());
      } catch (e) {
        failure = e;
      }
      await new Promise((r) => setImmediate(r));
    }
    for (let r = round; r < PER_CLIENT; r++) for (const c of clients) c.sock.write(frame);
    expect(failure).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL', name: 'LimitError' });
    const ev = await closed;
    expect(ev.reason).toBe('Write queue full');
    expect(maxQueued).toBe(8);
    expect(maxWaiting).toBeGreaterThan(0);
    await until(() => clients.every((c) => c.received === PER_CLIENT * frame.length), 10_000, 'all echoes');
    expect(engine.connections()).toHaveLength(CLIENTS);
    for (const c of clients) c.sock.destroy();
    await peer.close();
  });

  it('closes with "Write timeout" when the oldest queued chunk makes no progress within local_write_timeout', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 1000, localWriteTimeout: 80 }));
    const peer = await stuckPeer();
    const closed = waitFor(engine, 'close');
    const big = encode(Buffer.alloc(256 * 1024, 7));
    let queued = 0;
    for (let i = 0; i < 200 && queued === 0; i++) {
      const c = await engine.send('lp', peer.address, big);
      queued = c!.queuedChunks;
    }
    expect(queued).toBeGreaterThan(0);
    const t0 = Date.now();
    const ev = await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(ev.reason).toBe('Write timeout');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_WRITE_TIMEOUT' });
    await peer.close();
  });
});
