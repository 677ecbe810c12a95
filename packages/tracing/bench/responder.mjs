// The OPTIONS responder of bench/run.mjs: proto-tcp's createSipTcp answering 200 to every
// OPTIONS, in one of three modes:
//   off        no tracing at all
//   idle       @x/tracing attached to the tap, proto_tcp's switch off (trace_on = 0)
//   on-udp     tracing of every message: the "route" calls tracing.trace(msg) for each request,
//              so the request and its 200 both go out as HEP (proto type 1, Call-ID), over UDP
//   on-tcp     the same over HEP/TCP
//   on-tcp-worker  PROTOTYPE (ring-sink.mjs): the same HEP/TCP bytes, written by a worker thread
//              fed through a SharedArrayBuffer ring (no reconnect/cooldown: not a product path)
// argv: port, mode, HEP collector port (UDP and TCP).
import { createEngine } from '@x/core-conn';
import { attachHep, hepTcpSpec, hepUdpSpec } from '@x/proto-hep';
import { createSipTcp } from '@x/proto-tcp';
import { attachTracing, createTracing } from '@x/tracing';
import { ringSink } from './ring-sink.mjs';

const [portArg, mode, hepPort] = process.argv.slice(2);
let tracing;
let hep;
let hepEngine;
let ring;
if (mode === 'on-tcp-worker') {
  ring = ringSink('hep_dst', Number(hepPort));
  tracing = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }], sinks: { get: () => ring, names: () => ['hep_dst'] } });
  attachTracing(tracing);
} else if (mode !== 'off') {
  hepEngine = createEngine();
  hepEngine.registerProtocol(hepUdpSpec());
  hepEngine.registerProtocol(hepTcpSpec());
  await hepEngine.listen('hep_udp:127.0.0.1:0');
  const sinks = new Map();
  hep = attachHep(hepEngine, { hep_id: [`[hep_dst] 127.0.0.1:${hepPort}; transport=${mode === 'on-tcp' ? 'tcp' : 'udp'}`] }, { registerSink: (s) => sinks.set(s.name, s), sender: { maxQueue: 65536 } });
  tracing = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: mode.startsWith('on') }], sinks: { get: (n) => sinks.get(n), names: () => [...sinks.keys()] } });
  attachTracing(tracing);
}
const sip = await createSipTcp({ listen: [`tcp:127.0.0.1:${portArg}`], engineOptions: { maxConnections: 16384, socketBacklog: 1024 } });
sip.on('request', (msg) => {
  if (msg.method === 'ACK') return;
  if (tracing) tracing.trace(msg);
  try {
    msg.replyNow(200, 'OK');
  } catch {
    /* the load generator counts the loss */
  }
});
process.on('SIGTERM', () => {
  const c = tracing?.counts();
  if (c) process.stdout.write(`COUNTS ${JSON.stringify({ ...c, sender: ring ? { ...ring.stats, writes: ring.writes() } : hep.sender('hep_dst').stats() })}\n`);
  const bad = mode.startsWith('on') && (!c || c.sent === 0);
  void Promise.resolve(sip.close?.()).then(() => process.exit(bad ? 3 : 0));
});
