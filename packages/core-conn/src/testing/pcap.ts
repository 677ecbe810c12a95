import { readFileSync } from 'node:fs';

/** One UDP datagram or one TCP segment's payload, from an Ethernet/IPv4 pcap. */
export interface PcapPacket {
  /** 1-based frame number in the capture */
  frame: number;
  proto: 'udp' | 'tcp';
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP only */
  seq?: number;
  /** TCP flags byte; 0 for UDP */
  flags: number;
  data: Buffer;
}

const ip4 = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** A small libpcap (not pcapng) reader: Ethernet + IPv4 + UDP/TCP, enough for the loopback captures of the fixtures. */
export function readPcap(file: string | URL): PcapPacket[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const out: PcapPacket[] = [];
  let o = 24;
  let frame = 0;
  while (o + 16 <= b.length) {
    const incl = u32(o + 8);
    const f = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    frame++;
    if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) continue;
    const ip = f.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    const l4 = ip.subarray(ihl, ip.readUInt16BE(2));
    const src = ip4(ip, 12);
    const dst = ip4(ip, 16);
    if (ip[9] === 17) {
      out.push({ frame, proto: 'udp', src, dst, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), flags: 0, data: Buffer.from(l4.subarray(8)) });
    } else if (ip[9] === 6) {
      const doff = (l4[12]! >> 4) * 4;
      out.push({ frame, proto: 'tcp', src, dst, sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: l4.readUInt32BE(4), flags: l4[13]!, data: Buffer.from(l4.subarray(doff)) });
    }
  }
  return out;
}

/**
 * TCP reassembly per direction, keyed `src:sport->dst:dport`, in sequence order, dropping
 * retransmissions: each stream's payload-bearing segments (as captured) and their bytes.
 */
export function tcpStreams(pkts: PcapPacket[]): Map<string, { segments: Buffer[]; bytes: Buffer }> {
  const streams = new Map<string, { next?: number; segments: Buffer[] }>();
  for (const p of pkts) {
    if (p.proto !== 'tcp') continue;
    const key = `${p.src}:${p.sport}->${p.dst}:${p.dport}`;
    let s = streams.get(key);
    if (!s) streams.set(key, (s = { segments: [] }));
    if ((p.flags & 0x02) !== 0) {
      s.next = (p.seq! + 1) >>> 0;
      continue;
    }
    if (!p.data.length) continue;
    if (s.next === undefined) s.next = p.seq!;
    if (p.seq !== s.next) continue;
    s.segments.push(p.data);
    s.next = (s.next + p.data.length) >>> 0;
  }
  const out = new Map<string, { segments: Buffer[]; bytes: Buffer }>();
  for (const [k, v] of streams) if (v.segments.length) out.set(k, { segments: v.segments, bytes: Buffer.concat(v.segments) });
  return out;
}
