/**
 * Codec and listener figures. Run with `corepack pnpm --filter @x/proto-hep bench`.
 * decode/encode of an 823-byte SIP payload against hep-js in the same run (ratios printed),
 * then hep_udp and hep_tcp ingest from a separate sender process against peers (bench/ingest.ts).
 */
import { Bench } from 'tinybench';
// @ts-expect-error -- hep-js ships no types
import HEPjs from 'hep-js';
import { decode, encode, packHep, type HepPacket } from '../src/index.js';
import { tcpIngest, udpIngest } from './ingest.js';

const hepjs = HEPjs as { encapsulate(msg: string, rcinfo: Record<string, unknown>): Buffer; decapsulate(b: Buffer): unknown };

function sipPayload(size: number): string {
  const head =
    'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-524287-1---abcdef\r\n' +
    'Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\nTo: <sip:bob@example.com>\r\n' +
    'Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@10.0.0.1>\r\n' +
    'Content-Type: application/sdp\r\n';
  const body = 'v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
  let s = `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
  while (s.length < size) s = s.replace('Max-Forwards: 70\r\n', `Max-Forwards: 70\r\nX-Pad: ${'p'.repeat(Math.min(60, size - s.length))}\r\n`);
  return s.slice(0, size);
}

const sip = sipPayload(823);
const sipBuf = Buffer.from(sip);
const rcinfo = {
  type: 'HEP', version: 3, payload_type: 1, payloadType: 1, protocolFamily: 2, protocol: 17, captureId: 2001,
  srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5062, timeSeconds: 1700000000, timeUseconds: 123456,
  correlation_id: 'a84b4c76e66710@pc33.example.com',
};
const pkt: HepPacket = {
  version: 3, family: 2, ipProto: 17, srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 5060, dstPort: 5062,
  timestamp: { sec: 1700000000, usec: 123456 }, protoType: 1, captureId: 2001, payload: sipBuf,
  correlationId: 'a84b4c76e66710@pc33.example.com',
};
const wire = encode(pkt);
const wireHepjs = hepjs.encapsulate(sip, rcinfo);

async function codec(): Promise<void> {
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  let sink = 0;
  // BATCH packets per timed iteration, for both libraries alike, so the timer's own cost
  // (a performance.now() pair per iteration) does not cap the faster side
  const BATCH = 50;
  bench
    .add('@x/proto-hep decode', () => {
      for (let i = 0; i < BATCH; i++) sink += decode(wire).payload.length;
    })
    .add('hep-js decapsulate', () => {
      for (let i = 0; i < BATCH; i++) sink += hepjs.decapsulate(wire) ? 1 : 0;
    })
    .add('@x/proto-hep encode', () => {
      for (let i = 0; i < BATCH; i++) sink += encode(pkt).length;
    })
    .add('hep-js encapsulate', () => {
      for (let i = 0; i < BATCH; i++) sink += hepjs.encapsulate(sip, rcinfo).length;
    });
  await bench.run();
  const hz: Record<string, number> = {};
  for (const t of bench.tasks) {
    const r = t.result as { throughput?: { mean: number }; hz?: number } | undefined;
    hz[t.name] = (r?.throughput?.mean ?? r?.hz ?? 0) * BATCH;
    console.log(`${t.name.padEnd(24)} ${Math.round(hz[t.name] ?? 0).toLocaleString('en-US').padStart(12)} packets/s`);
  }
  console.log(`decode ratio @x/proto-hep / hep-js: ${(hz['@x/proto-hep decode']! / hz['hep-js decapsulate']!).toFixed(1)}x (aim >= 10x)`);
  console.log(`encode ratio @x/proto-hep / hep-js: ${(hz['@x/proto-hep encode']! / hz['hep-js encapsulate']!).toFixed(1)}x (aim >= 3x)`);
  console.log(`(packet ${wire.length} bytes; hep-js packet ${wireHepjs.length} bytes; sink ${sink > 0})`);
}

async function ingest(): Promise<void> {
  const one = packHep({ host: '10.0.0.1', port: 5060 }, { host: '10.0.0.2', port: 5062 }, 'udp', sipBuf, { captureId: 2001, correlationId: 'a84b4c76e66710@pc33.example.com' });
  await udpIngest(one);
  await tcpIngest(one);
}

await codec();
await ingest();
