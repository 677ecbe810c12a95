// Each proto_hep modparam changes what the listener or a sender does (issue 5: "all 8 parameters
// with the documented defaults"). Peers are on 127.0.0.1: one that never reads (so writes queue
// up), and one whose accept queue is full (so a connect hangs).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '@x/test-peers';
import { afterEach, describe, expect, it } from 'vitest';
import { validateParams, type CloseEvent, type Engine, type EngineOptions } from '@x/core-conn';
import { createTestEngine, rawConnect, stuckPeer as stuck, waitForEvent, waitUntil } from '@x/core-conn/testing';
import { attachHep, decode, hepTcpSpec, hepUdpSpec, packHep, protoHepParamSchema, PROTO_HEP_DEFAULTS, type HepApi, type ProtoHepParams } from '../src/index.js';
import { RANGE } from './interop/helpers.js';

let engine: Engine | undefined;
let hep: HepApi | undefined;
let child: ChildProcess | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  if (child?.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  hep?.close();
  hep = undefined;
  await engine?.shutdown({ deadlineMs: 100 });
  engine = undefined;
});

function setup(params: Partial<ProtoHepParams>, opts: EngineOptions = {}): { e: Engine; p: ProtoHepParams } {
  const p = { ...PROTO_HEP_DEFAULTS, ...params };
  engine = createTestEngine([hepUdpSpec(p) as never, hepTcpSpec(p) as never], opts);
  hep = attachHep(engine, p);
  return { e: engine, p };
}

const from = { host: '127.0.0.1', port: 5060 };
const to = { host: '127.0.0.1', port: 5070 };
/** the largest HEPv3 packet there is: 65535 bytes */
const big = (() => {
  const empty = packHep(from, to, 'udp', '', { timestamp: { sec: 1, usec: 2 } }).length;
  return packHep(from, to, 'udp', Buffer.alloc(65535 - empty, 0x41), { timestamp: { sec: 1, usec: 2 } });
})();

/** A TCP collector that accepts and never reads (closed after the test). */
async function stuckPeer(): Promise<number> {
  const peer = await stuck();
  cleanups.push(() => peer.close());
  return peer.port;
}

/** A listener in a child process that never accepts, its backlog full: connects to it hang. */
async function blackhole(): Promise<number> {
  const code = `const s = require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
    process.stdout.write(String(s.address().port) + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 8000));
  });`;
  child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child!.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child!.once('exit', () => reject(new Error('blackhole exited')));
  });
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
  }
  await new Promise((r) => setTimeout(r, 100));
  return port;
}

/** Sends `big` packets to a stuck collector until one is refused or the connection closes. */
async function flood(e: Engine, port: number, max: number): Promise<{ failure: unknown; maxQueued: number; sent: number; close: CloseEvent }> {
  const closed = waitForEvent(e, 'close', (ev: CloseEvent) => ev.conn.remote.port === port, 15_000);
  let isClosed = false;
  void closed.then(() => (isClosed = true), () => undefined);
  let failure: unknown;
  let maxQueued = 0;
  let sent = 0;
  for (let i = 0; i < max && failure === undefined && !isClosed; i++) {
    try {
      const c = await e.send('hep_tcp', { host: '127.0.0.1', port }, big);
      maxQueued = Math.max(maxQueued, c!.queuedChunks);
      sent++;
    } catch (err) {
      failure = err;
    }
    await new Promise((r) => setImmediate(r));
  }
  return { failure, maxQueued, sent, close: await closed };
}

describe('proto_hep params: defaults and validation', () => {
  const v = (pairs: [string, number | string][]) => {
    const m = new Map<string, { value: string | number }[]>();
    for (const [k, x] of pairs) m.set(k, [...(m.get(k) ?? []), { value: x }]);
    return validateParams<ProtoHepParams>('proto_hep', protoHepParamSchema, m);
  };
  it('the 8 documented parameters and their defaults', () => {
    expect(v([])).toMatchObject({
      hep_port: 5656, hep_send_timeout: 100, hep_max_msg_chunks: 32, hep_async: true, hep_async_max_postponed_chunks: 32,
      hep_capture_id: 1, hep_async_local_connect_timeout: 100, hep_async_local_write_timeout: 10,
    });
    expect(hepTcpSpec().write).toEqual({ async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 });
    expect(hepTcpSpec().maxMsgChunks).toBe(32);
    expect([hepUdpSpec().defaultPort, hepTcpSpec().defaultPort]).toEqual([5656, 5656]);
  });
  it('hep_capture_id is 32-bit as in OpenSIPS (which sends 70000 in HEPv3): 0, 70000 and 2^32-1 pass; -1, 2^32, 1.5 and text are refused', () => {
    expect(v([['hep_capture_id', 0]]).hep_capture_id).toBe(0);
    expect(v([['hep_capture_id', 70000]]).hep_capture_id).toBe(70000);
    expect(v([['hep_capture_id', 4294967295]]).hep_capture_id).toBe(4294967295);
    for (const bad of [-1, 4294967296, 1.5, 'abc']) expect(() => v([['hep_capture_id', bad]]), String(bad)).toThrow(/hep_capture_id/);
  });
  it('hep_capture_id 70000: HEPv3 carries 70000, the 16-bit v2 header its low 16 bits (4464), as OpenSIPS', () => {
    const from = { host: '127.0.0.1', port: 5060 };
    const to = { host: '127.0.0.2', port: 5061 };
    expect(decode(packHep(from, to, 'tcp', 'x', { version: 3, captureId: 70000 })).captureId).toBe(70000);
    expect(decode(packHep(from, to, 'tcp', 'x', { version: 2, captureId: 70000 })).captureId).toBe(70000 & 0xffff);
  });
  it('out-of-range values of the other parameters are refused by name', () => {
    for (const [k, bad] of [
      ['hep_port', 0], ['hep_port', 65536], ['hep_send_timeout', 0], ['hep_max_msg_chunks', -1], ['hep_async', 'maybe'],
      ['hep_async_max_postponed_chunks', -1], ['hep_async_local_connect_timeout', 0], ['hep_async_local_write_timeout', 0],
    ] as const) {
      expect(() => v([[k, bad]]), `${k}=${bad}`).toThrow(new RegExp(k));
    }
  });
});

describe('proto_hep params change behaviour', () => {
  it('hep_port: a socket spec without a port listens on it (udp and tcp)', async () => {
    const port = await freePort(RANGE, 'both');
    const { e } = setup({ hep_port: port });
    const u = await e.listen('hep_udp:127.0.0.1');
    const t = await e.listen('hep_tcp:127.0.0.1');
    expect([u.address.port, t.address.port]).toEqual([port, port]);
  });

  it('hep_capture_id: what packHep and every hep_id sender write', async () => {
    const { e } = setup({ hep_capture_id: 4242 });
    const l = await e.listen('hep_udp:127.0.0.1:0');
    const got: number[] = [];
    hep!.registerHepCallback((r) => void got.push(r.packet.captureId!));
    for (const version of [2, 3] as const) {
      const s = hep!.addDestination(`[v${version}] 127.0.0.1:${l.address.port}; transport=udp; version=${version}`);
      s.send(hep!.packHep(from, to, 'udp', 'OPTIONS sip:a@b SIP/2.0\r\n\r\n', { version }));
    }
    await waitUntil(() => got.length === 2, 3000, 'two packets');
    expect(got).toEqual([4242, 4242]);
  });

  it('hep_max_msg_chunks: 0 lets a slow (40 reads) packet through, 8 closes that connection', async () => {
    const pkt = packHep(from, to, 'tcp', 'OPTIONS sip:slow@b SIP/2.0\r\n\r\n');
    for (const limit of [0, 8]) {
      const { e } = setup({ hep_max_msg_chunks: limit });
      const l = await e.listen('hep_tcp:127.0.0.1:0');
      const got: string[] = [];
      hep!.registerHepCallback((r) => void got.push(r.payload.toString()));
      const s = await rawConnect(l);
      cleanups.push(() => s.destroy());
      s.setNoDelay(true);
      const closed = waitForEvent(e, 'close', (ev: CloseEvent) => ev.conn.remote.port === s.localPort, 5000);
      let isClosed = false;
      void closed.then(() => (isClosed = true), () => undefined);
      const step = Math.ceil(pkt.length / 40);
      for (let i = 0; i < pkt.length && !isClosed; i += step) {
        s.write(pkt.subarray(i, i + step));
        await new Promise((r) => setTimeout(r, 3));
      }
      if (limit === 0) {
        await waitUntil(() => got.length === 1, 3000, 'the slow packet');
        expect(e.connections('hep_tcp')).toHaveLength(1);
      } else {
        expect(((await closed).error as { code?: string }).code).toBe('ERR_CONN_MAX_CHUNKS');
        expect(got).toHaveLength(0);
      }
      s.destroy();
      hep!.close();
      hep = undefined;
      await e.shutdown({ deadlineMs: 100 });
      engine = undefined;
    }
  });

  it('hep_async=1, hep_async_max_postponed_chunks: a collector that stops reading holds at most that many packets, then is closed', async () => {
    const { e } = setup({ hep_async_max_postponed_chunks: 3, hep_async_local_write_timeout: 60_000 });
    const r = await flood(e, await stuckPeer(), 2000);
    expect(r.failure).toMatchObject({ code: 'ERR_CONN_QUEUE_FULL' });
    expect(r.maxQueued).toBe(3);
    expect(r.close.reason).toBe('Write queue full');
  });

  it('hep_async_local_write_timeout: a queue that makes no progress past it is postponed, not closed; the lifetime closes a collector that never reads', async () => {
    const { e } = setup({ hep_async_max_postponed_chunks: 100_000, hep_async_local_write_timeout: 50 }, { defaultProfile: { conLifetime: 1 } });
    const r = await flood(e, await stuckPeer(), 300);
    expect(r.failure).toBeUndefined(); // no send refused: no queue limit, no write timeout
    expect(e.stats.get('hep_tcp:postponed_writes')!.value()).toBeGreaterThan(0);
    expect(r.close.reason).toBe('Timeout on no traffic');
    expect(r.close.error).toMatchObject({ code: 'ERR_CONN_LIFETIME' });
  });

  it('hep_async=0, hep_send_timeout: a write that cannot drain fails the send and closes the connection', async () => {
    const { e } = setup({ hep_async: false, hep_send_timeout: 80 });
    const r = await flood(e, await stuckPeer(), 2000);
    expect(r.sent).toBeGreaterThan(0);
    expect(r.failure).toMatchObject({ code: 'ERR_CONN_WRITE_TIMEOUT' });
    expect(r.close.reason).toBe('Write timeout');
  });

  it('hep_async_local_connect_timeout: bounds an outbound connect (the profile would wait 60 s)', async () => {
    const port = await blackhole();
    const settled = async (ms: number): Promise<unknown> => {
      const r = await Promise.race([
        e.send('hep_tcp', { host: '127.0.0.1', port }, big).then(() => 'sent', (err: unknown) => err),
        new Promise((r) => setTimeout(() => r('pending'), ms)),
      ]);
      return r;
    };
    let { e } = setup({ hep_async_local_connect_timeout: 30_000 }, { defaultProfile: { connectTimeout: 60_000 } });
    expect(await settled(400)).toBe('pending');
    hep!.close();
    hep = undefined;
    await e.shutdown({ deadlineMs: 0 });
    ({ e } = setup({ hep_async_local_connect_timeout: 120 }, { defaultProfile: { connectTimeout: 60_000 } }));
    expect(await settled(10_000)).toMatchObject({ code: 'ERR_CONN_CONNECT_TIMEOUT' });
    expect(e.connections('hep_tcp')).toHaveLength(0);
  });

  it('homer5_on / homer5_delim: HOMER5 joins the values, HOMER6 prints cJSON; hepVersion() follows', async () => {
    const parts = [['Protocol', 'TCP'], ['Event', 'ACCEPTED']] as const;
    setup({ homer5_delim: '|' });
    expect([hep!.hepVersion(), hep!.buildPayload(parts).toString()]).toEqual([5, 'TCP|ACCEPTED']);
    hep!.close();
    setup({ homer5_on: false });
    expect([hep!.hepVersion(), hep!.buildPayload(parts).toString()]).toEqual([6, '{\n\t"Protocol":\t"TCP",\n\t"Event":\t"ACCEPTED"\n}']);
  });
});

describe('checkListeners (OpenSIPS refuses to start proto_hep without a HEP listener)', () => {
  const code = (fn: () => void): string => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  it('no hep socket at all, or a udp hep_id without hep_udp: ERR_HEP_NO_LISTENER', async () => {
    const { e } = setup({ hep_id: ['[u] 127.0.0.1:9999; transport=udp', '[t] 127.0.0.1:9999; transport=tcp'] });
    expect(code(() => hep!.checkListeners())).toBe('ERR_HEP_NO_LISTENER');
    await e.listen('hep_tcp:127.0.0.1:0');
    // [t] could send now, [u] still has no socket to send from
    expect(code(() => hep!.checkListeners())).toBe('ERR_HEP_NO_LISTENER');
    await e.listen('hep_udp:127.0.0.1:0');
    expect(code(() => hep!.checkListeners())).toBe('ok');
  });
  it('a tcp hep_id needs no hep_tcp socket; a receive-only setup needs one listener', async () => {
    const { e } = setup({ hep_id: ['[t] 127.0.0.1:9999'] });
    await e.listen('hep_udp:127.0.0.1:0');
    expect(code(() => hep!.checkListeners())).toBe('ok');
  });
});
