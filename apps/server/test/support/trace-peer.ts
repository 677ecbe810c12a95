// The TLS tracing tests' MSRP / BIN peer: an engine of its own with msrp, msrps and bins, whose
// client domain presents the trace PKI's client certificate and trusts the server CA, and msrp
// listeners on 127.0.0.1 and 127.0.0.2 (an outbound connection bound to one comes from its address).
import { createEngine, type Engine } from '@x/core-conn';
import { attachBin, binsSpec, type BinApi } from '@x/proto-bins';
import { attachMsrp, msrpSpec, msrpsSpec, type MsrpApi } from '@x/proto-msrp';
import { clientDomain, type TracePki } from './trace-pki.js';

export interface TracePeer {
  engine: Engine;
  msrp: MsrpApi;
  bin: BinApi;
  /** listener ids of its msrp listeners on 127.0.0.1 and 127.0.0.2 */
  from1: number;
  from2: number;
  /** closes msrp and bin, shuts the engine down at once */
  stop(): Promise<void>;
}

export async function tracePeer(pki: TracePki): Promise<TracePeer> {
  const engine = createEngine({ tlsDomains: [clientDomain(pki)] });
  engine.registerProtocol(msrpSpec() as never);
  engine.registerProtocol(msrpsSpec() as never);
  engine.registerProtocol(binsSpec() as never);
  const msrp = attachMsrp(engine);
  const bin = attachBin(engine);
  const stop = async () => {
    msrp.close();
    bin.close();
    await engine.shutdown({ deadlineMs: 0 });
  };
  try {
    const l1 = await engine.listen('msrp:127.0.0.1:0');
    const l2 = await engine.listen('msrp:127.0.0.2:0');
    return { engine, msrp, bin, from1: l1.id, from2: l2.id, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
