import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, createStatsRegistry, type Engine, type ModuleContext, type TraceSink } from '@x/core-conn';
import { waitUntil } from '@x/core-conn/testing';
import { hepTcpSpec, hepUdpSpec, protoHepModule, PROTO_HEP_DEFAULTS, type HepApi, type HepReceived } from '../src/index.js';

let engine: Engine | undefined;
let destroy: (() => unknown) | undefined;
afterEach(async () => {
  await destroy?.();
  destroy = undefined;
  await engine?.shutdown({ deadlineMs: 200 });
  engine = undefined;
});

describe('protoHepModule', () => {
  it('registers hep_udp/hep_tcp, and every hep_id as a TraceSink that reaches a listener', async () => {
    // as in the README: no casts needed to register the specs
    engine = createEngine();
    engine.registerProtocol(hepUdpSpec());
    engine.registerProtocol(hepTcpSpec());
    const udp = await engine.listen('hep_udp:127.0.0.1:0');
    const tcp = await engine.listen('hep_tcp:127.0.0.1:0');
    const sinks = new Map<string, TraceSink>();
    const ctx = {
      engine,
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return this; } },
      stats: createStatsRegistry(),
      routes: () => undefined,
      traceSinks: { register: (s: TraceSink) => sinks.set(s.name, s), get: (n: string) => sinks.get(n), names: () => [...sinks.keys()] },
      modules: new Map(),
    } as unknown as ModuleContext;
    const params = {
      ...PROTO_HEP_DEFAULTS,
      hep_capture_id: 42,
      hep_id: [`[u2] 127.0.0.1:${udp.address.port}; transport=udp; version=2`, `[t3] 127.0.0.1:${tcp.address.port}`],
    };
    expect(protoHepModule.protocols!(params).map((s) => [s.name, s.transport, s.defaultPort])).toEqual([
      ['hep_udp', 'udp', 5656],
      ['hep_tcp', 'tcp', 5656],
    ]);
    const inst = await protoHepModule.init(ctx, params);
    destroy = inst.destroy;
    const api = inst.api as HepApi;
    expect(api.hepVersion()).toBe(5);
    const got: HepReceived[] = [];
    api.registerHepCallback((r) => {
      got.push(r);
    });
    expect(ctx.traceSinks.names()).toEqual(['u2', 't3']);
    for (const name of ['u2', 't3']) {
      ctx.traceSinks.get(name)!.send({
        protoType: 0x59, src: { host: '192.0.2.10', port: 40000 }, dst: { host: '192.0.2.1', port: 5060 }, ipProto: 6,
        timestamp: { sec: 1700000000, usec: 5 }, payload: api.buildPayload([['Protocol', 'TCP'], ['Event', name]]), correlationId: '1234',
      });
    }
    await waitUntil(() => got.length === 2, 3000, 'both trace packets');
    const byVersion = Object.fromEntries(got.map((g) => [g.packet.version, g]));
    expect(byVersion[2]!.packet).toMatchObject({ captureId: 42, srcIp: '192.0.2.10', dstPort: 5060, timestamp: { sec: 1700000000, usec: 5 } });
    expect(byVersion[2]!.payload.toString()).toBe('TCP:u2');
    expect(byVersion[3]!.packet).toMatchObject({ captureId: 42, protoType: 0x59, correlationId: '1234', ipProto: 6 });
    expect(byVersion[3]!.proto).toBe('hep_tcp');
    expect(byVersion[3]!.payload.toString()).toBe('TCP:t3');
  });
});
