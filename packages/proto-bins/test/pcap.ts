// A tiny pcap reader for the capture fixtures: Ethernet + IPv4 + TCP/UDP payloads, in order.
import { readFileSync } from 'node:fs';

export interface Segment {
  frame: number;
  proto: 'tcp' | 'udp';
  srcPort: number;
  dstPort: number;
  /** TCP flags byte (0 for UDP) */
  flags: number;
  payload: Buffer;
}

export function readPcap(path: string | URL): Segment[] {
  const b = readFileSync(path);
  if (b.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error('not a little-endian pcap');
  const out: Segment[] = [];
  let off = 24;
  let frame = 0;
  while (off + 16 <= b.length) {
    const incl = b.readUInt32LE(off + 8);
    const d = b.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    frame++;
    const ip = d.subarray(14);
    const ihl = (ip[0]! & 15) * 4;
    const ipLen = ip.readUInt16BE(2);
    const proto = ip[9];
    const l4 = ip.subarray(ihl, ipLen);
    if (proto === 6) {
      const doff = (l4[12]! >> 4) * 4;
      out.push({ frame, proto: 'tcp', srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2), flags: l4[13]!, payload: l4.subarray(doff) });
    } else if (proto === 17) {
      out.push({ frame, proto: 'udp', srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2), flags: 0, payload: l4.subarray(8) });
    }
  }
  return out;
}
