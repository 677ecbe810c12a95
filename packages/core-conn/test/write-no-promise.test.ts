// engine.write: the promise-free send on a connection by id (replies), with send's limits,
// counters and errors.
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';
import { stuckPeer } from '../src/testing/peers.js';

afterEach(stopAll);

describe('engine.write (no promise)', () => {
  it('answers on the connection, in order, counted as send counts, returning nothing', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats });
    const l = await engine.listen('lp:127.0.0.1:0');
    const returned: unknown[] = [];
    engine.on('message', (ev) => {
      returned.push(engine.write(ev.conn.id, encode(`re:${(ev.message as Buffer).toString()}`)));
    });
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const N = 25;
    const want = Array.from({ length: N }, (_, i) => encode(`re:w${i}`));
    for (let i = 0; i < N; i++) client.write(encode(`w${i}`));
    const wantBytes = Buffer.concat(want);
    await until(() => got.length >= wantBytes.length, 5000, 'all replies');
    expect(got.equals(wantBytes)).toBe(true);
    expect(returned).toEqual(Array.from({ length: N }, () => undefined));
    expect(stats.get('lp:snd_msgs')!.value()).toBe(N);
    expect(stats.get('lp:snd_bytes')!.value()).toBe(wantBytes.length);
    client.destroy();
  });

  it('throws ERR_CONN_NOT_FOUND for an unknown or closed connection, ERR_CONN_CLOSED once shut down', async () => {
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    const accepted = waitFor(engine, 'accept');
    const client = await rawClient(l);
    const conn = await accepted;
    expect(() => engine.write(conn.id + 1000, encode('x'))).toThrow(expect.objectContaining({ code: 'ERR_CONN_NOT_FOUND' }));
    const closed = waitFor(engine, 'close');
    client.destroy();
    await closed;
    expect(() => engine.write(conn.id, encode('x'))).toThrow(expect.objectContaining({ code: 'ERR_CONN_NOT_FOUND' }));
    await engine.shutdown({ deadlineMs: 50 });
    expect(() => engine.write(conn.id, encode('x'))).toThrow(expect.objectContaining({ code: 'ERR_CONN_CLOSED' }));
  });

  it('a write that throws inside a message handler is an error event; the engine and the connection go on', async () => {
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    const errors: unknown[] = [];
    engine.on('error', (ev) => errors.push(ev.error));
    engine.on('message', (ev) => {
      const m = (ev.message as Buffer).toString();
      if (m === 'bad') engine.write(ev.conn.id + 1000, encode('lost'));
      engine.write(ev.conn.id, encode(`re:${m}`));
    });
    const client = await rawClient(l);
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    client.write(encode('bad'));
    client.write(encode('next'));
    const want = Buffer.concat([encode('re:next')]);
    await until(() => got.length >= want.length, 5000, 'the reply to the next message');
    // the throwing handler's own reply was never written; the next message is answered
    expect(got.equals(want)).toBe(true);
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_CONN_NOT_FOUND' })]);
    expect(engine.connections()).toHaveLength(1);
    client.destroy();
  });

  it('max_postponed_chunks: a write to a full queue throws ERR_CONN_QUEUE_FULL and closes the connection', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats }, lpSpec({}, { async: true, maxPostponedChunks: 4, localWriteTimeout: 10 }));
    const peer = await stuckPeer();
    const conn = await engine.send('lp', peer.address, encode('hello'));
    const closed = waitFor(engine, 'close');
    const big = encode(Buffer.alloc(256 * 1024, 1));
    let failure: unknown;
    for (let i = 0; i < 200 && failure === undefined; i++) {
      try {
        engine.write(conn!.id, big);
      } catch (err) {
        failure = err;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(failure).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL', name: 'LimitError' });
    expect((await closed).reason).toBe('Write queue full');
    expect(stats.get('lp:limit_closes')!.value()).toBe(1);
    await peer.close();
  });
});
