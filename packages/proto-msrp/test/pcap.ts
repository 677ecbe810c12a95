import { readFileSync } from 'node:fs';

export interface TcpSegment {
  src: string;
  dst: string;
  seq: number;
  payload: Buffer;
}

/** A tiny classic-pcap reader: Ethernet + IPv4 + TCP, payload-bearing segments only. */
export function readTcpSegments(path: string): TcpSegment[] {
  const buf = readFileSync(path);
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const out: TcpSegment[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = u32(off + 8);
    const pkt = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    if (pkt.readUInt16BE(12) !== 0x0800) continue;
    const ip = pkt.subarray(14);
    if (ip[9] !== 6) continue;
    const ihl = (ip[0]! & 0x0f) * 4;
    const tcp = ip.subarray(ihl, ip.readUInt16BE(2));
    const payload = tcp.subarray((tcp[12]! >> 4) * 4);
    if (payload.length === 0) continue;
    const addr = (o: number): string => `${ip[o]}.${ip[o + 1]}.${ip[o + 2]}.${ip[o + 3]}`;
    out.push({ src: `${addr(12)}:${tcp.readUInt16BE(0)}`, dst: `${addr(16)}:${tcp.readUInt16BE(2)}`, seq: tcp.readUInt32BE(4), payload });
  }
  return out;
}

/** One buffer per direction ("src>dst"), segments in sequence order. */
export function streams(segs: TcpSegment[]): Map<string, Buffer> {
  const m = new Map<string, TcpSegment[]>();
  for (const s of segs) {
    const k = `${s.src}>${s.dst}`;
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(s);
  }
  const out = new Map<string, Buffer>();
  for (const [k, list] of m) out.set(k, Buffer.concat(list.sort((a, b) => a.seq - b.seq).map((s) => s.payload)));
  return out;
}
