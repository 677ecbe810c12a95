import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import type { ConnectionInfo } from '../src/types.js';
import { collect, lpEngine, rawClient, sleep, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec, PING_FRAME } from './lp-proto.js';
import { pausablePeer, stuckPeer } from '../src/testing/peers.js';

afterEach(stopAll);

function quietLogger() {
  const nop = (): void => {};
  const l = { trace: nop, debug: nop, info: nop, warn: nop, error: nop, fatal: nop, child: () => l };
  return l;
}

const CLIENTS = 100;
const PER_CLIENT = 20;

describe('async write queue', () => {
  it('a peer that never reads trips the queue limit while 100 other connections lose nothing', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats }, lpSpec({}, { async: true, maxPostponedChunks: 8, localWriteTimeout: 10 }));
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

  it('a peer that stops reading past local_write_timeout and then resumes receives everything; the connection stays open', async () => {
    const stats = createStatsRegistry();
    const debug: { obj: unknown; msg?: string }[] = [];
    const logger = { ...quietLogger(), debug: (obj: unknown, msg?: string) => void debug.push({ obj, msg }) };
    const engine = lpEngine({ stats, logger }, lpSpec({}, { async: true, maxPostponedChunks: 1000, localWriteTimeout: 10 }));
    const peer = await pausablePeer();
    const closes = collect(engine).closes;
    const postponed = stats.get('lp:postponed_writes')!;
    // numbered 64 KiB chunks, so order and completeness can be checked at the far end
    const chunk = (i: number): Buffer => encode(Buffer.alloc(64 * 1024, i & 0xff));
    let sent = 0;
    const send = async (): Promise<ConnectionInfo> => (await engine.send('lp', peer.address, chunk(sent++)))!;
    for (let round = 1; round <= 2; round++) {
      // fill the kernel buffers until chunks stay queued in user space, then a few more
      let conn = await send();
      while (conn.queuedChunks === 0 && sent < 5000) conn = await send();
      for (let i = 0; i < 4; i++) conn = await send();
      expect(conn.queuedChunks).toBeGreaterThan(0);
      const before = postponed.value();
      // no progress for local_write_timeout: the chunks are postponed, not dropped
      await until(() => postponed.value() > before, 5000, `round ${round}: chunks postponed`);
      expect(postponed.value() - before).toBeGreaterThanOrEqual(conn.queuedChunks - 4);
      await sleep(100); // ten times local_write_timeout, still stalled
      expect(closes).toEqual([]);
      expect(engine.connection(conn.id)).toBeDefined();
      // chunks sent behind a postponed queue are postponed at once
      const mid = postponed.value();
      conn = await send();
      expect(postponed.value()).toBe(mid + 1);
      peer.resume();
      await until(() => peer.frames() === sent, 10_000, `round ${round}: everything received`);
      await until(() => conn.queuedChunks === 0, 5000, 'queue drained');
      peer.pause();
    }
    expect(peer.inOrder()).toBe(true);
    expect(closes).toEqual([]);
    expect(engine.connections()).toHaveLength(1);
    expect(debug.some((d) => /write postponed/.test(d.msg ?? ''))).toBe(true);
    await peer.close();
  });

  it('a peer that never reads, sent few large chunks, is closed when its lifetime expires (only flushed chunks refresh it)', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats, defaultProfile: { conLifetime: 0.5 } }, lpSpec({}, { async: true, maxPostponedChunks: 1000, localWriteTimeout: 10 }));
    const peer = await stuckPeer();
    const closed = waitFor(engine, 'close', () => true, 10_000);
    const big = encode(Buffer.alloc(256 * 1024, 7));
    let conn = (await engine.send('lp', peer.address, big))!;
    for (let i = 0; i < 200 && conn.queuedChunks === 0; i++) conn = (await engine.send('lp', peer.address, big))!;
    conn = (await engine.send('lp', peer.address, big))!;
    expect(conn.queuedChunks).toBeGreaterThan(1);
    expect(conn.queuedChunks).toBeLessThan(1000);
    await until(() => stats.get('lp:postponed_writes')!.value() > 0, 5000, 'chunks postponed');
    // sends keep coming (queued, never flushed) for ten lifetimes: they do not keep it alive
    let done = false;
    void closed.then(() => (done = true), () => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      await engine.send('lp', peer.address, encode('tick'), { connectionId: conn.id }).catch(() => {});
      await sleep(50);
    }
    expect(done, 'closed while the sends kept coming').toBe(true);
    const ev = await closed;
    expect(ev.reason).toBe('Timeout on no traffic');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_LIFETIME' });
    expect(stats.get('lp:limit_closes')!.value()).toBe(0);
    await peer.close();
  });
  it('pongs count against the queue limit: a peer that pings and never reads its pongs is closed as "Write queue full"', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats }, lpSpec({}, { async: true, maxPostponedChunks: 8, localWriteTimeout: 10 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    const client = await rawClient(l);
    client.pause();
    client.on('error', () => {});
    const closed = waitFor(engine, 'close', () => true, 20_000);
    let done = false;
    void closed.then(() => (done = true), () => (done = true));
    // the kernel buffers filled by sends first (a chunk or two queued, under the limit), so
    // the pongs are written one by one behind them, not in a read chunk's batch
    const acc = engine.connections()[0] ?? (await new Promise<ConnectionInfo>((r) => engine.on('accept', r)));
    const big = encode(Buffer.alloc(256 * 1024, 7));
    let conn = (await engine.send('lp', acc.remote, big, { connectionId: acc.id }))!;
    for (let i = 0; i < 400 && conn.queuedChunks === 0; i++) conn = (await engine.send('lp', acc.remote, big, { connectionId: acc.id }))!;
    expect(conn.queuedChunks).toBeGreaterThan(0);
    expect(conn.queuedChunks).toBeLessThan(8);
    // 4096 pings (16 KiB) per write, each answered by its own pong chunk, until the queue trips
    const pings = Buffer.concat(Array.from({ length: 4096 }, () => PING_FRAME));
    for (let i = 0; i < 2000 && !done; i++) {
      if (!client.write(pings)) await Promise.race([new Promise((r) => client.once('drain', r)), sleep(100)]);
    }
    const ev = await closed;
    expect(ev.reason).toBe('Write queue full');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL' });
    client.destroy();
  });
});
