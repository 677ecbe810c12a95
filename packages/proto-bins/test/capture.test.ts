// Every BIN packet two OpenSIPS 3.6.8 nodes exchanged decodes and re-encodes byte for byte,
// through the generic codec, the framer (whole streams, cut anywhere) and the typed
// clusterer helpers.
import { describe, expect, it } from 'vitest';
import type { FramerSink } from '@x/core-conn';
import {
  BinFramer,
  ClustererMsgType,
  decode,
  decodeClustererInternal,
  encode,
  encodeClustererInternal,
  encodeWithTrailer,
  splitTrailer,
  type BinPacket,
  BinReader,
} from '../src/index.js';
import { capturedPackets } from './capture.js';

const packets = capturedPackets();

class Sink implements FramerSink<BinPacket> {
  readonly got: BinPacket[] = [];
  message(m: BinPacket): void {
    this.got.push(m);
  }
  keepalive(): void {}
  reply(): void {}
}

describe('opensips-bin-clusterer.pcap', () => {
  it('holds 30 BIN packets: PING/PONG, topology, capabilities, usrloc replication', () => {
    expect(packets).toHaveLength(30);
    const kinds = packets.map((p) => `${decode(p.bytes).capability}/${decode(p.bytes).type}`);
    expect(kinds.filter((k) => k === 'clusterer-internal/0').length).toBeGreaterThan(5);
    expect(kinds).toContain('clusterer-internal/1');
    expect(kinds).toContain('clusterer-internal/3');
    expect(kinds).toContain('clusterer-internal/9');
    expect(kinds).toContain('usrloc-contact-repl/1');
    expect(kinds).toContain('usrloc-contact-repl/3');
    expect(packets[0]!.bytes.length).toBe(46);
  });

  it('every packet: encode(decode(b)) is b', () => {
    for (const p of packets) expect(encode(decode(p.bytes)).equals(p.bytes), `frame ${p.frame}`).toBe(true);
  });

  it('every clusterer-internal packet rebuilds from its typed form', () => {
    const seen = new Set<number>();
    for (const p of packets) {
      const pkt = decode(p.bytes);
      if (pkt.capability !== 'clusterer-internal') continue;
      const m = decodeClustererInternal(pkt);
      seen.add(m.type);
      expect(m.clusterId).toBe(1);
      expect(m.sourceId).toBe(p.from);
      expect(encodeClustererInternal(m).equals(p.bytes), `frame ${p.frame}`).toBe(true);
    }
    expect([...seen].sort()).toEqual([ClustererMsgType.PING, ClustererMsgType.PONG, ClustererMsgType.FULL_TOP_UPDATE, ClustererMsgType.CAP_UPDATE]);
  });

  it('reads the topology and capability updates as OpenSIPS wrote them', () => {
    const top = packets
      .map((p) => decode(p.bytes))
      .filter((p) => p.capability === 'clusterer-internal')
      .map(decodeClustererInternal)
      .find((m) => m.type === ClustererMsgType.FULL_TOP_UPDATE && m.sourceId === 1);
    expect(top).toMatchObject({
      seqNo: 0,
      nodes: [{ nodeId: 1, lsSeqNo: -1, lsTimestamp: 0, neighbours: [2] }],
      path: [1],
    });
    const caps = packets
      .filter((p) => decode(p.bytes).capability === 'clusterer-internal' && decode(p.bytes).type === ClustererMsgType.CAP_UPDATE)
      .map((p) => decodeClustererInternal(decode(p.bytes)));
    expect(caps[0]).toMatchObject({ sourceId: 1, seqNo: 0, nodes: [{ nodeId: 1, capabilities: [{ name: 'usrloc-contact-repl', state: 1 }] }], requireReply: 1, path: [1] });
  });

  it('the usrloc packets carry the trailer cluster 1, source 1, destination 2 and rebuild from it', () => {
    const ul = packets.filter((p) => decode(p.bytes).capability === 'usrloc-contact-repl');
    expect(ul).toHaveLength(2);
    for (const p of ul) {
      const pkt = decode(p.bytes);
      expect(pkt.version).toBe(5);
      const { fields, trailer } = splitTrailer(pkt.body);
      expect(trailer).toEqual({ clusterId: 1, sourceId: 1, destId: 2 });
      expect(new BinReader(fields).popStr()).toBe('location');
      expect(encodeWithTrailer(pkt.capability, pkt.type, pkt.version, fields, trailer).equals(p.bytes)).toBe(true);
    }
  });

  it('each direction as one stream, cut at every offset, frames to the same packets', () => {
    for (const from of [1, 2] as const) {
      const mine = packets.filter((p) => p.from === from).map((p) => p.bytes);
      const stream = Buffer.concat(mine);
      for (let cut = 1; cut < stream.length; cut += 7) {
        const f = new BinFramer();
        const s = new Sink();
        f.push(stream.subarray(0, cut), s);
        f.push(stream.subarray(cut), s);
        expect(s.got.length).toBe(mine.length);
        expect(Buffer.concat(s.got.map(encode)).equals(stream)).toBe(true);
        expect(f.pendingBytes).toBe(0);
      }
    }
  });
});
