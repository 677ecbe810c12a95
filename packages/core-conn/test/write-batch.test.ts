// Replies written while one read chunk is framed leave in one socket write (a batch), with
// every semantic of single writes kept: order, pongs, byte counters, the async queue limit.
import { Socket, type Socket as NetSocket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec, PING_FRAME, PONG_FRAME } from './lp-proto.js';

/** Counts the socket-level writes (one per write or writev syscall batch) of the sockets `pick` selects. */
function countWrites(pick: (s: NetSocket) => boolean): { readonly n: number; restore(): void } {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
  const write = proto._write;
  const writev = proto._writev;
  const state = { n: 0 };
  proto._write = function (this: NetSocket, ...a: unknown[]) {
    if (pick(this)) state.n++;
    return write.apply(this, a);
  };
  proto._writev = function (this: NetSocket, ...a: unknown[]) {
    if (pick(this)) state.n++;
    return writev.apply(this, a);
  };
  return {
    get n() {
      return state.n;
    },
    restore() {
      proto._write = write;
      proto._writev = writev;
    },
  };
}

let restore: (() => void) | undefined;
afterEach(async () => {
  restore?.();
  restore = undefined;
  await stopAll();
});

/** Splits a stream of lp frames into payload strings (PONG frames as 'PONG'). */
function frames(data: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  while (data.length - off >= 4) {
    const len = data.readUInt32BE(off);
    if (len === 0x80000000) {
      out.push('PONG');
      off += 4;
      continue;
    }
    if (data.length - off - 4 < len) break;
    out.push(data.toString('latin1', off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

describe('write batching per read chunk', () => {
  it('answers pipelined requests in order, pongs included, in fewer socket writes than replies', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats });
    const l = await engine.listen('lp:127.0.0.1:0');
    engine.on('message', (ev) => {
      void engine.send('lp', ev.conn.remote, encode(`re:${(ev.message as Buffer).toString()}`), { connectionId: ev.conn.id });
    });
    const client = await rawClient(l);
    const counter = countWrites((s) => s.remotePort === client.localPort && s.localPort === l.address.port);
    restore = () => counter.restore();
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const N = 60;
    const parts: Buffer[] = [];
    const want: string[] = [];
    for (let i = 0; i < N; i++) {
      parts.push(encode(`m${i}`));
      want.push(`re:m${i}`);
      if (i % 20 === 9) {
        parts.push(PING_FRAME);
        want.push('PONG');
      }
    }
    const wire = Buffer.concat(parts);
    client.write(wire); // one write: the server reads it in one or a few chunks
    await until(() => frames(got).length === want.length, 5000, 'all replies');
    expect(frames(got)).toEqual(want);
    // 63 replies; one write per read chunk (a handful at most), never one per reply
    expect(counter.n).toBeGreaterThan(0);
    expect(counter.n).toBeLessThan(10);
    // counters see every reply, byte-exact
    const replyBytes = want.reduce((n, w) => n + (w === 'PONG' ? PONG_FRAME.length : 4 + w.length), 0);
    expect(stats.get('lp:snd_bytes')!.value()).toBe(replyBytes);
    expect(stats.get('lp:snd_msgs')!.value()).toBe(N);
    expect(stats.get('lp:rcv_bytes')!.value()).toBe(wire.length);
    expect(engine.connections()[0]!.queuedChunks).toBe(0);
    client.destroy();
  });

  it('inside a batch, queuedChunks counts the gathered replies as queuedBytes counts their bytes', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 100 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    const seen: Array<{ chunks: number; bytes: number }> = [];
    engine.on('message', (ev) => {
      const reply = encode(`re:${(ev.message as Buffer).toString()}`);
      void engine.send('lp', ev.conn.remote, reply, { connectionId: ev.conn.id });
      engine.write(ev.conn.id, reply);
      seen.push({ chunks: ev.conn.queuedChunks, bytes: ev.conn.queuedBytes });
    });
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    client.write(encode('q1'));
    await until(() => frames(got).length === 2, 5000, 'both replies');
    // the two replies are gathered, not yet written: two chunks of 2 x 9 bytes
    expect(seen).toEqual([{ chunks: 2, bytes: 18 }]);
    expect(engine.connections()[0]!.queuedChunks).toBe(0);
    client.destroy();
  });

  it('a batch larger than max_postponed_chunks is written in parts and does not trip the limit', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 3 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    engine.on('message', (ev) => {
      void engine.send('lp', ev.conn.remote, encode(`re:${(ev.message as Buffer).toString()}`), { connectionId: ev.conn.id });
    });
    const closes: string[] = [];
    engine.on('close', (ev) => closes.push(ev.reason));
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const N = 40;
    client.write(Buffer.concat(Array.from({ length: N }, (_, i) => encode(`p${i}`))));
    await until(() => frames(got).length === N, 5000, 'all replies');
    expect(frames(got)).toEqual(Array.from({ length: N }, (_, i) => `re:p${i}`));
    expect(closes).toEqual([]);
    expect(engine.connections()).toHaveLength(1);
    client.destroy();
  });

  it('sync mode: every send of a batch resolves once written, in order', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 1000 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    const resolved: string[] = [];
    engine.on('message', (ev) => {
      const m = (ev.message as Buffer).toString();
      void engine.send('lp', ev.conn.remote, encode(`re:${m}`), { connectionId: ev.conn.id }).then(() => resolved.push(m));
    });
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const N = 25;
    client.write(Buffer.concat(Array.from({ length: N }, (_, i) => encode(`s${i}`))));
    await until(() => frames(got).length === N && resolved.length === N, 5000, 'all replies and resolutions');
    expect(resolved).toEqual(Array.from({ length: N }, (_, i) => `s${i}`));
    expect(frames(got)).toEqual(Array.from({ length: N }, (_, i) => `re:s${i}`));
    client.destroy();
  });

  it('replies framed before a protocol error in the same chunk are still delivered, then the connection closes', async () => {
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    engine.on('message', (ev) => {
      void engine.send('lp', ev.conn.remote, encode(`re:${(ev.message as Buffer).toString()}`), { connectionId: ev.conn.id }).catch(() => {});
    });
    const closed = waitFor(engine, 'close');
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const ended = new Promise<void>((r) => client.on('close', () => r()));
    client.on('error', () => {});
    const bad = Buffer.from([0xff, 0, 0, 1]);
    client.write(Buffer.concat([encode('a'), encode('b'), bad]));
    const ev = await closed;
    expect(ev.reason).toBe('Protocol error');
    await ended;
    expect(frames(got)).toEqual(['re:a', 're:b']);
  });

  it('each reply of a batch the kernel does not take counts as one postponed chunk', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats }, lpSpec({}, { async: true, maxPostponedChunks: 1000, localWriteTimeout: 10 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    const big = Buffer.alloc(32 * 1024, 7);
    const reply = 4 + big.length;
    engine.on('message', (ev) => {
      void engine.send('lp', ev.conn.remote, encode(big), { connectionId: ev.conn.id });
    });
    const stuck = await rawClient(l);
    stuck.pause();
    const req = encode('big');
    let sent = 0;
    let q = { chunks: 0, bytes: 0 };
    // rounds of 16 pipelined requests, each read and answered as one batch, until the kernel
    // buffers are full and replies stay queued in user space
    for (let round = 0; round < 500 && q.chunks === 0; round++) {
      stuck.write(Buffer.concat(Array.from({ length: 16 }, () => req)));
      sent += 16;
      await until(() => stats.get('lp:rcv_msgs')!.value() === sent, 5000, 'requests read');
      const c = engine.connections()[0]!;
      q = { chunks: c.queuedChunks, bytes: c.queuedBytes };
    }
    expect(q.chunks).toBeGreaterThan(0);
    // every unflushed reply (the oldest possibly in part) is its own chunk
    expect(q.chunks).toBe(Math.ceil(q.bytes / reply));
    stuck.destroy();
  });

  it('a client that pipelines requests and never reads is closed by the async queue limit; others keep exchanging', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 8, localWriteTimeout: 10 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    // each request asks for a 32 KiB answer
    const big = Buffer.alloc(32 * 1024, 7);
    engine.on('message', (ev) => {
      const m = ev.message as Buffer;
      const body = m.toString() === 'big' ? big : m;
      void engine.send('lp', ev.conn.remote, encode(body), { connectionId: ev.conn.id }).catch(() => {});
    });
    const stuck = await rawClient(l);
    stuck.pause();
    stuck.on('error', () => {});
    const stuckPort = stuck.localPort;
    const closed = waitFor(engine, 'close', (ev) => ev.conn.remote.port === stuckPort, 20_000);
    const others = await Promise.all(Array.from({ length: 10 }, () => rawClient(l)));
    const received = others.map(() => 0);
    others.forEach((s, i) => s.on('data', (d: Buffer) => (received[i]! += d.length)));
    const req = encode('big');
    let done = false;
    void closed.then(() => (done = true));
    // 16 requests per write: batches of replies, until the kernel buffers are full and the queue trips
    let rounds = 0;
    for (; rounds < 2000 && !done; rounds++) {
      stuck.write(Buffer.concat(Array.from({ length: 16 }, () => req)));
      for (const s of others) s.write(encode(`o${rounds % 10}`));
      await new Promise((r) => setImmediate(r));
    }
    const ev = await closed;
    expect(ev.reason).toBe('Write queue full');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL', name: 'LimitError' });
    for (const s of others) s.write(encode('last'));
    await until(() => engine.connections().length === 10, 5000, 'only the stuck connection closed');
    // every echo of the other connections arrives, none lost: 6 bytes per round, 8 for 'last'
    await until(() => received.every((n) => n === rounds * 6 + 8), 10_000, 'all echoes of the other connections');
    for (const s of others) s.destroy();
    stuck.destroy();
  });
});
