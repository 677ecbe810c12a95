import { HepError, HepErrorCodes } from './errors.js';
import { ipKind, writeIpv4, writeIpv6 } from './ip.js';
import { AF_INET, AF_INET6, ChunkType, type HepChunk, type HepPacket } from './types.js';

function invalid(msg: string): never {
  throw new HepError(HepErrorCodes.INVALID, msg);
}

/** A value in an error message, without calling anything on it (it may be any object). */
function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  return `a ${typeof v}`;
}

// bit tricks instead of Number.isInteger + range: false for fractions, negatives and NaN
function uint(v: number, bits: 8 | 16 | 32, what: string): number {
  const ok = typeof v === 'number' && (bits === 32 ? v >>> 0 === v : bits === 16 ? (v & 0xffff) === v : (v & 0xff) === v);
  if (!ok) invalid(`${what} ${show(v)} is not an unsigned ${bits}-bit integer`);
  return v;
}

function str(v: unknown, what: string): number {
  if (typeof v !== 'string') invalid(`${what} must be a string, got ${show(v)}`);
  return Buffer.byteLength(v, 'utf8');
}

function chunkList(v: unknown, what: string): readonly HepChunk[] {
  if (!Array.isArray(v)) invalid(`${what} must be an array of chunks`);
  for (const c of v as unknown[]) {
    if (typeof c !== 'object' || c === null) invalid(`${what}: ${show(c)} is not a chunk`);
    const k = c as HepChunk;
    uint(k.vendor, 16, 'chunk vendor');
    uint(k.type, 16, 'chunk type');
    if (!Buffer.isBuffer(k.data)) invalid(`${what}: chunk data must be a Buffer, got ${show(k.data)}`);
  }
  return v as readonly HepChunk[];
}

/**
 * Encodes a packet. v3 with `chunks`: those chunks in that order (byte-exact re-encoding of a
 * decoded packet). v3 otherwise: OpenSIPS's order (`build_hep3_buf`): 0x01 0x02 0x07 0x08 0x09
 * 0x0A 0x0B 0x0C, addresses, payload, 101, then 0x11 0x0D 0x0E 0x12 0x13 and vendor chunks.
 * Throws HepError ERR_HEP_INVALID on a packet it cannot write.
 */
export function encode(pkt: HepPacket): Buffer {
  if (typeof pkt !== 'object' || pkt === null) invalid(`a HEP packet must be an object, got ${show(pkt)}`);
  if (pkt.version === 3) return pkt.chunks !== undefined ? encodeChunks(pkt.chunks) : encodeV3(pkt);
  if (pkt.version === 1 || pkt.version === 2) return encodeV12(pkt);
  return invalid(`HEP version ${show(pkt.version)} is not 1, 2 or 3`);
}

/** Writes a HEPv3 packet from a chunk list, as is. */
export function encodeChunks(chunks: readonly HepChunk[]): Buffer {
  chunkList(chunks, 'chunks');
  let total = 6;
  for (const c of chunks) total += 6 + c.data.length;
  if (total > 0xffff) invalid(`HEPv3 packet of ${total} bytes exceeds 65535`);
  const b = Buffer.allocUnsafe(total);
  b.writeUInt32BE(0x48455033, 0);
  b.writeUInt16BE(total, 4);
  let o = 6;
  for (const c of chunks) {
    const len = 6 + c.data.length;
    b.writeUInt16BE(c.vendor, o);
    b.writeUInt16BE(c.type, o + 2);
    b.writeUInt16BE(len, o + 4);
    c.data.copy(b, o + 6);
    o += len;
  }
  return b;
}

// chunk writers return the next offset; plain functions, no per-call closures
function hdr(b: Buffer, o: number, vendor: number, type: number, len: number): void {
  b[o] = vendor >>> 8;
  b[o + 1] = vendor & 0xff;
  b[o + 2] = type >>> 8;
  b[o + 3] = type & 0xff;
  b[o + 4] = len >>> 8;
  b[o + 5] = len & 0xff;
}
function u8(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, 0, type, 7);
  b[o + 6] = v;
  return o + 7;
}
function u16(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, 0, type, 8);
  b[o + 6] = v >>> 8;
  b[o + 7] = v & 0xff;
  return o + 8;
}
function u32(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, 0, type, 10);
  b[o + 6] = v >>> 24;
  b[o + 7] = (v >>> 16) & 0xff;
  b[o + 8] = (v >>> 8) & 0xff;
  b[o + 9] = v & 0xff;
  return o + 10;
}
function bytes(b: Buffer, o: number, vendor: number, type: number, data: Buffer): number {
  hdr(b, o, vendor, type, 6 + data.length);
  b.set(data, o + 6);
  return o + 6 + data.length;
}
function text(b: Buffer, o: number, type: number, s: string, len: number): number {
  hdr(b, o, 0, type, 6 + len);
  b.write(s, o + 6, len, 'utf8');
  return o + 6 + len;
}

function encodeV3(p: HepPacket): Buffer {
  if (!Buffer.isBuffer(p.payload)) invalid('payload must be a Buffer');
  const src = p.srcIp !== undefined ? ipKind(p.srcIp, 'srcIp') : 0;
  const dst = p.dstIp !== undefined ? ipKind(p.dstIp, 'dstIp') : 0;
  // byte lengths now, bytes written in place later: no intermediate Buffers
  const corr = p.correlationId !== undefined ? str(p.correlationId, 'correlationId') : -1;
  const auth = p.authKey !== undefined ? str(p.authKey, 'authKey') : -1;
  const node = p.nodeName !== undefined ? str(p.nodeName, 'nodeName') : -1;
  const extra = p.extraCorrelation !== undefined ? str(p.extraCorrelation, 'extraCorrelation') : -1;
  if (p.timestamp !== undefined && (typeof p.timestamp !== 'object' || p.timestamp === null)) invalid(`timestamp must be { sec, usec }, got ${show(p.timestamp)}`);
  if (p.vendorChunks !== undefined) chunkList(p.vendorChunks, 'vendorChunks');
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
  if (p.family !== undefined) o = u8(b, o, ChunkType.IP_FAMILY, uint(p.family, 8, 'family'));
  if (p.ipProto !== undefined) o = u8(b, o, ChunkType.IP_PROTO, uint(p.ipProto, 8, 'ipProto'));
  if (p.srcPort !== undefined) o = u16(b, o, ChunkType.SRC_PORT, uint(p.srcPort, 16, 'srcPort'));
  if (p.dstPort !== undefined) o = u16(b, o, ChunkType.DST_PORT, uint(p.dstPort, 16, 'dstPort'));
  if (p.timestamp) {
    o = u32(b, o, ChunkType.TS_SEC, uint(p.timestamp.sec, 32, 'timestamp.sec'));
    o = u32(b, o, ChunkType.TS_USEC, uint(p.timestamp.usec, 32, 'timestamp.usec'));
  }
  if (p.protoType !== undefined) o = u8(b, o, ChunkType.PROTO_TYPE, uint(p.protoType, 8, 'protoType'));
  if (p.captureId !== undefined) o = u32(b, o, ChunkType.CAPTURE_ID, uint(p.captureId, 32, 'captureId'));
  if (src === 4) {
    hdr(b, o, 0, ChunkType.IPV4_SRC, 10);
    writeIpv4(p.srcIp!, b, o + 6);
    o += 10;
  }
  if (dst === 4) {
    hdr(b, o, 0, ChunkType.IPV4_DST, 10);
    writeIpv4(p.dstIp!, b, o + 6);
    o += 10;
  }
  if (src === 6) {
    hdr(b, o, 0, ChunkType.IPV6_SRC, 22);
    writeIpv6(p.srcIp!, b, o + 6);
    o += 22;
  }
  if (dst === 6) {
    hdr(b, o, 0, ChunkType.IPV6_DST, 22);
    writeIpv6(p.dstIp!, b, o + 6);
    o += 22;
  }
  o = bytes(b, o, 0, p.compressed ? ChunkType.COMPRESSED_PAYLOAD : ChunkType.PAYLOAD, p.payload);
  if (extra >= 0) o = text(b, o, ChunkType.EXTRA_CORRELATION, p.extraCorrelation!, extra);
  if (corr >= 0) o = text(b, o, ChunkType.CORRELATION_ID, p.correlationId!, corr);
  if (p.keepAliveTimer !== undefined) o = u16(b, o, ChunkType.KEEPALIVE, uint(p.keepAliveTimer, 16, 'keepAliveTimer'));
  if (auth >= 0) o = text(b, o, ChunkType.AUTH_KEY, p.authKey!, auth);
  if (p.vlan !== undefined) o = u16(b, o, ChunkType.VLAN, uint(p.vlan, 16, 'vlan'));
  if (node >= 0) o = text(b, o, ChunkType.NODE_NAME, p.nodeName!, node);
  if (p.vendorChunks) {
    for (const c of p.vendorChunks) o = bytes(b, o, c.vendor, c.type, c.data);
  }
  return b;
}

function encodeV12(p: HepPacket): Buffer {
  const v = p.version;
  if (!Buffer.isBuffer(p.payload)) invalid('payload must be a Buffer');
  if (p.srcIp === undefined || p.dstIp === undefined) invalid(`HEPv${v} needs srcIp and dstIp`);
  const k = ipKind(p.srcIp, 'srcIp');
  if (ipKind(p.dstIp, 'dstIp') !== k) invalid(`HEPv${v} needs srcIp and dstIp of the same family`);
  const family = p.family ?? (k === 4 ? AF_INET : AF_INET6);
  if (family !== (k === 4 ? AF_INET : AF_INET6)) invalid(`family ${show(family)} does not match the IPv${k} addresses`);
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
    if (typeof ts !== 'object' || ts === null) invalid(`timestamp must be { sec, usec }, got ${show(ts)}`);
    b.writeUInt32LE(uint(ts.sec, 32, 'timestamp.sec'), hl);
    b.writeUInt32LE(uint(ts.usec, 32, 'timestamp.usec'), hl + 4);
    b.writeUInt16LE(uint(p.captureId ?? 0, 16, 'v2 captureId'), hl + 8);
    if (tb === 12) b.writeUInt16LE(0, hl + 10);
  }
  p.payload.copy(b, hl + tb);
  return b;
}
