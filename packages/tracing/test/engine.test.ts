// Real sockets on 127.0.0.1: a traced engine (proto-tcp's tcp protocol, proto-hep's sink) and a
// collector engine (an x HEP listener). Connections are accepted, connected and closed; the
// collector checks what arrives field by field.
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, TraceSink } from '@x/core-conn';
import { createTestEngine, rawConnect, waitUntil } from '@x/core-conn/testing';
import { attachHep, hepTcpSpec, hepUdpSpec, type HepReceived } from '@x/proto-hep';
import { PROTO_TCP_DEFAULTS, tcpProtocolSpec } from '@x/proto-tcp';
import { msrpSpec, PROTO_MSRP_DEFAULTS } from '@x/proto-msrp';
import { attachTracing, createTracing } from '../src/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function collector(): Promise<{ engine: Engine; got: HepReceived[]; tcpPort: number; udpPort: number }> {
  const engine = createTestEngine([hepUdpSpec(), hepTcpSpec()]);
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  const hep = attachHep(engine);
  cleanup.push(() => hep.close());
  const got: HepReceived[] = [];
  hep.registerHepCallback((r) => void got.push({ ...r, payload: Buffer.from(r.payload) }));
  const t = await engine.listen('hep_tcp:127.0.0.1:0');
  const u = await engine.listen('hep_udp:127.0.0.1:0');
  return { engine, got, tcpPort: t.address.port, udpPort: u.address.port };
}

async function traced(hepIds: string[], homer5 = true, maxQueue?: number) {
  const engine = createTestEngine([tcpProtocolSpec(PROTO_TCP_DEFAULTS), hepUdpSpec(), hepTcpSpec()]);
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  const sinks = new Map<string, TraceSink>();
  const hep = attachHep(engine, { hep_id: hepIds, homer5_on: homer5 }, { registerSink: (s) => sinks.set(s.name, s), ...(maxQueue ? { sender: { maxQueue, backoffMs: 50 } } : {}) });
  cleanup.push(() => hep.close());
  await engine.listen('hep_udp:127.0.0.1:0'); // to send udp from
  const tracing = createTracing({
    modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }],
    sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] },
  });
  cleanup.push(attachTracing(tracing));
  const tcp = await engine.listen('tcp:127.0.0.1:0');
  return { engine, tracing, tcp, hep };
}

describe('tracing on real connections', () => {
  for (const transport of ['tcp', 'udp'] as const) {
    it(`an accepted connection: ACCEPTED then CLOSED "EOF received", HEPv3 over ${transport}`, async () => {
      const c = await collector();
      const t = await traced([`[hep_dst] 127.0.0.1:${transport === 'tcp' ? c.tcpPort : c.udpPort}; transport=${transport}`]);
      const sock = await rawConnect(t.tcp);
      const local = { host: sock.localAddress!, port: sock.localPort! };
      sock.write('OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n');
      await waitUntil(() => t.engine.connections('tcp').length === 1, 5000, 'accepted');
      const cid = t.engine.connections('tcp')[0]!.cid;
      sock.end();
      await waitUntil(() => c.got.length >= 2, 10_000, 'two events at the collector');
      const [acc, clo] = c.got;
      for (const r of [acc!, clo!]) {
        expect(r.packet.version).toBe(3);
        expect(r.packet.protoType).toBe(0x59);
        expect(r.packet.ipProto).toBe(6);
        expect(r.packet.captureId).toBe(1);
        expect(r.packet.correlationId).toBe(cid.toString());
        expect([r.packet.srcIp, r.packet.srcPort]).toEqual([local.host, local.port]);
        expect([r.packet.dstIp, r.packet.dstPort]).toEqual([t.tcp.address.host, t.tcp.address.port]);
      }
      expect(acc!.payload.toString()).toBe('TCP:ACCEPTED:SUCCESS:Connection accepted...');
      expect(clo!.payload.toString()).toBe('TCP:CLOSED:SUCCESS:EOF received');
      expect(t.tracing.counts()).toMatchObject({ sent: 2, dropped: 0 });
    });
  }

  it('an outbound connection: CONNECTED, remote -> local as OpenSIPS stores it; HOMER6 payload', async () => {
    const c = await collector();
    const t = await traced([`[hep_dst] 127.0.0.1:${c.tcpPort}`], false);
    const peer = createTestEngine([tcpProtocolSpec(PROTO_TCP_DEFAULTS)]);
    cleanup.push(() => peer.shutdown({ deadlineMs: 0 }));
    const pl = await peer.listen('tcp:127.0.0.1:0');
    const conn = await t.engine.send('tcp', pl.address, Buffer.from('OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n'));
    // the tap is process-wide: the peer engine's accepted connection is traced too; pick ours by its cid
    const ours = () => c.got.filter((g) => g.packet.correlationId === conn!.cid.toString());
    await waitUntil(() => ours().length >= 1, 10_000, 'the CONNECTED event');
    const r = ours()[0]!;
    expect(JSON.parse(r.payload.toString())).toEqual({ Protocol: 'TCP', Event: 'CONNECTED', Status: 'SUCCESS', Message: 'Successfully connected...' });
    expect([r.packet.srcIp, r.packet.srcPort, r.packet.dstPort]).toEqual(['127.0.0.1', pl.address.port, conn!.local.port]);
    expect(r.packet.correlationId).toBe(conn!.cid.toString());
  });

  it('tcp:trace off stops the next event, on restarts it', async () => {
    const c = await collector();
    const t = await traced([`[hep_dst] 127.0.0.1:${c.udpPort}; transport=udp`]);
    const mi = t.tracing.miCommands()[0]!;
    expect(mi.handler({ trace_mode: 'off' })).toBe('OK');
    const s1 = await rawConnect(t.tcp);
    await waitUntil(() => t.engine.connections('tcp').length === 1, 5000, 'accepted');
    expect(mi.handler({})).toEqual({ 'TCP tracing': 'off' });
    mi.handler({ trace_mode: 'on' });
    s1.end();
    await waitUntil(() => c.got.length >= 1, 10_000, 'CLOSED');
    expect(c.got.map((r) => r.payload.toString())).toEqual(['TCP:CLOSED:SUCCESS:EOF received']);
    s1.destroy();
  });

  it('the collector down: a bounded queue, events dropped and counted, the traced connection unharmed', async () => {
    const c = await collector();
    const dead = c.tcpPort;
    await c.engine.shutdown({ deadlineMs: 0 }); // nobody listens there any more
    const t = await traced([`[hep_dst] 127.0.0.1:${dead}`], true, 2);
    const got: string[] = [];
    const sip = t.engine; // the traced engine answers nothing; count what it receives
    sip.on('message', (ev) => void got.push((ev.message as Buffer).toString().split('\r\n')[0]!));
    const socks = [];
    for (let i = 0; i < 4; i++) {
      const s = await rawConnect(t.tcp);
      s.write(`OPTIONS sip:${i}@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n`);
      socks.push(s);
    }
    await waitUntil(() => got.length === 4, 10_000, 'four messages');
    expect(got.sort()).toEqual([0, 1, 2, 3].map((i) => `OPTIONS sip:${i}@127.0.0.1 SIP/2.0`));
    // 4 ACCEPTED events, a queue of 2: at least 2 dropped (the first may already be in flight)
    expect(t.tracing.counts().dropped).toBeGreaterThanOrEqual(1);
    expect(t.tracing.counts().sent + t.tracing.counts().dropped).toBe(4);
    expect(t.hep.sender('hep_dst')!.stats().queued).toBeLessThanOrEqual(2);
    for (const s of socks) s.destroy();
  });

  it('MSRP: ACCEPTED and CLOSED are sent, labelled MSRP (OpenSIPS cannot build them); msrp:trace off stops them', async () => {
    const c = await collector();
    const engine = createTestEngine([msrpSpec(PROTO_MSRP_DEFAULTS) as never, hepUdpSpec(), hepTcpSpec()]);
    cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
    const sinks = new Map<string, TraceSink>();
    const hep = attachHep(engine, { hep_id: [`[hep_dst] 127.0.0.1:${c.udpPort}; transport=udp`] }, { registerSink: (s) => sinks.set(s.name, s) });
    cleanup.push(() => hep.close());
    await engine.listen('hep_udp:127.0.0.1:0');
    const tracing = createTracing({ modules: [{ module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'hep_dst', on: true }], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] } });
    cleanup.push(attachTracing(tracing));
    const l = await engine.listen('msrp:127.0.0.1:0');
    const s1 = await rawConnect(l);
    await waitUntil(() => engine.connections('msrp').length === 1, 5000, 'accepted');
    const cid = engine.connections('msrp')[0]!.cid.toString();
    s1.end();
    await waitUntil(() => c.got.length >= 2, 10_000, 'two MSRP events');
    expect(c.got.map((r) => r.payload.toString())).toEqual(['MSRP:ACCEPTED:SUCCESS:Connection accepted...', 'MSRP:CLOSED:SUCCESS:EOF received']);
    expect(c.got.map((r) => [r.packet.protoType, r.packet.ipProto, r.packet.correlationId, r.packet.dstPort])).toEqual([[0x59, 6, cid, l.address.port], [0x59, 6, cid, l.address.port]]);
    const mi = tracing.miCommands()[0]!;
    expect(mi.name).toBe('msrp:trace');
    expect(mi.handler({ trace_mode: 'off' })).toBe('OK');
    const s2 = await rawConnect(l);
    await waitUntil(() => engine.connections('msrp').length === 1, 5000, 'accepted again');
    s2.end();
    await waitUntil(() => engine.connections('msrp').length === 0, 5000, 'closed again');
    expect(c.got).toHaveLength(2);
    expect(tracing.counts().sent).toBe(2);
  });
});
