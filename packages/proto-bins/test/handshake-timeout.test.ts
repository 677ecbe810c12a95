// bins_handshake_timeout as x-server applies it: the modparam goes through proto_bins's schema
// and descriptor (validateParams, protocols()) onto an engine whose own TLS handshake timeout is
// a minute, so only the module's value can close a silent peer in time. Both sides: a peer that
// connects to a bins listener and never says a word, and a "server" that accepts the module's
// own connection and never answers its ClientHello.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateParams, type Engine } from '@x/core-conn';
import { createTestEngine, rawConnect, waitForEvent } from '@x/core-conn/testing';
import { attachBin, BinBuilder, protoBinsModule, type ProtoBinsParams } from '../src/index.js';
import { makePki, nodeDomains, type BinsPki } from './certs.js';

let pki: BinsPki;
beforeAll(async () => {
  pki = await makePki();
});

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** an engine with proto_bins registered from these modparams (as x-server does), its TLS handshake default at 60 s */
function binsFromModparams(modparams: Record<string, number>): Engine {
  const raw = new Map(Object.entries(modparams).map(([k, v]) => [k, [{ value: v, where: `x.cfg:${k}` }]]));
  const params = validateParams<ProtoBinsParams>('proto_bins', protoBinsModule.params, raw);
  const engine = createTestEngine(protoBinsModule.protocols!(params), { tlsDomains: nodeDomains(pki.node1, pki.ca), tlsHandshakeTimeout: 60_000 });
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  return engine;
}

describe('bins_handshake_timeout through the proto_bins module', () => {
  it.each([250, 900])('server side: a peer that never starts its handshake is closed after %i ms', async (ms) => {
    const engine = binsFromModparams({ bins_handshake_timeout: ms });
    const l = await engine.listen('bins:127.0.0.1:0');
    const t0 = performance.now();
    const silent: Socket = await rawConnect(l);
    cleanup.push(() => silent.destroy());
    const port = silent.localPort;
    const ev = await waitForEvent(engine, 'close', (e) => e.conn.remote.port === port, 15_000);
    const took = performance.now() - t0;
    expect(ev.reason).toBe('TLS handshake failed');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT', message: `TLS handshake not done within ${ms} ms` });
    expect(took).toBeGreaterThanOrEqual(ms - 15);
  });

  it('client side: a node that accepts the module\'s connection and never answers is dropped after bins_handshake_timeout', async () => {
    const held: Socket[] = [];
    const closedAt: number[] = [];
    const mute: Server = createServer((s) => {
      held.push(s);
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(performance.now()));
      s.resume(); // reads the ClientHello, answers nothing
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => (held.forEach((s) => s.destroy()), mute.close(() => r()))));
    const port = (mute.address() as { port: number }).port;
    const engine = binsFromModparams({ bins_handshake_timeout: 400, bins_async_local_connect_timeout: 5000 });
    const bin = attachBin(engine);
    cleanup.push(() => bin.close());
    const closed = waitForEvent(engine, 'close', (e) => e.conn.remote.port === port, 15_000);
    const t0 = performance.now();
    const sent = bin.send(new BinBuilder('test-cap', 1).pushInt(1).build(), `bins:127.0.0.1:${port}`);
    // the send itself fails with the reason (OpenSIPS: the packet is lost, the connection closed)
    await expect(sent).rejects.toMatchObject({ code: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT' });
    const ev = await closed;
    expect(ev.reason).toBe('TLS handshake failed');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT', message: 'TLS handshake not done within 400 ms' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(385);
    // the mute node sees its side closed too
    await new Promise<void>((r) => (held.length && held[0]!.destroyed ? r() : held[0]!.once('close', () => r())));
    expect(closedAt[0]! - t0).toBeGreaterThanOrEqual(385);
  });
});
