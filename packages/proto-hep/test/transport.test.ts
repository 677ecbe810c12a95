import { createSocket } from 'node:dgram';
import diagnostics_channel from 'node:diagnostics_channel';
import { gzipSync } from 'node:zlib';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry, TapChannels, type CloseEvent, type Engine, type ListenerInfo, type TraceSink } from '@x/core-conn';
import { createTestEngine, rawConnect, waitForEvent, waitUntil } from '@x/core-conn/testing';
import { attachHep, encode, HEP_SCRIPT_SKIP, hepTcpSpec, hepUdpSpec, packHep, PROTO_HEP_DEFAULTS, type HepApi, type HepReceived, type TracePacket } from '../src/index.js';

let engine: Engine | undefined;
let hep: HepApi | undefined;
const sockets: Socket[] = [];
const servers: Server[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
  hep?.close();
  hep = undefined;
  await engine?.shutdown({ deadlineMs: 200 });
  engine = undefined;
});

async function setup(params = {}, sinks?: Map<string, TraceSink<TracePacket>>) {
  const p = { ...PROTO_HEP_DEFAULTS, ...params };
  const stats = createStatsRegistry();
  engine = createTestEngine([hepUdpSpec(p) as never, hepTcpSpec(p) as never], { stats });
  hep = attachHep(engine, p, { stats, sender: { backoffMs: 20, maxBackoffMs: 100 }, ...(sinks ? { registerSink: (s: TraceSink) => void sinks.set(s.name, s as TraceSink<TracePacket>) } : {}) });
  const udp = await engine.listen('hep_udp:127.0.0.1:0');
  const tcp = await engine.listen('hep_tcp:127.0.0.1:0');
  const got: HepReceived[] = [];
  hep.registerHepCallback((r) => {
    got.push(r);
  });
  return { e: engine, hep, udp, tcp, got, stats };
}

const sip = (n: number) => `OPTIONS sip:${n}@127.0.0.1 SIP/2.0\r\nCall-ID: c${n}\r\n\r\n`;
const from = { host: '127.0.0.1', port: 5060 };
const to = { host: '127.0.0.1', port: 15070 };

function udpSend(l: ListenerInfo, datagrams: Buffer[]): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    let n = 0;
    for (const d of datagrams)
      s.send(d, l.address.port, '127.0.0.1', () => {
        if (++n === datagrams.length) {
          s.close();
          resolve();
        }
      });
  });
}

describe('hep_udp listener', () => {
  it.runIf(process.platform === 'linux')('sizes each hep_udp socket to hep_udp_recv_buffer (up to rmem_max) and counts kernel drops in hep_udp:kernel_drops', async () => {
    const { readFileSync } = await import('node:fs');
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const rmemDefault = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
    const asked = Math.min(rmemMax, 1 << 20);
    const { udp, stats } = await setup({ hep_udp_recv_buffer: asked });
    // Linux reports twice what it set aside, and the buffer is only ever raised
    expect(udp.recvBufferSize).toBe(Math.max(rmemDefault, 2 * asked));
    expect(stats.get('hep_udp:kernel_drops')!.value()).toBe(0);
  });

  it('hep_udp_recv_buffer 0 leaves the system default', async () => {
    const { udp, e } = await setup({ hep_udp_recv_buffer: 0 });
    expect(e.protocol('hep_udp')!.recvBufferSize).toBe(0);
    expect(udp.recvBufferSize).toBeGreaterThan(0);
  });

  it('accepts v1, v2 and v3; ignores probes; counts undecodable datagrams without stopping', async () => {
    const { udp, got, hep } = await setup();
    const now = Math.floor(Date.now() / 1000);
    await udpSend(udp, [
      packHep(from, to, 'udp', sip(1), { version: 1 }),
      packHep(from, to, 'udp', sip(2), { version: 2, captureId: 2001 }),
      Buffer.from('short probe'),
      Buffer.from('this is not HEP at all, just text'),
      packHep(from, to, 'tcp', sip(3), { version: 3, captureId: 2001, correlationId: 'c3' }),
    ]);
    await waitUntil(() => got.length === 3, 3000, '3 packets');
    expect(got.map((g) => g.packet.version).sort()).toEqual([1, 2, 3]);
    const v3 = got.find((g) => g.packet.version === 3)!;
    expect(v3).toMatchObject({ proto: 'hep_udp', transport: 'tcp', packet: { captureId: 2001, correlationId: 'c3', srcPort: 5060, dstPort: 15070 } });
    expect(v3.payload.toString()).toBe(sip(3));
    expect(Math.abs(v3.packet.timestamp!.sec - now)).toBeLessThan(5);
    expect(hep.counts()).toMatchObject({ received: 3, probes: 1, ok: 3 });
  });
  it('callbacks run newest first; skip wins; no callback -> counted and dropped', async () => {
    const { udp, hep, got } = await setup();
    const order: string[] = [];
    hep.registerHepCallback(() => {
      order.push('second');
      return -1;
    });
    const off = hep.registerHepCallback(() => {
      order.push('third');
      return HEP_SCRIPT_SKIP;
    });
    await udpSend(udp, [packHep(from, to, 'udp', sip(1))]);
    await waitUntil(() => got.length === 1);
    expect(order).toEqual(['third', 'second']);
    expect(hep.counts()).toMatchObject({ skipped: 1, ok: 0 });
    off();
    await udpSend(udp, [packHep(from, to, 'udp', sip(2))]);
    await waitUntil(() => got.length === 2);
    expect(hep.counts()).toMatchObject({ skipped: 1, ok: 1 });
  });
  it('compressed_payload=1 inflates chunk 0x0010 payloads; 0 leaves them as sent', async () => {
    const { udp, got } = await setup({ compressed_payload: true });
    const z = gzipSync(Buffer.from(sip(9)));
    await udpSend(udp, [packHep(from, to, 'udp', z, { compressed: true }), packHep(from, to, 'udp', Buffer.from('not gzip'), { compressed: true })]);
    await waitUntil(() => hep!.counts().received === 2);
    expect(got).toHaveLength(1);
    expect(got[0]!.packet.compressed).toBe(true);
    expect(got[0]!.packet.payload.equals(z)).toBe(true);
    expect(got[0]!.payload.toString()).toBe(sip(9));
    expect(hep!.counts().dropped).toBe(1);
    hep!.close();
    await engine!.shutdown({ deadlineMs: 100 });
    const off = await setup({ compressed_payload: false });
    await udpSend(off.udp, [packHep(from, to, 'udp', z, { compressed: true })]);
    await waitUntil(() => off.got.length === 1);
    expect(off.got[0]!.packet.compressed).toBe(true);
    expect(off.got[0]!.payload.equals(z)).toBe(true);
  });
  it('a decompression bomb (61 KB of gzip inflating to 63 MB) is dropped at 64 KB of output and counted; good packets keep flowing', async () => {
    const { udp, got, hep, stats } = await setup({ compressed_payload: true });
    const bomb = gzipSync(Buffer.alloc(63 << 20), { level: 9 });
    expect(bomb.length).toBeLessThan(65000); // fits one UDP datagram
    const good = gzipSync(Buffer.from(sip(1)));
    const big = gzipSync(Buffer.alloc(65536, 'a')); // one byte past the limit
    const datagrams = [...Array.from({ length: 15 }, () => packHep(from, to, 'udp', bomb, { compressed: true })), packHep(from, to, 'udp', big, { compressed: true }), packHep(from, to, 'udp', good, { compressed: true })];
    // one at a time: 17 datagrams of 64 KB at once would overflow the socket's receive buffer
    for (const [i, d] of datagrams.entries()) {
      await udpSend(udp, [d]);
      await waitUntil(() => hep.counts().received === i + 1, 10000, `packet ${i + 1}`);
    }
    expect(got.map((g) => g.payload.toString())).toEqual([sip(1)]);
    expect(hep.counts()).toMatchObject({ dropped: 16, inflateDropped: 16 });
    expect(stats.get('proto_hep:hep_inflate_dropped')!.value()).toBe(16);
    expect(stats.get('proto_hep:hep_dropped')!.value()).toBe(16);
  });

  it('maxInflatedBytes: a payload of exactly the limit inflates; the limit is an option', async () => {
    const p = { ...PROTO_HEP_DEFAULTS, compressed_payload: true };
    engine = createTestEngine([hepUdpSpec(p) as never, hepTcpSpec(p) as never]);
    hep = attachHep(engine, p, { maxInflatedBytes: 100 });
    const udp = await engine.listen('hep_udp:127.0.0.1:0');
    const got: string[] = [];
    hep.registerHepCallback((r) => void got.push(r.payload.toString()));
    await udpSend(udp, [packHep(from, to, 'udp', gzipSync(Buffer.alloc(100, 'x')), { compressed: true }), packHep(from, to, 'udp', gzipSync(Buffer.alloc(101, 'y')), { compressed: true })]);
    await waitUntil(() => hep!.counts().received === 2);
    expect(got).toEqual(['x'.repeat(100)]);
    expect(() => attachHep(engine!, p, { maxInflatedBytes: 0 })).toThrow(expect.objectContaining({ name: 'ConfigError', code: 'ERR_INVALID_OPTION' }));
  });

  it('with no callback a packet is counted and dropped', async () => {
    const stats = createStatsRegistry();
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never], { stats });
    hep = attachHep(engine, {}, { stats });
    const udp = await engine.listen('hep_udp:127.0.0.1:0');
    await udpSend(udp, [packHep(from, to, 'udp', sip(1)), packHep(from, to, 'udp', sip(2))]);
    await waitUntil(() => hep!.counts().dropped === 2);
    expect(stats.get('proto_hep:hep_dropped')!.value()).toBe(2);
  });
});

describe('hep_tcp listener (real sockets)', () => {
  it('frames packets split and merged arbitrarily; a bad connection closes, the others keep going', async () => {
    const { e, tcp, got } = await setup();
    const good = await rawConnect(tcp);
    sockets.push(good);
    const stream = Buffer.concat(Array.from({ length: 20 }, (_, i) => packHep(from, to, 'tcp', sip(i), { captureId: 7 })));
    for (let i = 0; i < stream.length; i += 97) good.write(stream.subarray(i, i + 97));
    await waitUntil(() => got.length === 20, 5000, '20 packets');
    expect(got.map((g) => g.payload.toString())).toEqual(Array.from({ length: 20 }, (_, i) => sip(i)));

    const hostile: [string, Buffer][] = [
      ['length 0', Buffer.from('HEP3\x00\x00', 'latin1')],
      ['length 5', Buffer.from('HEP3\x00\x05', 'latin1')],
      ['chunk past end', (() => { const b = packHep(from, to, 'tcp', 'x'); b.writeUInt16BE(0x7fff, 10); return b; })()],
      ['HEPv1', packHep(from, to, 'udp', sip(1), { version: 1 })],
      ['HEPv2', packHep(from, to, 'udp', sip(1), { version: 2 })],
      ['no payload', encode({ version: 3, chunks: [{ vendor: 0, type: 1, data: Buffer.from([2]) }], payload: Buffer.alloc(0) })],
    ];
    for (const [what, bytes] of hostile) {
      const bad = await rawConnect(tcp);
      sockets.push(bad);
      const closed = waitForEvent(e, 'close', (ev: CloseEvent) => ev.conn.remote.port === bad.localPort, 3000);
      bad.write(bytes);
      const ev = await closed;
      expect(ev.reason, what).toBe('Protocol error');
      expect((ev.error as { code?: string } | undefined)?.code, what).toMatch(/^ERR_HEP_/);
      // the good connection still works
      const before = got.length;
      good.write(packHep(from, to, 'tcp', sip(100 + before)));
      await waitUntil(() => got.length === before + 1, 3000, `good connection after ${what}`);
    }
    expect(got).toHaveLength(20 + hostile.length);
  });
  it('a peer announcing 65535 bytes then stalling does not hold up other connections', async () => {
    const { tcp, got } = await setup();
    const bad = await rawConnect(tcp);
    sockets.push(bad);
    bad.write(Buffer.from('HEP3\xff\xff', 'latin1'));
    const good = await rawConnect(tcp);
    sockets.push(good);
    good.write(packHep(from, to, 'tcp', sip(1)));
    await waitUntil(() => got.length === 1);
  });
  it('a 1-byte-at-a-time peer passes hep_max_msg_chunks and is closed', async () => {
    const { e, tcp } = await setup({ hep_max_msg_chunks: 8 });
    const bad = await rawConnect(tcp);
    sockets.push(bad);
    bad.setNoDelay(true);
    const closed = waitForEvent(e, 'close', (ev: CloseEvent) => ev.conn.remote.port === bad.localPort, 5000);
    const b = packHep(from, to, 'tcp', sip(1));
    for (let i = 0; i < 40 && !bad.destroyed; i++) {
      bad.write(b.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 5));
    }
    const ev = await closed;
    expect((ev.error as { code?: string } | undefined)?.code).toBe('ERR_CONN_MAX_CHUNKS');
  });
});

describe('HepSender', () => {
  it('hep_id destinations: udp v2 and tcp v3 reach a proto-hep listener', async () => {
    const { tcp, udp, got, hep, stats } = await setup();
    const su = hep.addDestination(`[u] 127.0.0.1:${udp.address.port}; transport=udp; version=2`);
    const st = hep.addDestination(`[t] 127.0.0.1:${tcp.address.port}`);
    su.send(packHep(from, to, 'udp', sip(1), { version: 2 }));
    st.send(packHep(from, to, 'udp', sip(2)));
    await waitUntil(() => got.length === 2);
    expect(su.stats()).toMatchObject({ sent: 1, dropped: 0, queued: 0 });
    expect(st.stats()).toMatchObject({ sent: 1, dropped: 0, queued: 0 });
    expect(stats.get('proto_hep:hep_sent')!.value()).toBe(2);
  });
  it('trace sinks: the time of a packet is its timestamp, else its at (ms since the epoch, µs kept), over v3 UDP and TCP and through packHep (v2)', async () => {
    const sinks = new Map<string, TraceSink<TracePacket>>();
    const { tcp, udp, got, hep } = await setup({}, sinks);
    hep.addDestination(`[u3] 127.0.0.1:${udp.address.port}; transport=udp`);
    hep.addDestination(`[t3] 127.0.0.1:${tcp.address.port}`);
    hep.addDestination(`[u2] 127.0.0.1:${udp.address.port}; transport=udp; version=2`);
    const tp = (n: number, extra: Partial<TracePacket>): TracePacket => ({ protoType: 1, ipProto: 6, src: from, dst: to, payload: Buffer.from(sip(n)), correlationId: `c${n}`, ...extra });
    sinks.get('u3')!.send(tp(1, { at: 1_700_000_000_123.5 }));
    sinks.get('t3')!.send(tp(2, { at: 1_700_000_001_999.75 }));
    sinks.get('u2')!.send(tp(3, { at: 1_700_000_002_000.25 }));
    sinks.get('u3')!.send(tp(4, { at: 1_700_000_003_000, timestamp: { sec: 42, usec: 7 } }));
    await waitUntil(() => got.length === 4);
    const ts = Object.fromEntries(got.map((r) => [r.payload.toString().split(' ')[1], r.packet.timestamp]));
    expect(ts).toEqual({
      'sip:1@127.0.0.1': { sec: 1_700_000_000, usec: 123_500 },
      'sip:2@127.0.0.1': { sec: 1_700_000_001, usec: 999_750 },
      'sip:3@127.0.0.1': { sec: 1_700_000_002, usec: 250 },
      'sip:4@127.0.0.1': { sec: 42, usec: 7 },
    });
  });
  it('udp destinations send from the hep_udp listener: one datagram per packet, the bytes sent, in order; HEP traffic is not on the tap', async () => {
    const sinks = new Map<string, TraceSink<TracePacket>>();
    const { udp, stats, hep } = await setup({}, sinks);
    const tapped: string[] = [];
    const subs = Object.values(TapChannels).map((name) => {
      const fn = (m: unknown): void => void tapped.push(`${name} ${(m as { proto: string }).proto}`);
      diagnostics_channel.subscribe(name, fn);
      return () => diagnostics_channel.unsubscribe(name, fn);
    });
    const col = createSocket('udp4');
    const rx: { data: Buffer; port: number }[] = [];
    col.on('message', (data, r) => rx.push({ data, port: r.port }));
    await new Promise<void>((r) => col.bind(0, '127.0.0.1', r));
    try {
      const s = hep.addDestination(`[u] 127.0.0.1:${col.address().port}; transport=udp`);
      const sent: Buffer[] = [];
      s.on('sent', (d: Buffer) => sent.push(Buffer.from(d)));
      const N = 60;
      for (let i = 0; i < N; i++) {
        if (i % 3 === 0) s.send(packHep(from, to, 'udp', sip(i)));
        else sinks.get('u')!.send({ protoType: 1, src: from, dst: to, ipProto: 17, payload: Buffer.from(sip(i)), correlationId: `c${i}`, timestamp: { sec: 1, usec: i } });
      }
      await waitUntil(() => rx.length === N && s.stats().sent === N, 5000, `${N} datagrams`);
      expect(rx.map((r) => r.data)).toEqual(sent);
      expect(rx.every((r) => r.port === udp.address.port)).toBe(true);
      expect(rx.map((r) => /Call-ID: c(\d+)/.exec(r.data.toString('latin1'))![1])).toEqual(Array.from({ length: N }, (_, i) => String(i)));
      expect(s.stats()).toMatchObject({ sent: N, dropped: 0, queued: 0, failures: 0 });
      expect(stats.get('hep_udp:snd_msgs')!.value()).toBe(N);
      // the listener receives HEP too: none of it is published either
      await udpSend(udp, [packHep(from, to, 'udp', sip(99))]);
      await waitUntil(() => stats.get('hep_udp:rcv_msgs')!.value() === 1);
      expect(tapped.filter((t) => / hep_/.test(t))).toEqual([]);
    } finally {
      for (const u of subs) u();
      col.close();
    }
  });
  it('a udp datagram the socket refuses is a failure: retried, then dropped and counted once hep_max_retries is reached', async () => {
    const stats = createStatsRegistry();
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never], { stats });
    await engine.listen('hep_udp:127.0.0.1:0');
    hep = attachHep(engine, { hep_max_retries: 2, hep_retry_cooldown: 60 }, { stats, sender: { backoffMs: 10 } });
    // port 0: node:dgram refuses it (ERR_SOCKET_BAD_PORT), as a socket error
    const s = hep.addDestination({ name: 'z', host: '127.0.0.1', port: 0, transport: 'udp', version: 3 });
    s.send(packHep(from, to, 'udp', sip(1)));
    s.send(packHep(from, to, 'udp', sip(2)));
    await waitUntil(() => s.stats().coolingDown, 3000, 'the cooldown');
    expect(s.stats()).toMatchObject({ sent: 0, dropped: 2, queued: 0 });
    expect(stats.get('proto_hep:hep_send_dropped')!.value()).toBe(2);
    expect(stats.get('hep_udp:snd_msgs')!.value()).toBe(0);
  });
  it('bounded queue: drops past the bound and counts them (sender stats, events, registry stats)', () => {
    const stats = createStatsRegistry();
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never], { stats });
    hep = attachHep(engine, {}, { stats, sender: { maxQueue: 5, backoffMs: 1000 } });
    // nothing listens on port 1: the first send fails and stays queued while backing off
    const s = hep.addDestination('[q] 127.0.0.1:1; transport=tcp');
    const drops: string[] = [];
    s.on('drop', (_d: Buffer, why: string) => drops.push(why));
    let accepted = 0;
    for (let i = 0; i < 12; i++) if (s.send(packHep(from, to, 'udp', sip(i)))) accepted++;
    expect(accepted).toBe(5);
    expect(s.stats()).toMatchObject({ queued: 5, dropped: 7 });
    expect(drops).toEqual(Array(7).fill('queue full'));
    expect(stats.get('proto_hep:hep_send_dropped')!.value()).toBe(7);
    expect(stats.get('proto_hep:hep_send_queued')!.value()).toBe(5);
    s.close();
    expect(stats.get('proto_hep:hep_send_dropped')!.value()).toBe(12);
    expect(stats.get('proto_hep:hep_send_queued')!.value()).toBe(0);
  });
  it('reconnects with back-off to a restarted TCP collector and loses nothing queued', async () => {
    const stats = createStatsRegistry();
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never], { stats });
    hep = attachHep(engine, { hep_max_retries: 50 }, { stats, sender: { backoffMs: 20, maxBackoffMs: 100 } });
    await engine.listen('hep_tcp:127.0.0.1:0');
    const received: Buffer[] = [];
    const accepted: Socket[] = [];
    const collector = () =>
      new Promise<Server>((resolve) => {
        const srv = createServer((c) => {
          accepted.push(c);
          c.on('data', (d) => received.push(d));
          c.on('error', () => undefined);
        });
        servers.push(srv);
        srv.listen(port, '127.0.0.1', () => resolve(srv));
      });
    let port = 0;
    let srv = await collector();
    port = (srv.address() as { port: number }).port;
    const s = hep.addDestination(`[c] 127.0.0.1:${port}`);
    s.send(packHep(from, to, 'udp', sip(1)));
    await waitUntil(() => s.stats().sent === 1);
    await waitUntil(() => received.length > 0);
    // restart: close the server and every accepted connection
    const down = new Promise<void>((r) => srv.close(() => r()));
    for (const c of accepted.splice(0)) c.destroy();
    await down;
    await waitUntil(() => engine!.connections('hep_tcp').length === 0);
    for (let i = 2; i <= 4; i++) s.send(packHep(from, to, 'udp', sip(i)));
    await waitUntil(() => s.stats().failures > 0, 3000, 'a failed attempt while the collector is down');
    srv = await collector();
    await waitUntil(() => s.stats().sent === 4, 5000, 'all sent after restart');
    await waitUntil(() => Buffer.concat(received).toString('latin1').includes(sip(4)));
    const all = Buffer.concat(received).toString('latin1');
    for (let i = 1; i <= 4; i++) expect(all).toContain(sip(i));
    expect(s.stats()).toMatchObject({ dropped: 0, queued: 0 });
  });
  it('after hep_max_retries failures the destination cools down and drops', async () => {
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never]);
    await engine.listen('hep_tcp:127.0.0.1:0');
    hep = attachHep(engine, { hep_max_retries: 2, hep_retry_cooldown: 60 }, { sender: { backoffMs: 10 } });
    const s = hep.addDestination('[x] 127.0.0.1:1');
    s.send(packHep(from, to, 'udp', sip(1)));
    await waitUntil(() => s.stats().coolingDown, 3000);
    expect(s.send(packHep(from, to, 'udp', sip(2)))).toBe(false);
    expect(s.stats()).toMatchObject({ dropped: 2, queued: 0 });
  });
});

