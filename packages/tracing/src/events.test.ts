import { describe, expect, it } from 'vitest';
import { attachHep, decode, packHep, type HepPacketWriter } from '@x/proto-hep';
import { createEngine, type TraceSink } from '@x/core-conn';
import { NET_PROTO_TYPE, netEventParts, netTracePacket, x509Oneline, type NetEvent } from './events.js';

// hep.md §9: the worked example, byte for byte
const WORKED = Buffer.from(
  `48 45 50 33 00 a7 00 00 00 01 00 07 02 00 00 00
   02 00 07 06 00 00 00 07 00 08 9c 40 00 00 00 08
   00 08 13 c4 00 00 00 09 00 0a 65 53 f1 00 00 00
   00 0a 00 0a 00 01 e2 40 00 00 00 0b 00 07 59 00
   00 00 0c 00 0a 00 00 00 01 00 00 00 03 00 0a c0
   00 02 0a 00 00 00 04 00 0a c0 00 02 01 00 00 00
   0f 00 31 54 43 50 3a 41 43 43 45 50 54 45 44 3a
   53 55 43 43 45 53 53 3a 43 6f 6e 6e 65 63 74 69
   6f 6e 20 61 63 63 65 70 74 65 64 2e 2e 2e 00 00
   00 11 00 19 33 30 35 32 39 34 31 34 33 37 37 39
   37 36 36 33 39 35 34`.replace(/\s+/g, ''),
  'hex',
);

const accepted: NetEvent = {
  protocol: 'TCP',
  event: 'ACCEPTED',
  status: 'SUCCESS',
  message: 'Connection accepted...',
  cid: 0x2a5e3a10000004d2n,
  remote: { host: '192.0.2.10', port: 40000 },
  local: { host: '192.0.2.1', port: 5060 },
  timestamp: { sec: 1700000000, usec: 123456 },
};

/** proto-hep's TraceSink, as x-server wires it, capturing the packets it would queue. */
function hepSink(params: { homer5_on?: boolean } = {}): { sink: TraceSink; out: Buffer[]; close: () => void } {
  const engine = createEngine();
  const sinks: TraceSink[] = [];
  const hep = attachHep(engine, { hep_id: ['[hep_dst] 127.0.0.1:9; transport=udp'], ...params }, { registerSink: (s) => sinks.push(s), sender: { maxQueue: 100 } });
  const out: Buffer[] = [];
  // capture what the sender is given, before it tries the network
  const sender = hep.sender('hep_dst')!;
  // (the sink encodes straight into the sender's buffer: the same writer into a scratch buffer)
  const orig = sender.sendWith.bind(sender);
  sender.sendWith = <T>(item: T, write: HepPacketWriter<T>): boolean => {
    const b = Buffer.alloc(65536);
    const end = write(item, b, 0);
    if (end > 0) out.push(b.subarray(0, end));
    return orig(item, write);
  };
  return { sink: sinks[0]!, out, close: () => { hep.close(); void engine.shutdown(); } };
}

describe('net events (tracing.md §4, hep.md §9)', () => {
  it('parts in OpenSIPS order', () => {
    expect(netEventParts(accepted)).toEqual([
      ['Protocol', 'TCP'],
      ['Event', 'ACCEPTED'],
      ['Status', 'SUCCESS'],
      ['Message', 'Connection accepted...'],
    ]);
  });

  it('an empty Message is left out (add_trace_data refuses empty values)', () => {
    expect(netEventParts({ ...accepted, message: '' }).map(([k]) => k)).toEqual(['Protocol', 'Event', 'Status']);
  });

  it('TLS parts come after Protocol and before Event, each only when known', () => {
    const parts = netEventParts({
      ...accepted,
      protocol: 'BINS',
      tls: { clientSubject: '/C=RO/O=Example/CN=peer', clientIssuer: '/CN=ca', serverSubject: '/CN=me', masterKey: 'ab01' },
    });
    expect(parts).toEqual([
      ['Protocol', 'BINS'],
      ['client-subject', '/C=RO/O=Example/CN=peer'],
      ['client-issuer', '/CN=ca'],
      ['server-subject', '/CN=me'],
      ['master-key', 'ab01'],
      ['Event', 'ACCEPTED'],
      ['Status', 'SUCCESS'],
      ['Message', 'Connection accepted...'],
    ]);
  });

  it('the trace packet: proto type 0x59, ip proto per protocol, remote -> local, cid in decimal', () => {
    const tp = netTracePacket(accepted);
    expect(tp).toMatchObject({ protoType: 0x59, ipProto: 6, src: accepted.remote, dst: accepted.local, correlationId: '3052941437797663954' });
    expect(netTracePacket({ ...accepted, protocol: 'TLS' }).ipProto).toBe(22);
    expect(netTracePacket({ ...accepted, protocol: 'BINS' }).ipProto).toBe(22);
    expect(netTracePacket({ ...accepted, protocol: 'WSS' }).ipProto).toBe(50);
    expect(netTracePacket({ ...accepted, protocol: 'MSRP' }).ipProto).toBe(6);
    expect(netTracePacket({ ...accepted, protocol: 'MSRPS' }).ipProto).toBe(22);
    expect(NET_PROTO_TYPE).toBe(0x59);
  });

  it('through proto-hep\'s sink (HOMER5, the default): the worked example of hep.md §9, byte for byte', () => {
    const h = hepSink();
    expect(h.sink.send(netTracePacket(accepted))).toBe(true);
    h.close();
    expect(h.out).toHaveLength(1);
    expect(h.out[0]!.toString('hex')).toBe(WORKED.toString('hex'));
  });

  it('HOMER6: the payload is cJSON\'s formatted object, no chunk 101, the cid still in 0x11', () => {
    const h = hepSink({ homer5_on: false });
    h.sink.send(netTracePacket(accepted));
    h.close();
    const pkt = decode(h.out[0]!);
    expect(pkt.payload.toString()).toBe('{\n\t"Protocol":\t"TCP",\n\t"Event":\t"ACCEPTED",\n\t"Status":\t"SUCCESS",\n\t"Message":\t"Connection accepted..."\n}');
    expect(pkt.extraCorrelation).toBeUndefined();
    expect(pkt.correlationId).toBe('3052941437797663954');
    expect(pkt.protoType).toBe(0x59);
    // the same packet as packHep with that payload
    expect(h.out[0]!.equals(packHep(accepted.remote, accepted.local, 6, pkt.payload, { protoType: 0x59, timestamp: accepted.timestamp!, correlationId: '3052941437797663954' }))).toBe(true);
  });

  it('CLOSED carries the real addresses in the accept direction and the reason (OpenSIPS: 127.0.0.2:0)', () => {
    const h = hepSink();
    h.sink.send(netTracePacket({ ...accepted, event: 'CLOSED', message: 'EOF received' }));
    h.close();
    const pkt = decode(h.out[0]!);
    expect([pkt.srcIp, pkt.srcPort, pkt.dstIp, pkt.dstPort]).toEqual(['192.0.2.10', 40000, '192.0.2.1', 5060]);
    expect(pkt.payload.toString()).toBe('TCP:CLOSED:SUCCESS:EOF received');
  });

  it('IPv6 connections use chunks 5/6', () => {
    const h = hepSink();
    h.sink.send(netTracePacket({ ...accepted, remote: { host: '2001:db8::10', port: 1 }, local: { host: '2001:db8::1', port: 5060 } }));
    h.close();
    const pkt = decode(h.out[0]!);
    expect(pkt.family).toBe(10);
    expect(pkt.chunks!.map((c) => c.type)).toContain(5);
    expect(pkt.srcIp).toBe('2001:db8::10');
  });

  it('the cid is written as an unsigned 64-bit decimal', () => {
    expect(netTracePacket({ ...accepted, cid: 0xffffffffffffffffn }).correlationId).toBe('18446744073709551615');
    expect(netTracePacket({ ...accepted, cid: 7n }).correlationId).toBe('7');
  });
});

describe('x509Oneline', () => {
  it('OpenSSL oneline order and form', () => {
    expect(x509Oneline({ CN: 'host', O: 'Example', C: 'RO' })).toBe('/C=RO/O=Example/CN=host');
    expect(x509Oneline({ CN: 'a', OU: ['x', 'y'] })).toBe('/OU=x/OU=y/CN=a');
    expect(x509Oneline({})).toBeUndefined();
    expect(x509Oneline(undefined)).toBeUndefined();
  });
});
