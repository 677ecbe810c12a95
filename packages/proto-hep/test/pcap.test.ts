import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import { decode, encode, HepFramer, type HepPacket } from '../src/index.js';
import { readPcap, tcpStreams } from '@x/core-conn/testing';

const fx = (n: string) => join(import.meta.dirname, 'fixtures', n);

class Sink implements FramerSink<HepPacket> {
  readonly got: HepPacket[] = [];
  message(m: HepPacket): void {
    this.got.push(m);
  }
  keepalive(): void {}
  reply(): void {}
}

function checkSip(p: HepPacket, version: number): void {
  expect(p.version).toBe(version);
  expect(p.family).toBe(2);
  expect(p.ipProto).toBe(17);
  expect(p.srcIp).toBe('127.0.0.1');
  expect(p.dstIp).toBe('127.0.0.1');
  expect([p.srcPort, p.dstPort].sort((a, b) => a! - b!)).toEqual([5060, 15070]);
  if (version > 1) expect(p.captureId).toBe(2001);
  else expect(p.captureId).toBeUndefined();
  const text = p.payload.toString('latin1');
  expect(text).toMatch(p.srcPort === 5060 ? /^OPTIONS sip:/ : /^SIP\/2\.0 200 /);
  if (p.timestamp) expect(p.timestamp.sec).toBeGreaterThan(1.7e9);
}

function checkV3Set(pkts: HepPacket[]): void {
  expect(pkts).toHaveLength(8);
  const sip = pkts.filter((p) => p.protoType === 1);
  const logs = pkts.filter((p) => p.protoType === 100);
  expect(sip).toHaveLength(6);
  expect(logs).toHaveLength(2);
  for (const p of pkts) {
    expect(p.captureId).toBe(2001);
    expect(p.family).toBe(2);
  }
  for (const p of sip) checkSip(p, 3);
  const withCid = sip.filter((p) => p.correlationId !== undefined);
  expect(withCid).toHaveLength(2);
  for (const p of withCid) {
    const callId = /Call-ID: *(\S+)/i.exec(p.payload.toString())![1]!;
    expect(p.correlationId).toBe(`${callId}-cid`);
  }
  for (const p of logs) {
    expect(p.correlationId).toMatch(/\S+/);
    expect(sip.some((s) => s.payload.toString().includes(`Call-ID: ${p.correlationId!}`))).toBe(true);
  }
}

describe('Kamailio siptrace captures', () => {
  it('HEPv3/UDP: 8 packets decode and re-encode byte-exact', () => {
    const dgrams = readPcap(fx('hepv3-udp-kamailio-siptrace.pcap')).filter((p) => p.proto === 'udp');
    const pkts = dgrams.map((d) => {
      expect(d.dport).toBe(19060);
      const p = decode(d.data);
      expect(encode(p).equals(d.data)).toBe(true);
      return p;
    });
    checkV3Set(pkts);
  });
  it('HEPv3/TCP: the reassembled stream frames into 8 packets, one segment held two', () => {
    const streams = tcpStreams(readPcap(fx('hepv3-tcp-kamailio-siptrace.pcap')));
    const s = [...streams.entries()].find(([k]) => k.endsWith(':19061'))![1];
    const f = new HepFramer();
    const sink = new Sink();
    let twoInOne = false;
    for (const seg of s.segments) {
      const before = sink.got.length;
      f.push(seg, sink);
      if (sink.got.length - before >= 2) twoInOne = true;
    }
    expect(twoInOne).toBe(true);
    expect(f.pendingBytes).toBe(0);
    checkV3Set(sink.got);
    expect(Buffer.concat(sink.got.map(encode)).equals(s.bytes)).toBe(true);
  });
  it('HEPv2/UDP: 4 datagrams, little-endian time block with padding, byte-exact', () => {
    const dgrams = readPcap(fx('hepv2-udp-kamailio-siptrace.pcap')).filter((p) => p.proto === 'udp');
    expect(dgrams).toHaveLength(4);
    for (const d of dgrams) {
      const p = decode(d.data);
      checkSip(p, 2);
      expect(p.v2TimeBlockLength).toBe(12);
      expect(p.timestamp!.usec).toBeLessThan(1e6);
      expect(encode(p).equals(d.data)).toBe(true);
    }
  });
  it('HEPv1/UDP: 4 datagrams, byte-exact', () => {
    const dgrams = readPcap(fx('hepv1-udp-kamailio-siptrace.pcap')).filter((p) => p.proto === 'udp');
    expect(dgrams).toHaveLength(4);
    for (const d of dgrams) {
      const p = decode(d.data);
      checkSip(p, 1);
      expect(encode(p).equals(d.data)).toBe(true);
    }
  });
  it('HEPv2/TCP: the framer refuses both connections at the first byte', () => {
    const streams = [...tcpStreams(readPcap(fx('hepv2-tcp-kamailio-siptrace.pcap'))).entries()].filter(([k]) => k.endsWith(':19061'));
    expect(streams).toHaveLength(2);
    for (const [, s] of streams) {
      const f = new HepFramer();
      const sink = new Sink();
      let code: string | undefined;
      try {
        for (const seg of s.segments) f.push(seg, sink);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).toBe('ERR_HEP_MAGIC');
      expect(sink.got).toHaveLength(0);
    }
  });
});
