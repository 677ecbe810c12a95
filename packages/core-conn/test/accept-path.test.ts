// The accept path's cheap forms: the cid computed on demand, the local address of a
// connection accepted on a one-address listener taken from the listener, close errors made
// only when asked for. Each must still report what the eager forms reported.
import { afterEach, describe, expect, it } from 'vitest';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';
import { stuckPeer } from '../src/testing/peers.js';

afterEach(stopAll);

describe('accept path', () => {
  it('cid: the id in the low 32 bits, start-up seconds in the next 24, stable across reads', async () => {
    const before = Math.floor(Date.now() / 1000);
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    const acc = waitFor(engine, 'accept');
    const s = await rawClient(l);
    const c = await acc;
    const cid = c.cid;
    expect(c.cid).toBe(cid);
    expect(cid & 0xffffffffn).toBe(BigInt(c.id));
    const secs = Number((cid >> 32n) & 0xffffffn);
    expect(secs).toBeGreaterThanOrEqual(before & 0xffffff);
    expect(secs).toBeLessThanOrEqual((Math.floor(Date.now() / 1000) + 1) & 0xffffff);
    s.destroy();
  });

  it('local address: the listener address on a one-address listener, the real one on a wildcard', async () => {
    const engine = lpEngine();
    const one = await engine.listen('lp:127.0.0.1:0');
    const any = await engine.listen({ proto: 'lp', host: '0.0.0.0', port: 0 });
    const accepted: { port: number; local: { host: string; port: number } }[] = [];
    engine.on('accept', (c) => accepted.push({ port: c.listener!.address.port, local: { ...c.local } }));
    const a = await rawClient(one);
    const b = await rawClient({ ...any, address: { host: '127.0.0.1', port: any.address.port } });
    await until(() => accepted.length === 2);
    const byPort = new Map(accepted.map((x) => [x.port, x.local]));
    expect(byPort.get(one.address.port)).toEqual({ host: a.remoteAddress, port: a.remotePort });
    expect(byPort.get(any.address.port)).toEqual({ host: '127.0.0.1', port: b.remotePort });
    a.destroy();
    b.destroy();
  });

  it('sync sends cut short by the close reject with the error that closed the connection', async () => {
    const peer = await stuckPeer();
    const engine = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 100, maxPostponedChunks: 0 }));
    const big = encode(Buffer.alloc(256 * 1024, 1));
    const outcomes: unknown[] = [];
    const closed = waitFor(engine, 'close');
    await engine.send('lp', peer.address, encode('hello')); // connected: later sends are real writes
    for (let i = 0; i < 40; i++) {
      engine.send('lp', peer.address, big).then(
        () => outcomes.push('ok'),
        (e: unknown) => outcomes.push(e),
      );
    }
    const ev = await closed;
    expect(ev.reason).toBe('Write timeout');
    await until(() => outcomes.length === 40, 5000, 'every send settled');
    const errors = outcomes.filter((o) => o !== 'ok');
    expect(errors.length).toBeGreaterThan(0);
    // every write cut short by the close carries the reason it closed
    for (const e of errors) expect(e).toMatchObject({ code: 'ERR_CONN_WRITE_TIMEOUT', name: 'LimitError' });
    await peer.close();
  });

  it('sync sends cut short by a close without an error reject with ERR_CONN_CLOSED naming the reason', async () => {
    const peer = await stuckPeer();
    const engine = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 30_000, maxPostponedChunks: 0 }));
    const big = encode(Buffer.alloc(256 * 1024, 1));
    const conn = await engine.send('lp', peer.address, encode('hello'));
    const outcomes: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      engine.send('lp', peer.address, big).then(
        () => outcomes.push('ok'),
        (e: unknown) => outcomes.push(e),
      );
    }
    await until(() => conn!.queuedBytes > 0, 5000, 'bytes queued');
    expect(engine.close(conn!.id, 'Closed by MI')).toBe(true);
    await until(() => outcomes.length === 40, 5000, 'every send settled');
    const errors = outcomes.filter((o) => o !== 'ok');
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e).toMatchObject({ code: 'ERR_CONN_CLOSED', message: 'connection closed: Closed by MI' });
    await peer.close();
  });
});
