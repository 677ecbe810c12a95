/**
 * The trace hot path's encoder: one HEPv3 trace packet written straight into a caller's buffer
 * (a sender's slab), with no intermediate HepPacket, chunk objects or Buffers. Its bytes are
 * exactly `packHep(src, dst, ipProto, payload, { captureId, protoType, timestamp, correlationId })`
 * (OpenSIPS's `build_hep3_buf` order, see encode.ts): the test suite checks that property.
 */
import { ipKindOf, writeIpv4, writeIpv6 } from './ip.js';
import { AF_INET, AF_INET6, ChunkType } from './types.js';

/** The fields of one trace packet (proto-hep's TracePacket has them). */
export interface Hep3TraceFields {
  protoType: number;
  ipProto: number;
  src: { host: string; port: number };
  dst: { host: string; port: number };
  timestamp?: { sec: number; usec: number } | undefined;
  correlationId?: string | undefined;
}

/** What `writeTraceHep3` returns for fields it does not take (the caller falls back to packHep, which refuses or converts them). */
export const TRACE_UNENCODABLE = 0;

const EMPTY = new Uint8Array(0);
const u8ok = (v: unknown): boolean => typeof v === 'number' && (v & 0xff) === v;
const u16ok = (v: unknown): boolean => typeof v === 'number' && (v & 0xffff) === v;
const u32ok = (v: unknown): boolean => typeof v === 'number' && v >>> 0 === v;

/** utf8 length of a string, without a call for the usual ASCII one; -1 when not a string */
function utf8Length(s: unknown): number {
  if (typeof s !== 'string') return -1;
  const n = s.length;
  if (n > 256) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return n;
}

function hdr(b: Buffer, o: number, type: number, len: number): void {
  b[o] = 0;
  b[o + 1] = 0;
  b[o + 2] = type >>> 8;
  b[o + 3] = type & 0xff;
  b[o + 4] = len >>> 8;
  b[o + 5] = len & 0xff;
}
function u8(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, type, 7);
  b[o + 6] = v;
  return o + 7;
}
function u16(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, type, 8);
  b[o + 6] = v >>> 8;
  b[o + 7] = v & 0xff;
  return o + 8;
}
function u32(b: Buffer, o: number, type: number, v: number): number {
  hdr(b, o, type, 10);
  b[o + 6] = v >>> 24;
  b[o + 7] = (v >>> 16) & 0xff;
  b[o + 8] = (v >>> 8) & 0xff;
  b[o + 9] = v & 0xff;
  return o + 10;
}

/** the seconds and microseconds `packetTime` found (two slots: no object per packet) */
const TIME = new Float64Array(2);

/**
 * A trace packet's time into TIME: its timestamp, else `nowMs` (ms since the epoch, the sub-ms
 * digits kept as µs, as pack.ts's timestampOf); false for a timestamp that is not two u32.
 */
function packetTime(ts: Hep3TraceFields['timestamp'], nowMs: number): boolean {
  if (ts !== undefined) {
    if (typeof ts !== 'object' || ts === null || !u32ok(ts.sec) || !u32ok(ts.usec)) return false;
    TIME[0] = ts.sec;
    TIME[1] = ts.usec;
    return true;
  }
  const sec = Math.floor(nowMs / 1000);
  TIME[0] = sec;
  TIME[1] = Math.min(999_999, Math.floor((nowMs - sec * 1000) * 1000));
  return true;
}

/**
 * Writes the HEPv3 packet of a trace message into `b` at `o`: chunks 0x01 0x02 0x07 0x08 0x09
 * 0x0A 0x0B 0x0C, the addresses, the payload (0x0F), the correlation id (0x11) when given.
 * Timestamp: `f.timestamp`, else `nowMs` (ms since the epoch, sub-ms digits kept as µs).
 * Returns the end offset; `-size` when the packet (size bytes) does not fit in `b.length - o`
 * (nothing written); `TRACE_UNENCODABLE` (0) for fields packHep would refuse or convert (a host
 * that is no IP literal, a value out of range, a packet past 65535 bytes...).
 */
export function writeTraceHep3(b: Buffer, o: number, f: Hep3TraceFields, payload: Uint8Array, captureId: number, nowMs: number): number {
  const src = f.src;
  const dst = f.dst;
  if (typeof src !== 'object' || src === null || typeof dst !== 'object' || dst === null) return TRACE_UNENCODABLE;
  const sk = ipKindOf(src.host);
  const dk = ipKindOf(dst.host);
  if (sk === 0 || dk === 0) return TRACE_UNENCODABLE;
  if (!u16ok(src.port) || !u16ok(dst.port) || !u8ok(f.ipProto) || !u8ok(f.protoType) || !u32ok(captureId)) return TRACE_UNENCODABLE;
  if (!packetTime(f.timestamp, nowMs)) return TRACE_UNENCODABLE;
  const sec = TIME[0]!;
  const usec = TIME[1]!;
  const corr = f.correlationId;
  const corrLen = corr === undefined ? -1 : utf8Length(corr);
  if (corr !== undefined && corrLen < 0) return TRACE_UNENCODABLE;
  const size = 6 + 67 + (sk === 4 ? 10 : 22) + (dk === 4 ? 10 : 22) + 6 + payload.length + (corrLen >= 0 ? 6 + corrLen : 0);
  if (size > 0xffff) return TRACE_UNENCODABLE;
  if (b.length - o < size) return -size;
  b[o] = 0x48;
  b[o + 1] = 0x45;
  b[o + 2] = 0x50;
  b[o + 3] = 0x33;
  b[o + 4] = size >>> 8;
  b[o + 5] = size & 0xff;
  let p = o + 6;
  p = u8(b, p, ChunkType.IP_FAMILY, sk === 6 ? AF_INET6 : AF_INET);
  p = u8(b, p, ChunkType.IP_PROTO, f.ipProto);
  p = u16(b, p, ChunkType.SRC_PORT, src.port);
  p = u16(b, p, ChunkType.DST_PORT, dst.port);
  p = u32(b, p, ChunkType.TS_SEC, sec);
  p = u32(b, p, ChunkType.TS_USEC, usec);
  p = u8(b, p, ChunkType.PROTO_TYPE, f.protoType);
  p = u32(b, p, ChunkType.CAPTURE_ID, captureId);
  // encode.ts's order: the IPv4 chunks, then the IPv6 ones
  if (sk === 4) {
    hdr(b, p, ChunkType.IPV4_SRC, 10);
    writeIpv4(src.host, b, p + 6);
    p += 10;
  }
  if (dk === 4) {
    hdr(b, p, ChunkType.IPV4_DST, 10);
    writeIpv4(dst.host, b, p + 6);
    p += 10;
  }
  if (sk === 6) {
    hdr(b, p, ChunkType.IPV6_SRC, 22);
    writeIpv6(src.host, b, p + 6);
    p += 22;
  }
  if (dk === 6) {
    hdr(b, p, ChunkType.IPV6_DST, 22);
    writeIpv6(dst.host, b, p + 6);
    p += 22;
  }
  hdr(b, p, ChunkType.PAYLOAD, 6 + payload.length);
  b.set(payload, p + 6);
  p += 6 + payload.length;
  if (corrLen >= 0) {
    hdr(b, p, ChunkType.CORRELATION_ID, 6 + corrLen);
    p += 6;
    if (corrLen === corr!.length) for (let i = 0; i < corrLen; i++) b[p + i] = corr!.charCodeAt(i);
    else b.write(corr!, p, corrLen, 'utf8');
    p += corrLen;
  }
  return p;
}

/** the fixed chunks and addresses of one (src, dst, ipProto, protoType): the bytes after the 6-byte header, up to the payload chunk */
interface Head {
  sh: string;
  sp: number;
  dh: string;
  dp: number;
  ip: number;
  pt: number;
  bytes: Buffer;
}

/** offsets of the timestamp values in a packet (after HEP3, length, 0x01, 0x02, 0x07, 0x08 and the chunk headers) */
const TS_SEC_AT = 6 + 7 + 7 + 8 + 8 + 6;
const TS_USEC_AT = TS_SEC_AT + 10;

/**
 * `writeTraceHep3` for one capture id, faster for the usual stream of packets between the same
 * two addresses: the fixed chunks and the addresses of the last two (src, dst, ip proto, proto
 * type) are kept as bytes and copied, the timestamp patched. The same bytes, the same answers.
 */
export class Hep3TraceEncoder {
  private h0: Head | undefined;
  private h1: Head | undefined;
  private readonly scratch = Buffer.allocUnsafe(6 + 67 + 44 + 6);

  constructor(readonly captureId: number) {}

  private head(f: Hep3TraceFields): Head | undefined {
    const src = f.src;
    const dst = f.dst;
    let h = this.h0;
    if (h !== undefined && h.sh === src.host && h.sp === src.port && h.dh === dst.host && h.dp === dst.port && h.ip === f.ipProto && h.pt === f.protoType) return h;
    h = this.h1;
    if (h !== undefined && h.sh === src.host && h.sp === src.port && h.dh === dst.host && h.dp === dst.port && h.ip === f.ipProto && h.pt === f.protoType) {
      this.h1 = this.h0;
      this.h0 = h;
      return h;
    }
    // the general encoder writes it once (it validates every field), with an empty payload
    const end = writeTraceHep3(this.scratch, 0, { protoType: f.protoType, ipProto: f.ipProto, src, dst, timestamp: { sec: 0, usec: 0 } }, EMPTY, this.captureId, 0);
    if (end <= 0) return undefined;
    h = { sh: src.host, sp: src.port, dh: dst.host, dp: dst.port, ip: f.ipProto, pt: f.protoType, bytes: Buffer.from(this.scratch.subarray(6, end - 6)) };
    this.h1 = this.h0;
    this.h0 = h;
    return h;
  }

  /** As `writeTraceHep3(b, o, f, payload, this.captureId, nowMs)`. */
  write(b: Buffer, o: number, f: Hep3TraceFields, payload: Uint8Array, nowMs: number): number {
    if (typeof f.src !== 'object' || f.src === null || typeof f.dst !== 'object' || f.dst === null) return TRACE_UNENCODABLE;
    const h = this.head(f);
    if (h === undefined) return TRACE_UNENCODABLE;
    if (!packetTime(f.timestamp, nowMs)) return TRACE_UNENCODABLE;
    const sec = TIME[0]!;
    const usec = TIME[1]!;
    const corr = f.correlationId;
    // an ASCII id (the usual Call-ID) is written in one pass below; another one is measured first
    let corrLen = -1;
    let ascii = false;
    if (corr !== undefined) {
      if (typeof corr !== 'string') return TRACE_UNENCODABLE;
      corrLen = corr.length;
      ascii = corrLen <= 256;
      if (!ascii) corrLen = Buffer.byteLength(corr, 'utf8');
    }
    const hl = h.bytes.length;
    const size = 6 + hl + 6 + payload.length + (corrLen >= 0 ? 6 + corrLen : 0);
    if (size > 0xffff) return TRACE_UNENCODABLE;
    if (b.length - o < size) return -size;
    b[o] = 0x48;
    b[o + 1] = 0x45;
    b[o + 2] = 0x50;
    b[o + 3] = 0x33;
    b[o + 4] = size >>> 8;
    b[o + 5] = size & 0xff;
    b.set(h.bytes, o + 6);
    let p = o + TS_SEC_AT;
    b[p] = sec >>> 24;
    b[p + 1] = (sec >>> 16) & 0xff;
    b[p + 2] = (sec >>> 8) & 0xff;
    b[p + 3] = sec & 0xff;
    p = o + TS_USEC_AT;
    b[p] = usec >>> 24;
    b[p + 1] = (usec >>> 16) & 0xff;
    b[p + 2] = (usec >>> 8) & 0xff;
    b[p + 3] = usec & 0xff;
    p = o + 6 + hl;
    hdr(b, p, ChunkType.PAYLOAD, 6 + payload.length);
    b.set(payload, p + 6);
    p += 6 + payload.length;
    if (corrLen >= 0) {
      if (ascii) {
        let high = 0;
        for (let i = 0; i < corrLen; i++) {
          const c = corr!.charCodeAt(i);
          high |= c;
          b[p + 6 + i] = c;
        }
        // not ASCII after all: its UTF-8 length differs, so the packet is written again the long way
        if (high > 0x7f) return writeTraceHep3(b, o, f, payload, this.captureId, nowMs);
      } else b.write(corr!, p + 6, corrLen, 'utf8');
      hdr(b, p, ChunkType.CORRELATION_ID, 6 + corrLen);
      p += 6 + corrLen;
    }
    return p;
  }
}
