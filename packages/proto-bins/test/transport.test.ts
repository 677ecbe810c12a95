// bin and bins on real sockets (127.0.0.1, ephemeral ports): capability dispatch, connection
// reuse, TLS through the engine's domains (self-signed CA), and hostile peers that each lose
// their own connection while a good peer loses nothing.
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloseEvent, Engine, EngineOptions } from '@x/core-conn';
import { createTestEngine, rawConnect, waitForEvent, waitUntil } from '@x/core-conn/testing';
import { attachBin, BinBuilder, binSpec, binsSpec, decodeGenericMsg, encodeGenericMsg, type BinApi, type BinPacket, type BinReceived } from '../src/index.js';
import { makePki, nodeDomains, type BinsPki } from './certs.js';

let pki: BinsPki;
beforeAll(async () => {
  pki = await makePki();
});

const engines: Engine[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(engines.splice(0).map((e) => e.shutdown({ deadlineMs: 200 })));
});

function node(proto: 'bin' | 'bins', opts: EngineOptions = {}): { engine: Engine; bin: BinApi; got: { p: BinPacket; rcv: BinReceived }[]; closes: CloseEvent[] } {
  const engine = createTestEngine([proto === 'bin' ? binSpec() : binsSpec()] as never, opts);
  engines.push(engine);
  const bin = attachBin(engine);
  const got: { p: BinPacket; rcv: BinReceived }[] = [];
  bin.registerCapability('test-cap', (p, _t, rcv) => got.push({ p, rcv }));
  const closes: CloseEvent[] = [];
  engine.on('close', (ev) => closes.push(ev));
  return { engine, bin, got, closes };
}

const pkt = (n: number, pad = 0) => new BinBuilder('test-cap', 7, 1).pushInt(n).pushStr('x'.repeat(pad)).build();

function raw(port: number): Promise<Socket> {
  return rawConnect({ address: { host: '127.0.0.1', port } } as never).then((s) => (sockets.push(s), s));
}

describe('bin (BIN over TCP)', () => {
  it('delivers packets to the capability handler with type and receive info; unknown capabilities are counted and ignored', async () => {
    const b = node('bin');
    const l = await b.engine.listen('bin:127.0.0.1:0');
    const a = node('bin');
    const c1 = await a.bin.send(pkt(1), `bin:127.0.0.1:${l.address.port}`);
    await a.bin.send(new BinBuilder('nobody', 1).pushInt(5).build(), { proto: 'bin', host: '127.0.0.1', port: l.address.port });
    const c2 = await a.bin.send(pkt(2), `bin:127.0.0.1:${l.address.port}`);
    expect(c2!.id).toBe(c1!.id); // reused, as OpenSIPS does by destination
    await waitUntil(() => b.got.length === 2 && b.bin.counts().unknownCapability === 1);
    expect(b.got.map((g) => g.p.body.readInt32LE(0))).toEqual([1, 2]);
    expect(b.got[0]!.p.type).toBe(7);
    expect(b.got[0]!.rcv).toMatchObject({ proto: 'bin', local: l.address, remote: { host: '127.0.0.1' } });
    expect(b.bin.counts()).toMatchObject({ received: 3, unknownCapability: 1, handlerErrors: 0 });
    expect(() => b.bin.registerCapability('test-cap', () => {})).toThrow(expect.objectContaining({ code: 'ERR_BIN_INVALID' }));
  });

  it('a bin: url without a port goes to bin_port; an unloaded proto is refused', async () => {
    const a = node('bin');
    await expect(a.bin.send(pkt(1), 'bins:127.0.0.1:5556')).rejects.toMatchObject({ code: 'ERR_BIN_NODE_INFO' });
    expect(a.engine.protocol('bin')!.defaultPort).toBe(5555);
  });

  it('hostile peers: wrong marker, length 16, length 70000, a dribble past bin_max_msg_chunks, a cut capability: each closes only its own connection', async () => {
    const b = node('bin');
    const l = await b.engine.listen('bin:127.0.0.1:0');
    const good = await raw(l.address.port);
    const sendGood = (from: number, to: number) => {
      for (let i = from; i < to; i++) good.write(pkt(i, i % 50));
    };
    sendGood(0, 10);
    const hostile = async (bytes: Buffer): Promise<CloseEvent> => {
      const s = await raw(l.address.port);
      const local = s.localPort;
      const closed = waitForEvent(b.engine, 'close', (ev) => ev.conn.remote.port === local);
      s.write(bytes);
      return closed;
    };
    const wrongMarker = Buffer.from(pkt(1));
    wrongMarker.write('PACK', 0, 'latin1');
    const len16 = Buffer.from(pkt(1));
    len16.writeUInt32LE(16, 4);
    const len70000 = Buffer.from(pkt(1));
    len70000.writeUInt32LE(70000, 4);
    const evs = [await hostile(wrongMarker), await hostile(len16), await hostile(len70000)];
    expect(evs.map((e) => [e.reason, (e.error as { code?: string }).code])).toEqual([
      ['Protocol error', 'ERR_BIN_MARKER'],
      ['Protocol error', 'ERR_BIN_LENGTH'],
      ['Protocol error', 'ERR_BIN_LENGTH'],
    ]);
    sendGood(10, 20);
    // one byte per read: the 32nd incomplete read closes it
    const dribbler = await raw(l.address.port);
    const dLocal = dribbler.localPort;
    const closed = waitForEvent(b.engine, 'close', (ev) => ev.conn.remote.port === dLocal, 15_000);
    const big = pkt(99, 200);
    let sent = 0;
    let done = false;
    void closed.then(() => (done = true));
    while (!done && sent < big.length) {
      dribbler.write(big.subarray(sent, sent + 1));
      sent++;
      await new Promise((r) => setTimeout(r, 3));
    }
    const ev = await closed;
    expect(ev.reason).toBe('Too many read chunks');
    expect(sent).toBeLessThan(big.length);
    sendGood(20, 30);
    await waitUntil(() => b.got.length === 30, 10_000, '30 good packets');
    expect(b.got.map((g) => g.p.body.readInt32LE(0))).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(b.engine.connections('bin').length).toBe(1);
  });
});

describe('bins (BIN over TLS)', () => {
  it('two nodes with certificates of one CA exchange packets both ways, verified', async () => {
    const n1 = node('bins', { tlsDomains: nodeDomains(pki.node1, pki.ca) });
    const n2 = node('bins', { tlsDomains: nodeDomains(pki.node2, pki.ca) });
    const l1 = await n1.engine.listen('bins:127.0.0.1:0');
    const l2 = await n2.engine.listen('bins:127.0.0.1:0');
    const c = await n1.bin.send(encodeGenericMsg({ reqLike: 1, tag: 't', message: 'hi 2', clusterId: 1, sourceId: 1, destId: 2 }), `bins:127.0.0.1:${l2.address.port}`);
    expect(c!.tls).toMatchObject({ domain: 'cli', authorized: true });
    await n2.bin.send(pkt(5), `bins:127.0.0.1:${l1.address.port}`);
    const gen: BinPacket[] = [];
    n2.bin.registerCapability('clusterer-extra', (p) => gen.push(p));
    await n1.bin.send(encodeGenericMsg({ reqLike: 1, tag: 't', message: 'hi again', clusterId: 1, sourceId: 1, destId: 2 }), `bins:127.0.0.1:${l2.address.port}`);
    await waitUntil(() => n1.got.length === 1 && gen.length === 1);
    expect(decodeGenericMsg(gen[0]!).message).toBe('hi again');
    expect(n1.got[0]!.rcv.proto).toBe('bins');
  });

  it('a client whose CA the server does not trust fails the handshake, and the reason is logged and counted', async () => {
    const n1 = node('bins', { tlsDomains: nodeDomains(pki.node1, pki.ca) });
    const l1 = await n1.engine.listen('bins:127.0.0.1:0');
    const rogue = node('bins', { tlsDomains: nodeDomains(pki.rogue, pki.ca) });
    const closed = waitForEvent(n1.engine, 'close');
    await rogue.bin.send(pkt(1), `bins:127.0.0.1:${l1.address.port}`).catch(() => undefined);
    const ev = await closed;
    expect(ev.reason).toBe('TLS handshake failed');
    expect(ev.error?.message).toMatch(/certificate/i);
    expect(n1.got).toHaveLength(0);
    // and the other way: a client that trusts another CA refuses the server
    const picky = node('bins', { tlsDomains: nodeDomains(pki.node2, pki.rogueCa) });
    await expect(picky.bin.send(pkt(1), `bins:127.0.0.1:${l1.address.port}`)).rejects.toThrow();
  });

  it('a peer that never completes the handshake is closed after the handshake timeout; plaintext BIN to a bins listener is closed', async () => {
    const n1 = node('bins', { tlsDomains: nodeDomains(pki.node1, pki.ca), tlsHandshakeTimeout: 100 });
    const l1 = await n1.engine.listen('bins:127.0.0.1:0');
    const t0 = Date.now();
    const silent = await raw(l1.address.port);
    const sLocal = silent.localPort;
    const ev = await waitForEvent(n1.engine, 'close', (e) => e.conn.remote.port === sLocal);
    expect(ev.reason).toBe('TLS handshake failed');
    expect((ev.error as { code?: string }).code).toBe('ERR_CONN_TLS_HANDSHAKE_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const plain = await raw(l1.address.port);
    const pLocal = plain.localPort;
    const closed = waitForEvent(n1.engine, 'close', (e) => e.conn.remote.port === pLocal);
    plain.write(pkt(1));
    expect((await closed).reason).toBe('TLS handshake failed');
    // a good node still gets through
    const n2 = node('bins', { tlsDomains: nodeDomains(pki.node2, pki.ca) });
    await n2.bin.send(pkt(3), `bins:127.0.0.1:${l1.address.port}`);
    await waitUntil(() => n1.got.length === 1);
  });

  it('a TLS client speaking garbage after a good handshake loses its connection only', async () => {
    const n1 = node('bins', { tlsDomains: nodeDomains(pki.node1, pki.ca) });
    const l1 = await n1.engine.listen('bins:127.0.0.1:0');
    const s = tlsConnect({ host: '127.0.0.1', port: l1.address.port, ca: pki.ca.cert, cert: pki.node2.cert, key: pki.node2.key, servername: 'node1.example' });
    sockets.push(s as unknown as Socket);
    await new Promise<void>((r, j) => (s.once('secureConnect', () => r()), s.once('error', j)));
    s.write(pkt(1));
    await waitUntil(() => n1.got.length === 1);
    const closed = waitForEvent(n1.engine, 'close');
    s.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect((await closed).reason).toBe('Protocol error');
  });
});

