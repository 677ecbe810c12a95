import { HepError, HepErrorCodes } from './errors.js';
import { ipKind, writeIpv4, writeIpv6 } from './ip.js';
import { AF_INET, AF_INET6, ChunkType, type HepChunk, type HepPacket } from './types.js';

function invalid(msg: string): never {
  throw new HepError(HepErrorCodes.INVALID, msg);
}

function uint(v: number, bits: 8 | 16 | 32, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) invalid(`${what} ${v} is not an unsigned ${bits}-bit integer`);
  return v;
}

/**
 * Encodes a packet. v3 with `chunks`: those chunks in that order (byte-exact re-encoding of a
 * decoded packet). v3 otherwise: OpenSIPS's order (`build_hep3_buf`): 0x01 0x02 0x07 0x08 0x09
 * 0x0A 0x0B 0x0C, addresses, payload, 101, then 0x11 0x0D 0x0E 0x12 0x13 and vendor chunks.
 * Throws HepError ERR_HEP_INVALID on a packet it cannot write.
 */
export function encode(pkt: HepPacket): Buffer {
  if (pkt.version === 3) return pkt.chunks ? encodeChunks(pkt.chunks) : encodeV3(pkt);
  if (pkt.version === 1 || pkt.version === 2) return encodeV12(pkt);
  return invalid(`HEP version ${String(pkt.version)} is not 1, 2 or 3`);
}

/** Writes a HEPv3 packet from a chunk list, as is. */
export function encodeChunks(chunks: readonly HepChunk[]): Buffer {
  let total = 6;
  for (const c of chunks) total += 6 + c.data.length;
  if (total > 0xffff) invalid(`HEPv3 packet of ${total} bytes exceeds 65535`);
  const b = Buffer.allocUnsafe(total);
  b.writeUInt32BE(0x48455033, 0);
  b.writeUInt16BE(total, 4);
  let o = 6;
  for (const c of chunks) {
    const len = 6 + c.data.length;
    b.writeUInt16BE(uint(c.vendor, 16, 'chunk vendor'), o);
    b.writeUInt16BE(uint(c.type, 16, 'chunk type'), o + 2);
    b.writeUInt16BE(len, o + 4);
    c.data.copy(b, o + 6);
    o += len;
  }
  return b;
}

function encodeV3(p: HepPacket): Buffer {
  if (!Buffer.isBuffer(p.payload)) invalid('payload must be a Buffer');
  const src = p.srcIp !== undefined ? ipKind(p.srcIp, 'srcIp') : 0;
  const dst = p.dstIp !== undefined ? ipKind(p.dstIp, 'dstIp') : 0;
  // byte lengths now, bytes written in place later: no intermediate Buffers
  const corr = p.correlationId !== undefined ? Buffer.byteLength(p.correlationId, 'utf8') : -1;
  const auth = p.authKey !== undefined ? Buffer.byteLength(p.authKey, 'utf8') : -1;
  const node = p.nodeName !== undefined ? Buffer.byteLength(p.nodeName, 'utf8') : -1;
  const extra = p.extraCorrelation !== undefined ? Buffer.byteLength(p.extraCorrelation, 'utf8') : -1;
  let total = 6;
  if (p.family !== undefined) total += 7;
  if (p.ipProto !== undefined) total += 7;
  if (p.srcPort !== undefined) total += 8;
  if (p.dstPort !== undefined) total += 8;
  if (p.timestamp) total += 20;
  if (p.protoType !== undefined) total += 7;
  if (p.captureId !== undefined) total += 10;
  if (src) total += src === 4 ? 10 : 22;
  if (dst) total += dst === 4 ? 10 : 22;
  total += 6 + p.payload.length;
  if (extra >= 0) total += 6 + extra;
  if (corr >= 0) total += 6 + corr;
  if (p.keepAliveTimer !== undefined) total += 8;
  if (auth >= 0) total += 6 + auth;
  if (p.vlan !== undefined) total += 8;
  if (node >= 0) total += 6 + node;
  if (p.vendorChunks) for (const c of p.vendorChunks) total += 6 + c.data.length;
  if (total > 0xffff) invalid(`HEPv3 packet of ${total} bytes exceeds 65535`);

  const b = Buffer.allocUnsafe(total);
  b.writeUInt32BE(0x48455033, 0);
  b.writeUInt16BE(total, 4);
  let o = 6;
  const head = (type: number, len: number, vendor = 0): number => {
    b.writeUInt16BE(vendor, o);
    b.writeUInt16BE(type, o + 2);
    b.writeUInt16BE(len, o + 4);
    const d = o + 6;
    o += len;
    return d;
  };
  const bytes = (type: number, data: Buffer, vendor = 0): void => {
    data.copy(b, head(type, 6 + data.length, vendor));
  };
  const text = (type: number, s: string, len: number): void => {
    b.write(s, head(type, 6 + len), len, 'utf8');
  };
  if (p.family !== undefined) b[head(ChunkType.IP_FAMILY, 7)] = uint(p.family, 8, 'family');
  if (p.ipProto !== undefined) b[head(ChunkType.IP_PROTO, 7)] = uint(p.ipProto, 8, 'ipProto');
  if (p.srcPort !== undefined) b.writeUInt16BE(uint(p.srcPort, 16, 'srcPort'), head(ChunkType.SRC_PORT, 8));
  if (p.dstPort !== undefined) b.writeUInt16BE(uint(p.dstPort, 16, 'dstPort'), head(ChunkType.DST_PORT, 8));
  if (p.timestamp) {
    b.writeUInt32BE(uint(p.timestamp.sec, 32, 'timestamp.sec'), head(ChunkType.TS_SEC, 10));
    b.writeUInt32BE(uint(p.timestamp.usec, 32, 'timestamp.usec'), head(ChunkType.TS_USEC, 10));
  }
  if (p.protoType !== undefined) b[head(ChunkType.PROTO_TYPE, 7)] = uint(p.protoType, 8, 'protoType');
  if (p.captureId !== undefined) b.writeUInt32BE(uint(p.captureId, 32, 'captureId'), head(ChunkType.CAPTURE_ID, 10));
  if (src === 4) writeIpv4(p.srcIp!, b, head(ChunkType.IPV4_SRC, 10));
  if (dst === 4) writeIpv4(p.dstIp!, b, head(ChunkType.IPV4_DST, 10));
  if (src === 6) writeIpv6(p.srcIp!, b, head(ChunkType.IPV6_SRC, 22));
  if (dst === 6) writeIpv6(p.dstIp!, b, head(ChunkType.IPV6_DST, 22));
  bytes(p.compressed ? ChunkType.COMPRESSED_PAYLOAD : ChunkType.PAYLOAD, p.payload);
  if (extra >= 0) text(ChunkType.EXTRA_CORRELATION, p.extraCorrelation!, extra);
  if (corr >= 0) text(ChunkType.CORRELATION_ID, p.correlationId!, corr);
  if (p.keepAliveTimer !== undefined) b.writeUInt16BE(uint(p.keepAliveTimer, 16, 'keepAliveTimer'), head(ChunkType.KEEPALIVE, 8));
  if (auth >= 0) text(ChunkType.AUTH_KEY, p.authKey!, auth);
  if (p.vlan !== undefined) b.writeUInt16BE(uint(p.vlan, 16, 'vlan'), head(ChunkType.VLAN, 8));
  if (node >= 0) text(ChunkType.NODE_NAME, p.nodeName!, node);
  if (p.vendorChunks) {
    for (const c of p.vendorChunks) bytes(uint(c.type, 16, 'chunk type'), c.data, uint(c.vendor, 16, 'chunk vendor'));
  }
  return b;
}

function encodeV12(p: HepPacket): Buffer {
  const v = p.version;
  if (p.srcIp === undefined || p.dstIp === undefined) invalid(`HEPv${v} needs srcIp and dstIp`);
  const k = ipKind(p.srcIp, 'srcIp');
  if (ipKind(p.dstIp, 'dstIp') !== k) invalid(`HEPv${v} needs srcIp and dstIp of the same family`);
  const family = p.family ?? (k === 4 ? AF_INET : AF_INET6);
  if (family !== (k === 4 ? AF_INET : AF_INET6)) invalid(`family ${family} does not match the IPv${k} addresses`);
  const hl = k === 4 ? 16 : 40;
  const tb = v === 2 ? (p.v2TimeBlockLength ?? 12) : 0;
  if (tb !== 0 && tb !== 10 && tb !== 12) invalid('v2TimeBlockLength must be 10 or 12');
  const b = Buffer.allocUnsafe(hl + tb + p.payload.length);
  b[0] = v;
  b[1] = hl;
  b[2] = family;
  b[3] = uint(p.ipProto ?? 17, 8, 'ipProto');
  b.writeUInt16BE(uint(p.srcPort ?? 0, 16, 'srcPort'), 4);
  b.writeUInt16BE(uint(p.dstPort ?? 0, 16, 'dstPort'), 6);
  if (k === 4) {
    writeIpv4(p.srcIp, b, 8);
    writeIpv4(p.dstIp, b, 12);
  } else {
    writeIpv6(p.srcIp, b, 8);
    writeIpv6(p.dstIp, b, 24);
  }
  if (tb) {
    const ts = p.timestamp ?? { sec: 0, usec: 0 };
    b.writeUInt32LE(uint(ts.sec, 32, 'timestamp.sec'), hl);
    b.writeUInt32LE(uint(ts.usec, 32, 'timestamp.usec'), hl + 4);
    b.writeUInt16LE(uint(p.captureId ?? 0, 16, 'v2 captureId'), hl + 8);
    if (tb === 12) b.writeUInt16LE(0, hl + 10);
  }
  p.payload.copy(b, hl + tb);
  return b;
}
