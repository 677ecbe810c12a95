// The OPTIONS responder of bench/run.mjs: proto-tcp's createSipTcp answering 200 to every
// OPTIONS, in one of three modes:
//   off        no tracing at all
//   idle       @x/tracing attached to the tap, proto_tcp's switch off (trace_on = 0)
//   on-udp     tracing of every message: the "route" calls tracing.trace(msg) for each request,
//              so the request and its 200 both go out as HEP (proto type 1, Call-ID), over UDP
//   on-tcp     the same over HEP/TCP
//   on-tcp-worker  PROTOTYPE (ring-sink.mjs): the same HEP/TCP bytes, written by a worker thread
//              fed through a SharedArrayBuffer ring (no reconnect/cooldown: not a product path)
//   on-nowrite tracing of every message exactly as on-tcp, into a HepSender whose transmit does
//              nothing: what tracing costs in this process without the HEP write and without a
//              collector on the cores (on-tcp minus this = the write and the collector)
//   floor-tcp  NOT a tracer: the least any tracer of every message costs here. A tap subscriber
//              (core-conn's subscribeTap, as attachTracing) that reads each message's Call-ID,
//              encodes the HEPv3 packet into a 64 KiB buffer (proto-hep's Hep3TraceEncoder, the
//              tracer's bytes) and writes what a turn encoded in one write to a plain socket: no
//              switch, no trace() decision, no Call-ID following, no filter, no sink, no queue
//              bound, no reconnect. What @x/tracing adds is on-tcp minus this.
// argv: port, mode, HEP collector port (UDP and TCP).
import net from 'node:net';
import { createEngine, subscribeTap } from '@x/core-conn';
import { attachHep, buildHomer5Payload, Hep3TraceEncoder, HepSender, hepTcpSpec, hepUdpSpec } from '@x/proto-hep';
import { createSipTcp } from '@x/proto-tcp';
import { attachTracing, createTracing, sipCallId } from '@x/tracing';
import { ringSink } from './ring-sink.mjs';

const [portArg, mode, hepPort] = process.argv.slice(2);
let tracing;
let hep;
let hepEngine;
let ring;
let floor;
if (mode === 'floor-tcp') {
  const sock = net.connect(Number(hepPort), '127.0.0.1');
  sock.setNoDelay(true);
  sock.on('error', () => undefined);
  await new Promise((r) => sock.once('connect', r));
  const enc = new Hep3TraceEncoder(1);
  const SLAB = 64 * 1024;
  let slab = Buffer.allocUnsafeSlow(SLAB);
  let start = 0;
  let end = 0;
  let scheduled = false;
  floor = { sent: 0 };
  const flush = () => {
    scheduled = false;
    if (end > start) sock.write(slab.subarray(start, end));
    start = end;
  };
  const put = (ev, src, dst) => {
    const tp = { protoType: 1, ipProto: 6, src, dst, at: ev.at, correlationId: sipCallId(ev.bytes) };
    let e = enc.write(slab, end, tp, ev.bytes, ev.at);
    if (e < 0) {
      flush();
      slab = Buffer.allocUnsafeSlow(SLAB);
      start = end = 0;
      e = enc.write(slab, 0, tp, ev.bytes, ev.at);
    }
    if (e <= 0) return;
    end = e;
    floor.sent++;
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  subscribeTap({ only: ['tcp'], onMessageIn: (ev) => put(ev, ev.remote, ev.local), onMessageOut: (ev) => put(ev, ev.local, ev.remote) });
} else if (mode === 'on-nowrite') {
  // the sink attachHep registers (sendWith + the HEPv3 trace encoder), with a transmit that drops the bytes
  const sender = new HepSender({ name: 'hep_dst', host: '127.0.0.1', port: Number(hepPort), transport: 'tcp', version: 3 }, () => Promise.resolve(), { maxQueue: 65536 });
  const enc = new Hep3TraceEncoder(1);
  const write = (tp, b, at) => enc.write(b, at, tp, tp.parts ? buildHomer5Payload(tp.parts) : tp.payload, tp.at ?? Date.now());
  const sink = { name: 'hep_dst', send: (tp) => sender.sendWith(tp, write) };
  hep = { sender: () => sender };
  tracing = createTracing({ modules: [{ module: 'proto_tcp', protocols: ['tcp'], destination: 'hep_dst', on: true }], sinks: { get: () => sink, names: () => ['hep_dst'] } });
  attachTracing(tracing);
} else if (mode === 'on-tcp-worker') {
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
  if (floor) {
    process.stdout.write(`COUNTS ${JSON.stringify({ sent: floor.sent, dropped: 0, sender: { sent: floor.sent, dropped: 0 } })}\n`);
    void Promise.resolve(sip.close?.()).then(() => process.exit(floor.sent === 0 ? 3 : 0));
    return;
  }
  const c = tracing?.counts();
  if (c) process.stdout.write(`COUNTS ${JSON.stringify({ ...c, sender: ring ? { ...ring.stats, writes: ring.writes() } : hep.sender('hep_dst').stats() })}\n`);
  const bad = mode.startsWith('on') && (!c || c.sent === 0);
  void Promise.resolve(sip.close?.()).then(() => process.exit(bad ? 3 : 0));
});
