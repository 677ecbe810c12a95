// The 'tracing' module descriptor on its own: it may be initialised before the module that
// registers its destinations (an explicit loadmodule "tracing.so" placed before proto_hep), looks
// a destination up at its first use, and refuses to run (listening hook) when a declared
// destination was never registered.
import { describe, expect, it } from 'vitest';
import { createStatsRegistry, type LoadedModuleView, type ModuleContext, type TraceSink } from '@x/core-conn';
import type { TracePacket } from '@x/proto-hep';
import { tracingModule, type Tracing } from '../src/index.js';

function context(sinks: Map<string, TraceSink>, declared: string[]): ModuleContext {
  const loaded = [
    { name: 'proto_tcp', trace: { protocols: ['tcp'], destination: 'hep_dst', on: true }, traceDestinations: [] },
    { name: 'proto_hep', traceDestinations: declared },
  ] as unknown as LoadedModuleView[];
  return {
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return this; } },
    stats: createStatsRegistry(),
    routes: () => undefined,
    hasRoute: () => false,
    traceSinks: { register: (s: TraceSink) => sinks.set(s.name, s), get: (n: string) => sinks.get(n), names: () => [...sinks.keys()] },
    loaded,
    modules: new Map(),
  } as unknown as ModuleContext;
}

const conn = { id: 1, cid: 7n, proto: 'tcp', remote: { host: '127.0.0.1', port: 40000 }, local: { host: '127.0.0.1', port: 5060 }, accepted: true };

describe('tracing module', () => {
  it('initialised before its destination is registered: the destination is found at the first event', async () => {
    const sinks = new Map<string, TraceSink>();
    const inst = await tracingModule.init(context(sinks, ['hep_dst']), {});
    try {
      const got: TracePacket[] = [];
      sinks.set('hep_dst', { name: 'hep_dst', send: (p) => void got.push(p as TracePacket) }); // proto_hep's init, later
      await inst.listening!([]);
      (inst.api as Tracing).accepted(conn);
      expect(got.map((p) => p.parts!.map(([, v]) => v).join(':'))).toEqual(['TCP:ACCEPTED:SUCCESS:Connection accepted...']);
    } finally {
      await inst.destroy?.();
    }
  });

  it('a declared destination nobody registered: the listening hook refuses to run, naming it', async () => {
    const inst = await tracingModule.init(context(new Map(), ['hep_dst']), {});
    try {
      expect(() => inst.listening!([])).toThrow(/trace_destination "hep_dst": no module registered it \(defined: none\)/);
    } finally {
      await inst.destroy?.();
    }
  });

  it('an undeclared destination is refused at init (OpenSIPS silently traces nothing)', async () => {
    await expect(Promise.resolve().then(() => tracingModule.init(context(new Map(), ['other']), {}))).rejects.toThrow(/trace_destination "hep_dst" names no hep_id \(defined: other\)/);
  });
});
