// A HEP collector (x HEP listener over TCP) killed and restarted mid-traffic: the traced SIP,
// MSRP and BIN traffic loses nothing, the trace loss shows in the metrics (tracing:trace_dropped,
// proto_hep:hep_send_dropped), and tracing resumes once the collector is back. The sender's
// retry cooldown (OpenSIPS's hep_retry_cooldown, 3600 s by default) is 0.3 s here.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry, type Engine, type MessageEvent, type ProtocolSpec, type TraceSink } from '@x/core-conn';
import { createTestEngine, waitUntil } from '@x/core-conn/testing';
import { attachHep, hepTcpSpec, type HepApi, type HepReceived } from '@x/proto-hep';
import { PROTO_TCP_DEFAULTS, tcpProtocolSpec } from '@x/proto-tcp';
import { msrpSpec, PROTO_MSRP_DEFAULTS } from '@x/proto-msrp';
import { attachBin, BinBuilder, binSpec } from '@x/proto-bins';
import { attachTracing, createTracing, type ModuleTraceConfig } from '../src/index.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function collector(got: HepReceived[], port = 0): Promise<{ engine: Engine; hep: HepApi; port: number }> {
  const engine = createTestEngine([hepTcpSpec()]);
  const hep = attachHep(engine);
  hep.registerHepCallback((r) => void got.push({ ...r, payload: Buffer.from(r.payload) }));
  const l = await engine.listen(`hep_tcp:127.0.0.1:${port}`);
  const stop = async () => {
    hep.close();
    await engine.shutdown({ deadlineMs: 0 });
  };
  cleanup.push(stop);
  return { engine, hep, port: l.address.port };
}

const options = (id: string): string =>
  `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK${id}\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;

describe('collector restart', () => {
  it('killed and restarted: SIP traffic loses nothing, trace loss is counted, tracing resumes', async () => {
    const got: HepReceived[] = [];
    const c1 = await collector(got);
    const stats = createStatsRegistry();
    const engine = createTestEngine([tcpProtocolSpec(PROTO_TCP_DEFAULTS), hepTcpSpec()]);
    cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
    const sinks = new Map<string, TraceSink>();
    const hep = attachHep(engine, { hep_id: [`[hep_dst] 127.0.0.1:${c1.port}; transport=tcp`] }, {
      stats,
      registerSink: (s) => sinks.set(s.name, s),
      sender: { backoffMs: 10, maxBackoffMs: 50, maxRetries: 3, retryCooldown: 0.3 },
    });
    cleanup.push(() => hep.close());
    const tracing = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] }, stats });
    cleanup.push(attachTracing(tracing));
    // the route: trace every message, answer it
    engine.on('message', (ev: MessageEvent) => {
      if (ev.conn.proto !== 'tcp') return;
      tracing.trace(ev.message);
      const id = /Call-ID: (\S+)/.exec((ev.message as Buffer).toString())![1]!;
      engine.write(ev.conn.id, Buffer.from(`SIP/2.0 200 OK\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`));
    });
    const l = await engine.listen('tcp:127.0.0.1:0');
    const s: Socket = connect({ host: '127.0.0.1', port: l.address.port });
    cleanup.push(() => s.destroy());
    await once(s, 'connect');
    let replies = 0;
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString();
      const parts = text.split('SIP/2.0 200 OK');
      replies += parts.length - 1;
      text = parts[parts.length - 1]!;
    });
    let sent = 0;
    const ask = async (id: string): Promise<void> => {
      sent++;
      s.write(options(id));
      await waitUntil(() => replies === sent, 10_000, `the reply to ${id}`);
    };
    const sipAt = (prefix: string) => got.filter((r) => r.packet.protoType === 1 && r.packet.correlationId!.startsWith(prefix));

    // 1. collector up: every message and reply traced
    for (let i = 0; i < 10; i++) await ask(`up-${i}`);
    await waitUntil(() => sipAt('up-').length === 20, 10_000, 'phase 1 at the collector');

    // 2. collector killed: traffic goes on, traces are dropped and counted
    await c1.engine.shutdown({ deadlineMs: 0 });
    c1.hep.close();
    let i = 0;
    await waitUntil(() => {
      if (replies !== sent) return false;
      if (stats.get('tracing:trace_dropped')!.value() > 0) return true;
      if (i < 2000) {
        sent++;
        s.write(options(`down-${i++}`));
      }
      return false;
    }, 20_000, 'a dropped trace while the collector is down');
    expect(replies).toBe(sent); // the traced traffic lost nothing
    const down = i;
    expect(down).toBeGreaterThan(0);
    expect(stats.get('proto_hep:hep_send_dropped')!.value()).toBeGreaterThan(0);

    // 3. collector back on the same port: after the cooldown, traces arrive again
    await collector(got, c1.port);
    let j = 0;
    await waitUntil(() => {
      if (sipAt('back-').length > 0) return true;
      if (replies === sent && j < 2000) {
        sent++;
        s.write(options(`back-${j++}`));
      }
      return false;
    }, 20_000, 'a trace after the restart');
    await waitUntil(() => replies === sent, 10_000, 'every reply');
    expect(replies).toBe(sent);
    // every trace handed over is accounted for: sent by the sender, dropped (counted) or still queued
    const st = hep.sender('hep_dst')!.stats();
    const handed = tracing.counts().sent + tracing.counts().dropped;
    expect(handed).toBe(2 * sent + 1); // + the connection's ACCEPTED
    expect(st.sent + st.dropped + st.queued).toBe(handed);
    expect(stats.get('tracing:trace_dropped')!.value()).toBe(tracing.counts().dropped);
    // the collector got at most what was sent (a packet written into a dying connection is lost uncounted)
    expect(got.filter((r) => r.packet.protoType === 1).length).toBeLessThanOrEqual(st.sent);
  });
});

/**
 * The traced engine with one module's protocol and proto_hep's sender to the collector (fast
 * retries, a 0.3 s cooldown), tracing attached.
 */
function tracedEngine(collectorPort: number, protocols: ProtocolSpec<unknown>[], module: ModuleTraceConfig) {
  const stats = createStatsRegistry();
  const engine = createTestEngine([...protocols, hepTcpSpec()]);
  cleanup.push(() => engine.shutdown({ deadlineMs: 0 }));
  const sinks = new Map<string, TraceSink>();
  const hep = attachHep(engine, { hep_id: [`[hep_dst] 127.0.0.1:${collectorPort}; transport=tcp`] }, {
    stats,
    registerSink: (s) => sinks.set(s.name, s),
    sender: { backoffMs: 10, maxBackoffMs: 50, maxRetries: 3, retryCooldown: 0.3 },
  });
  cleanup.push(() => hep.close());
  const tracing = createTracing({ modules: [module], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] }, stats });
  cleanup.push(attachTracing(tracing));
  return { engine, hep, tracing, stats };
}

/**
 * The three phases: traffic while the collector is up (every trace arrives), killed (traffic goes
 * on until a trace is dropped and counted), restarted on the same port (traces arrive again).
 * `unit(tag)` is one unit of traffic and resolves once the traffic itself was delivered;
 * `arrived(prefix)` counts what the collector got of the units with that tag prefix.
 */
async function killAndRestart(o: {
  got: HepReceived[];
  c1: { engine: Engine; hep: HepApi; port: number };
  stats: ReturnType<typeof createStatsRegistry>;
  unit: (tag: string) => Promise<void>;
  arrived: (prefix: string) => number;
  perUnit: number;
}): Promise<number> {
  let units = 0;
  const run = async (tag: string) => {
    units++;
    await o.unit(tag);
  };
  for (let i = 0; i < 5; i++) await run(`up-${i}`);
  await waitUntil(() => o.arrived('up-') === 5 * o.perUnit, 10_000, 'phase 1 at the collector');
  await o.c1.engine.shutdown({ deadlineMs: 0 });
  o.c1.hep.close();
  let i = 0;
  while (o.stats.get('tracing:trace_dropped')!.value() === 0) {
    if (i >= 2000) throw new Error('no trace dropped while the collector is down');
    await run(`down-${i++}`);
  }
  expect(o.stats.get('proto_hep:hep_send_dropped')!.value()).toBeGreaterThan(0);
  await collector(o.got, o.c1.port);
  let j = 0;
  while (o.arrived('back-') === 0) {
    if (j >= 2000) throw new Error('no trace after the restart');
    await run(`back-${j++}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return units;
}

describe('collector restart: MSRP and BIN', () => {
  it('MSRP: every SEND answered while the collector is killed and restarted; traced messages (0x5A) lost only as counted', async () => {
    const got: HepReceived[] = [];
    const c1 = await collector(got);
    const t = tracedEngine(c1.port, [msrpSpec(PROTO_MSRP_DEFAULTS) as never], { module: 'proto_msrp', protocols: ['msrp', 'msrps'], destination: 'hep_dst', on: true });
    // the route: trace every request (and so its response), answer 200
    t.engine.on('message', (ev: MessageEvent) => {
      if (ev.conn.proto !== 'msrp') return;
      const m = ev.message as { kind: string; tid: string };
      if (m.kind !== 'request') return;
      t.tracing.trace(ev.message);
      t.engine.write(ev.conn.id, Buffer.from(`MSRP ${m.tid} 200 OK\r\nTo-Path: msrp://127.0.0.1:1/c;tcp\r\nFrom-Path: msrp://127.0.0.1:2/s;tcp\r\n-------${m.tid}$\r\n`));
    });
    const l = await t.engine.listen('msrp:127.0.0.1:0');
    const s: Socket = connect({ host: '127.0.0.1', port: l.address.port });
    cleanup.push(() => s.destroy());
    await once(s, 'connect');
    let text = '';
    s.on('data', (d: Buffer) => void (text += d.toString('latin1')));
    let answered = 0;
    const unit = async (tid: string): Promise<void> => {
      s.write(`MSRP ${tid} SEND\r\nTo-Path: msrp://127.0.0.1:${l.address.port}/s;tcp\r\nFrom-Path: msrp://127.0.0.1:1/c;tcp\r\nMessage-ID: ${tid}\r\nByte-Range: 1-2/2\r\nContent-Type: text/plain\r\n\r\nhi\r\n-------${tid}$\r\n`);
      await waitUntil(() => text.includes(`MSRP ${tid} 200 OK`), 10_000, `the 200 to ${tid}`);
      answered++;
    };
    const msrpAt = (prefix: string) => got.filter((r) => r.packet.protoType === 0x5a && r.packet.correlationId!.startsWith(prefix)).length;
    const units = await killAndRestart({ got, c1, stats: t.stats, unit, arrived: msrpAt, perUnit: 2 });
    expect(answered).toBe(units); // the traced traffic lost nothing
    const st = t.hep.sender('hep_dst')!.stats();
    const handed = t.tracing.counts().sent + t.tracing.counts().dropped;
    expect(handed).toBe(2 * units + 1); // each SEND and its 200, + the connection's ACCEPTED
    expect(st.sent + st.dropped + st.queued).toBe(handed);
    expect(t.stats.get('tracing:trace_dropped')!.value()).toBe(t.tracing.counts().dropped);
    expect(got.filter((r) => r.packet.protoType === 0x5a).length).toBeLessThanOrEqual(st.sent);
  });

  it('BIN: every packet delivered on short connections while the collector is killed and restarted; their events lost only as counted', async () => {
    const got: HepReceived[] = [];
    const c1 = await collector(got);
    const t = tracedEngine(c1.port, [binSpec() as never], { module: 'proto_bins', protocols: ['bins', 'bin'], destination: 'hep_dst', on: true });
    const bin = attachBin(t.engine);
    cleanup.push(() => bin.close());
    const received: number[] = [];
    bin.registerCapability('restart-test', (p) => void received.push(p.body.readInt32LE(0)));
    const l = await t.engine.listen('bin:127.0.0.1:0');
    // one unit: a connection that carries one packet and closes (ACCEPTED + CLOSED traced); the
    // client is a plain socket, so only the traced engine's side is traced
    const ports = new Map<number, string>();
    let n = 0;
    const unit = async (tag: string): Promise<void> => {
      const k = n++;
      const s = connect({ host: '127.0.0.1', port: l.address.port });
      cleanup.push(() => s.destroy());
      await once(s, 'connect');
      ports.set(s.localPort!, tag);
      s.end(new BinBuilder('restart-test', 1, 1).pushInt(k).build());
      let closed = false;
      s.once('close', () => void (closed = true));
      await waitUntil(() => received.length === n, 10_000, `packet ${k}`);
      await waitUntil(() => closed, 10_000, `the close of ${tag}`);
    };
    // a unit's events: ACCEPTED and CLOSED from its port
    const binAt = (prefix: string) => got.filter((r) => r.packet.protoType === 0x59 && ports.get(r.packet.srcPort!)?.startsWith(prefix) && /^BIN:(ACCEPTED|CLOSED):/.test(r.payload.toString())).length;
    const units = await killAndRestart({ got, c1, stats: t.stats, unit, arrived: binAt, perUnit: 2 });
    expect(received).toEqual([...Array(units).keys()]); // the BIN traffic lost nothing, in order
    // every event handed over is accounted for; the CLOSED of the last unit may still be on its way in
    await waitUntil(() => t.tracing.counts().sent + t.tracing.counts().dropped === 2 * units, 10_000, 'the last CLOSED');
    const st = t.hep.sender('hep_dst')!.stats();
    expect(st.sent + st.dropped + st.queued).toBe(2 * units);
    expect(t.stats.get('tracing:trace_dropped')!.value()).toBe(t.tracing.counts().dropped);
    expect(t.tracing.counts().dropped).toBeGreaterThan(0);
  });
});
