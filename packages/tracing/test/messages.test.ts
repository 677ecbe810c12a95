// SIP and MSRP message tracing on real sockets (127.0.0.0/8): the traced engine's "route" calls
// tracing.trace(message) for the messages it wants, as a route script's ctx.trace() does; the
// collector is an x HEP listener and checks every field. The tap is process-wide: what the
// collector gets is always picked by correlation id or proto type, never by position alone.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine, MessageEvent, TraceSink } from '@x/core-conn';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import { attachHep, hepUdpSpec, type HepReceived } from '@x/proto-hep';
import { PROTO_TCP_DEFAULTS, tcpProtocolSpec } from '@x/proto-tcp';
import { msrpSpec, PROTO_MSRP_DEFAULTS } from '@x/proto-msrp';
import { attachTracing, createTracing, type ModuleTraceConfig } from '../src/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function collector(): Promise<{ got: HepReceived[]; udpPort: number }> {
  const engine = createTestEngine([hepUdpSpec()]);
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  const hep = attachHep(engine);
  cleanup.push(() => hep.close());
  const got: HepReceived[] = [];
  hep.registerHepCallback((r) => void got.push({ ...r, payload: Buffer.from(r.payload) }));
  const u = await engine.listen('hep_udp:127.0.0.1:0');
  return { got, udpPort: u.address.port };
}

async function traced(udpPort: number, modules: ModuleTraceConfig[], routes?: (name: string, ctx: Record<string, unknown>) => unknown) {
  const engine = createTestEngine([tcpProtocolSpec(PROTO_TCP_DEFAULTS), msrpSpec(PROTO_MSRP_DEFAULTS) as never, hepUdpSpec()]);
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  const sinks = new Map<string, TraceSink>();
  const hep = attachHep(engine, { hep_id: [`[hep_dst] 127.0.0.1:${udpPort}; transport=udp`] }, { registerSink: (s) => sinks.set(s.name, s) });
  cleanup.push(() => hep.close());
  await engine.listen('hep_udp:127.0.0.1:0');
  const tracing = createTracing({ modules, sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] }, ...(routes ? { routes: routes as never } : {}) });
  cleanup.push(attachTracing(tracing));
  return { engine, tracing };
}

async function client(port: number, localAddress = '127.0.0.1'): Promise<Socket & { text: () => string }> {
  const s = connect({ host: '127.0.0.1', port, localAddress });
  cleanup.push(() => s.destroy());
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  await once(s, 'connect');
  return Object.assign(s, { text: () => text });
}

const options = (callId: string, traceMe: boolean): string =>
  `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${callId}\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\n${traceMe ? 'X-Trace: yes\r\n' : ''}Content-Length: 0\r\n\r\n`;
const ok = (callId: string): string => `SIP/2.0 200 OK\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
const callIdOf = (b: Buffer): string => /Call-ID: (\S+)/.exec(b.toString())![1]!;

/** a SIP "route": traces requests that carry X-Trace, answers every one */
function sipRoute(engine: Engine, trace: (m: unknown) => boolean, results: boolean[]): void {
  engine.on('message', (ev: MessageEvent) => {
    if (ev.conn.proto !== 'tcp') return;
    const raw = ev.message as Buffer;
    if (raw.includes('X-Trace: yes')) results.push(trace(ev.message));
    engine.write(ev.conn.id, Buffer.from(ok(callIdOf(raw))));
  });
}

describe('SIP messages traced as HEP proto type 1', () => {
  it('trace() sends the request, its reply and later messages of its Call-ID follow; others are not traced; tcp:trace off stops it', async () => {
    const c = await collector();
    const t = await traced(c.udpPort, [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }]);
    const t0 = Date.now();
    const results: boolean[] = [];
    sipRoute(t.engine, (m) => t.tracing.trace(m), results);
    const l = await t.engine.listen('tcp:127.0.0.1:0');
    const s = await client(l.address.port);
    const ask = async (callId: string, traceMe: boolean, n: number): Promise<void> => {
      s.write(options(callId, traceMe));
      await waitUntil(() => s.text().split('SIP/2.0 200 OK').length - 1 >= n, 10_000, `reply ${n}`);
    };
    await ask('untraced-1', false, 1);
    await ask('dlg-2', true, 2);
    await ask('dlg-2', false, 3); // followed: traced without trace()
    await ask('untraced-3', false, 4);
    const mi = t.tracing.miCommands()[0]!;
    expect(mi.handler({ trace_mode: 'off' })).toBe('OK');
    await ask('off-4', true, 5);
    expect(mi.handler({ trace_mode: 'on' })).toBe('OK');
    await ask('last-5', true, 6);
    const sip = () => c.got.filter((r) => r.packet.protoType === 1);
    await waitUntil(() => sip().length >= 6, 10_000, 'six SIP messages at the collector');
    expect(results).toEqual([true, false, true]);
    const me = { host: s.localAddress!, port: s.localPort! };
    const srv = { host: '127.0.0.1', port: l.address.port };
    const got = sip().map((r) => ({
      corr: r.packet.correlationId,
      ip: r.packet.ipProto,
      src: `${r.packet.srcIp}:${r.packet.srcPort}`,
      dst: `${r.packet.dstIp}:${r.packet.dstPort}`,
      payload: r.payload.toString(),
    }));
    const inn = { src: `${me.host}:${me.port}`, dst: `${srv.host}:${srv.port}`, ip: 6 };
    const out = { src: `${srv.host}:${srv.port}`, dst: `${me.host}:${me.port}`, ip: 6 };
    expect(got).toEqual([
      { ...inn, corr: 'dlg-2', payload: options('dlg-2', true) },
      { ...out, corr: 'dlg-2', payload: ok('dlg-2') },
      { ...inn, corr: 'dlg-2', payload: options('dlg-2', false) },
      { ...out, corr: 'dlg-2', payload: ok('dlg-2') },
      { ...inn, corr: 'last-5', payload: options('last-5', true) },
      { ...out, corr: 'last-5', payload: ok('last-5') },
    ]);
    // HEP time = when the message was read or written (the tap's time), to the µs: inside the
    // test, and a request no later than its reply
    const us = sip().map((r) => r.packet.timestamp!.sec * 1e6 + r.packet.timestamp!.usec);
    for (const u of us) expect(u >= (t0 - 1) * 1000 && u <= (Date.now() + 1) * 1000).toBe(true);
    for (let i = 0; i < us.length; i += 2) expect(us[i]!).toBeLessThanOrEqual(us[i + 1]!);
    // the connection's net event came first, with the connection's cid
    const cid = t.engine.connections('tcp')[0]!.cid.toString();
    expect(c.got[0]!.packet).toMatchObject({ protoType: 0x59, correlationId: cid });
    expect(c.got[0]!.payload.toString()).toBe('TCP:ACCEPTED:SUCCESS:Connection accepted...');
  });

  it('a filter route that drops 127.0.0.2: its messages are not traced, 127.0.0.1 is', async () => {
    const c = await collector();
    const filter = (_name: string, ctx: Record<string, unknown>) => (ctx.remote as { host: string }).host !== '127.0.0.2';
    const t = await traced(c.udpPort, [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true, filterRoute: 'f' }], filter);
    const results: boolean[] = [];
    sipRoute(t.engine, (m) => t.tracing.trace(m), results);
    const l = await t.engine.listen('tcp:127.0.0.1:0');
    const a = await client(l.address.port, '127.0.0.2');
    a.write(options('from-2', true));
    await waitUntil(() => a.text().includes('from-2'), 10_000, 'reply to 127.0.0.2');
    const b = await client(l.address.port, '127.0.0.1');
    b.write(options('from-1', true));
    await waitUntil(() => b.text().includes('from-1'), 10_000, 'reply to 127.0.0.1');
    const sip = () => c.got.filter((r) => r.packet.protoType === 1);
    await waitUntil(() => sip().length >= 2, 10_000, 'two SIP messages');
    expect(results).toEqual([false, true]);
    expect(sip().map((r) => [r.packet.correlationId, r.packet.srcIp])).toEqual([['from-1', '127.0.0.1'], ['from-1', '127.0.0.1']]);
    expect(c.got.every((r) => r.packet.srcIp !== '127.0.0.2' && r.packet.dstIp !== '127.0.0.2')).toBe(true);
    expect(t.tracing.counts().filtered).toBe(1);
  });

  it('MSRP: a traced SEND and its 200 (followed by transaction id)', async () => {
    const c = await collector();
    const t = await traced(c.udpPort, [{ module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'hep_dst', on: true }]);
    const results: boolean[] = [];
    t.engine.on('message', (ev: MessageEvent) => {
      if (ev.conn.proto !== 'msrp') return;
      results.push(t.tracing.trace(ev.message)); // the MsrpMessage the relay gets
      t.engine.write(ev.conn.id, Buffer.from('MSRP t1 200 OK\r\nTo-Path: msrp://127.0.0.1:1/c1;tcp\r\nFrom-Path: msrp://127.0.0.1:2/s1;tcp\r\n-------t1$\r\n'));
    });
    const l = await t.engine.listen('msrp:127.0.0.1:0');
    const s = await client(l.address.port);
    const send = `MSRP t1 SEND\r\nTo-Path: msrp://127.0.0.1:${l.address.port}/s1;tcp\r\nFrom-Path: msrp://127.0.0.1:1/c1;tcp\r\nMessage-ID: m1\r\nByte-Range: 1-5/5\r\nContent-Type: text/plain\r\n\r\nhello\r\n-------t1$\r\n`;
    s.write(send);
    await waitUntil(() => s.text().includes('200 OK'), 10_000, 'the 200');
    const msgs = () => c.got.filter((r) => r.packet.protoType !== 0x59);
    await waitUntil(() => msgs().length >= 2, 10_000, 'two MSRP messages');
    expect(results).toEqual([true]);
    expect(msgs().map((r) => [r.packet.protoType, r.packet.ipProto, r.packet.correlationId, r.payload.toString().split('\r\n')[0]])).toEqual([
      [0x5a, 6, 't1', 'MSRP t1 SEND'],
      [0x5a, 6, 't1', 'MSRP t1 200 OK'],
    ]);
    expect(msgs()[0]!.payload.toString()).toBe(send);
  });
});
