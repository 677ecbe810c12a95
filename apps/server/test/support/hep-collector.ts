// What the tracing tests share: an x HEP collector on 127.0.0.1 (HEP over UDP; the packets and
// a copy of their payloads, in arrival order) and a bounded wait for a condition.
import { createEngine, type Engine } from '@x/core-conn';
import { attachHep, hepTcpSpec, hepUdpSpec, type HepApi, type HepReceived } from '@x/proto-hep';

/** Polls `cond` every 10 ms; throws "timed out waiting for <what>" after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface HepCollector {
  /** every packet received, in order, its payload copied */
  got: HepReceived[];
  /** the UDP port it listens on (127.0.0.1) */
  port: number;
  stop(): Promise<void>;
}

/** An x HEP listener on 127.0.0.1 (hep_udp; hep_tcp registered too); register `stop` with the test's cleanup. */
export async function hepCollector(): Promise<HepCollector> {
  const engine: Engine = createEngine();
  engine.registerProtocol(hepUdpSpec());
  engine.registerProtocol(hepTcpSpec());
  const hep: HepApi = attachHep(engine);
  const got: HepReceived[] = [];
  hep.registerHepCallback((r) => void got.push({ ...r, payload: Buffer.from(r.payload) }));
  const l = await engine.listen('hep_udp:127.0.0.1:0');
  return {
    got,
    port: l.address.port,
    async stop() {
      hep.close();
      await engine.shutdown({ deadlineMs: 0 });
    },
  };
}
