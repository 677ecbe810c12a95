import { createEngine, type Engine } from '@x/core-conn';
import { kamailioCore, kamailioSiptraceParams, kamailioStatelessRoute } from '@x/test-peers';
import { attachHep, hepTcpSpec, hepUdpSpec, type HepApi, type HepReceived } from '../../src/index.js';

/** Our fixed-port range (peers need a known port). */
export const RANGE: readonly [number, number] = [16000, 17999];

export async function hepListener(port: number): Promise<{ engine: Engine; hep: HepApi; got: HepReceived[]; close(): Promise<void> }> {
  const engine = createEngine({});
  engine.registerProtocol(hepUdpSpec() as never);
  engine.registerProtocol(hepTcpSpec() as never);
  const hep = attachHep(engine, {});
  const got: HepReceived[] = [];
  hep.registerHepCallback((r) => {
    got.push(r);
  });
  await engine.listen(`hep_udp:127.0.0.1:${port}`);
  await engine.listen(`hep_tcp:127.0.0.1:${port}`);
  return {
    engine,
    hep,
    got,
    async close() {
      hep.close();
      await engine.shutdown({ deadlineMs: 500 });
    },
  };
}

export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

/** peers.md §4(b): Kamailio siptrace mirroring all SIP to a HEP collector. */
export function siptraceConfig(sipPort: number, hepPort: number, version: 1 | 2 | 3, transport: 'udp' | 'tcp'): string {
  const core = kamailioCore({ listen: [`udp:127.0.0.1:${sipPort}`, `tcp:127.0.0.1:${sipPort}`], modules: ['sl', 'tm', 'siptrace'] });
  return `${core}\n${kamailioSiptraceParams({ port: hepPort, transport, version, captureId: 2001 })}\n${kamailioStatelessRoute()}`;
}
