// Flow control on real sockets: pause / resume of reading, drained() on a connection whose
// peer never reads (then reads), the maxQueuedBytes bound, and a relay that holds its queue
// bounded by pausing its inbound side.
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type TestPki } from './certs.js';
import { collect, lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';
import { pausablePeer, stuckPeer } from '../src/testing/peers.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki();
});
afterEach(stopAll);

/** A frame whose payload is filled with its index & 0xff (what pausablePeer checks). */
const frame = (i: number, size = 64 * 1024): Buffer => encode(Buffer.alloc(size, i & 0xff));

describe('pause / resume', () => {
  it('stops delivering while paused, without a read timeout inside a message, and delivers everything in order after resume', async () => {
    const e = lpEngine({ defaultProfile: { msgReadTimeout: 0.2 } }, lpSpec({ maxMsgChunks: 0 }));
    const l = await e.listen('lp:127.0.0.1:0');
    const got = collect(e);
    const sock = await rawClient(l);
    sock.write(encode('one'));
    await until(() => got.messages.length === 1);
    const id = got.accepts[0]!.id;
    expect(e.pause(id)).toBe(true);
    expect(e.connection(id)!.paused).toBe(true);
    const two = encode('two');
    // half a message, then the rest while paused: nothing is read, the deadline does not run
    sock.write(two.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 50));
    sock.write(Buffer.concat([two.subarray(3), encode('three')]));
    // several sweeps (20 ms) and read-timeout periods pass while paused
    const start = Date.now();
    await until(() => Date.now() - start > 600, 5000, 'time to pass');
    expect(got.messages.length).toBe(1);
    expect(got.closes).toEqual([]);
    expect(e.resume(id)).toBe(true);
    await until(() => got.messages.length === 3);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(['one', 'two', 'three']);
    expect(e.connection(id)!.paused).toBe(false);
    expect(e.pause(12345)).toBe(false);
    sock.destroy();
  });
});

describe('drained', () => {
  it('resolves once a peer that never read starts reading and the queue falls to the mark; rejects on close', async () => {
    const e = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 0, localWriteTimeout: 100_000 }));
    const peer = await pausablePeer();
    const c = (await e.send('lp', peer.address, frame(0)))!;
    let i = 1;
    while (e.connection(c.id)!.queuedBytes < 1024 * 1024 && i < 2000) e.write(c.id, frame(i++));
    expect(e.connection(c.id)!.queuedBytes).toBeGreaterThanOrEqual(1024 * 1024);
    let resolved = false;
    const done = e.drained(c.id, 128 * 1024).then((x) => ((resolved = true), x));
    await expect(e.drained(c.id, 0.5 * 1024 * 1024 * 1024)).resolves.toMatchObject({ id: c.id }); // already below: at once
    await new Promise((r) => setTimeout(r, 100));
    expect(resolved).toBe(false);
    peer.resume();
    const info = await done;
    expect(info.queuedBytes).toBeLessThanOrEqual(128 * 1024);
    await until(() => peer.frames() === i, 10_000, 'every frame');
    expect(peer.inOrder()).toBe(true);
    // a waiter on a connection that closes is rejected
    peer.pause();
    while (e.connection(c.id)!.queuedBytes < 512 * 1024) e.write(c.id, frame(i++));
    const rejected = e.drained(c.id).then(
      () => null,
      (err: unknown) => err,
    );
    e.close(c.id);
    expect(await rejected).toMatchObject({ code: 'ERR_CONN_CLOSED' });
    await expect(e.drained(c.id)).rejects.toMatchObject({ code: 'ERR_CONN_NOT_FOUND' });
    await peer.close();
  });

  it('works over TLS too', async () => {
    const server = lpEngine({ tlsHandshakeTimeout: 5000, tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false, verifyCert: false }] }, lpSpec({ name: 'lps', transport: 'tls' }, { maxPostponedChunks: 0, localWriteTimeout: 100_000 }));
    const l = await server.listen('lps:127.0.0.1:0');
    const accepted = waitFor(server, 'accept');
    const sock = tlsConnect({ host: '127.0.0.1', port: l.address.port, rejectUnauthorized: false });
    const conn = await accepted;
    sock.pause();
    let n = 0;
    while (server.connection(conn.id)!.queuedBytes < 1024 * 1024 && n < 2000) server.write(conn.id, frame(n++));
    const done = server.drained(conn.id, 0);
    let got = 0;
    sock.on('data', (d: Buffer) => (got += d.length));
    sock.resume();
    await done;
    expect(server.connection(conn.id)!.queuedBytes).toBe(0);
    await until(() => got === n * (4 + 64 * 1024), 10_000, 'every byte');
    sock.destroy();
  });
});

describe('maxQueuedBytes', () => {
  it('closes a connection whose queue holds maxQueuedBytes when one more chunk comes (ERR_CONN_QUEUE_FULL)', async () => {
    const e = lpEngine({}, lpSpec({}, { async: true, maxPostponedChunks: 0, localWriteTimeout: 100_000, maxQueuedBytes: 512 * 1024 }));
    const peer = await stuckPeer();
    const c = (await e.send('lp', peer.address, frame(0)))!;
    const closed = waitFor(e, 'close', (ev) => ev.conn.id === c.id);
    let err: unknown;
    let most = 0;
    for (let i = 1; i < 4000 && err === undefined; i++) {
      try {
        e.write(c.id, frame(i));
        most = Math.max(most, e.connection(c.id)?.queuedBytes ?? 0);
      } catch (x) {
        err = x;
      }
    }
    expect(err).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL', name: 'LimitError' });
    expect((err as Error).message).toContain('maxQueuedBytes');
    // the queue never grew past the bound by more than the chunk that reached it
    expect(most).toBeLessThan(512 * 1024 + 4 + 64 * 1024);
    expect((await closed).reason).toBe('Write queue full');
    await peer.close();
  });

  it('is validated at registration', () => {
    const e = lpEngine();
    expect(() => e.registerProtocol(lpSpec({ name: 'bad' }, { maxQueuedBytes: -1 }))).toThrow(/maxQueuedBytes/);
  });
});

describe('a relay with flow control', () => {
  it('pauses its inbound side while the outbound queue is above the mark: bounded queue, nothing lost, in order', async () => {
    const HIGH = 256 * 1024;
    const LOW = 64 * 1024;
    const relay = lpEngine({}, lpSpec({ maxMsgChunks: 0 }, { async: true, maxPostponedChunks: 0, localWriteTimeout: 100_000, maxQueuedBytes: 4 * 1024 * 1024 }));
    const l = await relay.listen('lp:127.0.0.1:0');
    const peer = await pausablePeer(); // never reads until resumed
    let out: number | undefined;
    let most = 0;
    let pauses = 0;
    relay.on('message', (ev) => {
      if (!ev.conn.accepted) return;
      const bytes = encode(ev.message as Buffer);
      if (out === undefined) {
        void relay.send('lp', peer.address, bytes).then((c) => (out = c!.id));
        return;
      }
      relay.write(out, bytes);
      const q = relay.connection(out)!.queuedBytes;
      most = Math.max(most, q);
      if (q > HIGH && !ev.conn.paused) {
        pauses++;
        relay.pause(ev.conn.id);
        void relay.drained(out, LOW).then(() => relay.resume(ev.conn.id));
      }
    });
    const sender = await rawClient(l);
    const N = 400; // 400 x 16 KiB = 6.4 MiB, more than the 4 MiB bound
    let i = 0;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (i < N) if (!sender.write(frame(i++, 16 * 1024))) return void sender.once('drain', pump);
        resolve();
      };
      pump();
      // the peer starts reading once the relay had to pause its inbound side
      void until(() => pauses > 0, 10_000, 'a pause').then(() => peer.resume());
    });
    await until(() => peer.frames() === N, 20_000, 'every frame relayed');
    expect(peer.inOrder()).toBe(true);
    expect(pauses).toBeGreaterThan(0);
    // the queue stayed near the mark (one frame of slack per read batch), far under the bound
    expect(most).toBeLessThan(2 * 1024 * 1024);
    sender.destroy();
    await peer.close();
  });
});
