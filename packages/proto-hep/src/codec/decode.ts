import { HepError, HepErrorCodes } from './errors.js';
import { ipv4ToString, ipv6ToString } from './ip.js';
import { AF_INET, AF_INET6, ChunkType, type HepChunk, type HepPacket, type HepTimestamp } from './types.js';

export interface DecodeOptions {
  /** versions accepted (default all three); a packet of another version -> ERR_HEP_VERSION */
  versions?: readonly (1 | 2 | 3)[];
}

function fail(code: (typeof HepErrorCodes)[keyof typeof HepErrorCodes], msg: string): never {
  throw new HepError(code, msg);
}

/** 'HEP3' big-endian */
const MAGIC3 = 0x48455033;

/** True when `buf` starts with the "HEP3" magic. */
export function isHep3(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === MAGIC3;
}

/**
 * Decodes one HEP packet (v1, v2 or v3). Throws only HepError (a ProtocolError) with an
 * ERR_HEP_* code. The payload and chunk data are views into `buf` (no copy).
 */
export function decode(buf: Buffer, opts?: DecodeOptions): HepPacket {
  if (buf.length < 4) fail(HepErrorCodes.TRUNCATED, `HEP packet of ${buf.length} bytes is too short`);
  const versions = opts?.versions;
  if (buf.readUInt32BE(0) === MAGIC3) {
    if (versions && !versions.includes(3)) fail(HepErrorCodes.VERSION, 'HEPv3 is not accepted here');
    return decodeV3(buf);
  }
  const v = buf[0]!;
  if (buf[0] === 0x48 && buf[1] === 0x45 && buf[2] === 0x50) fail(HepErrorCodes.VERSION, `unsupported HEP version "HEP${String.fromCharCode(buf[3]!)}"`);
  if (v !== 1 && v !== 2) fail(HepErrorCodes.MAGIC, `not a HEP packet (first byte 0x${v.toString(16).padStart(2, '0')})`);
  if (versions && !versions.includes(v)) fail(HepErrorCodes.VERSION, `HEPv${v} is not accepted here`);
  return decodeV12(buf, v);
}

function decodeV12(buf: Buffer, version: 1 | 2): HepPacket {
  if (buf.length < 8) fail(HepErrorCodes.TRUNCATED, `HEPv${version} header needs 8 bytes, got ${buf.length}`);
  const hl = buf[1]!;
  const family = buf[2]!;
  let addrLen: number;
  if (family === AF_INET) addrLen = 4;
  else if (family === AF_INET6) addrLen = 16;
  else fail(HepErrorCodes.FAMILY, `HEPv${version} address family ${family} is neither 2 (AF_INET) nor 10 (AF_INET6)`);
  if (hl !== 8 + 2 * addrLen) fail(HepErrorCodes.LENGTH, `HEPv${version} header length ${hl}, expected ${8 + 2 * addrLen}`);
  if (buf.length < hl) fail(HepErrorCodes.TRUNCATED, `HEPv${version} header of ${hl} bytes, got ${buf.length}`);
  const pkt: HepPacket = {
    version,
    family,
    ipProto: buf[3]!,
    srcPort: buf.readUInt16BE(4),
    dstPort: buf.readUInt16BE(6),
    srcIp: addrLen === 4 ? ipv4ToString(buf, 8) : ipv6ToString(buf, 8),
    dstIp: addrLen === 4 ? ipv4ToString(buf, 8 + addrLen) : ipv6ToString(buf, 8 + addrLen),
    payload: buf,
  };
  let off = hl;
  if (version === 2) {
    if (buf.length < off + 10) fail(HepErrorCodes.TRUNCATED, 'HEPv2 time block needs 10 bytes');
    // host byte order on the (x86) sender: little-endian in practice
    pkt.timestamp = { sec: buf.readUInt32LE(off), usec: buf.readUInt32LE(off + 4) };
    pkt.captureId = buf.readUInt16LE(off + 8);
    // C struct padding (Kamailio, sizeof(struct hep_timehdr) = 12): two zero bytes; SIP never starts with NUL
    if (buf.length >= off + 12 && buf[off + 10] === 0 && buf[off + 11] === 0) {
      pkt.v2TimeBlockLength = 12;
      off += 12;
    } else {
      pkt.v2TimeBlockLength = 10;
      off += 10;
    }
  }
  pkt.payload = buf.subarray(off);
  return pkt;
}

function fixed(type: number, len: number, want: number): void {
  if (len !== want) fail(HepErrorCodes.CHUNK_LENGTH, `chunk 0x${type.toString(16).padStart(4, '0')} has length ${len}, must be ${want}`);
}

/**
 * A decoded v3 packet. `chunks` is built on first read from the wire bytes kept aside, so the
 * common path (fields and payload only) does not pay for a Buffer view per chunk.
 */
class DecodedV3 implements HepPacket {
  // every field declared up front: one hidden class for all decoded packets
  version = 3 as const;
  family: number | undefined = undefined;
  ipProto: number | undefined = undefined;
  srcIp: string | undefined = undefined;
  dstIp: string | undefined = undefined;
  srcPort: number | undefined = undefined;
  dstPort: number | undefined = undefined;
  timestamp: HepTimestamp | undefined = undefined;
  protoType: number | undefined = undefined;
  captureId: number | undefined = undefined;
  keepAliveTimer: number | undefined = undefined;
  authKey: string | undefined = undefined;
  payload: Buffer = EMPTY;
  compressed: boolean | undefined = undefined;
  correlationId: string | undefined = undefined;
  vlan: number | undefined = undefined;
  nodeName: string | undefined = undefined;
  extraCorrelation: string | undefined = undefined;
  vendorChunks: HepChunk[] | undefined = undefined;
  // the packet's bytes and its total length, not a view of them: a Buffer view costs an
  // allocation per packet that only the rare `chunks` reader needs
  #raw: Buffer | undefined;
  #total: number;
  #chunks: HepChunk[] | undefined;
  constructor(raw: Buffer, total: number) {
    this.#raw = raw;
    this.#total = total;
  }
  get chunks(): HepChunk[] | undefined {
    if (this.#chunks === undefined && this.#raw) {
      this.#chunks = splitChunks(this.#raw, this.#total);
      this.#raw = undefined;
    }
    return this.#chunks;
  }
  set chunks(c: HepChunk[] | undefined) {
    this.#chunks = c;
    this.#raw = undefined;
  }
}
Object.defineProperty(DecodedV3.prototype, 'chunks', { enumerable: true });

const EMPTY = Buffer.alloc(0);

/** The chunk list of an already validated packet. */
function splitChunks(buf: Buffer, total: number): HepChunk[] {
  const out: HepChunk[] = [];
  for (let off = 6; off < total; ) {
    const len = buf.readUInt16BE(off + 4);
    out.push({ vendor: buf.readUInt16BE(off), type: buf.readUInt16BE(off + 2), data: buf.subarray(off + 6, off + len) });
    off += len;
  }
  return out;
}

function decodeV3(buf: Buffer): HepPacket {
  if (buf.length < 6) fail(HepErrorCodes.TRUNCATED, 'HEPv3 header needs 6 bytes');
  const total = buf.readUInt16BE(4);
  if (total < 6) fail(HepErrorCodes.LENGTH, `HEPv3 total length ${total} < 6`);
  if (total > buf.length) fail(HepErrorCodes.TRUNCATED, `HEPv3 total length ${total} but ${buf.length} bytes available`);
  const pkt = new DecodedV3(buf, total);
  let payloadKind = 0; // 0 none, 1 plain, 2 compressed
  let payStart = 0;
  let payEnd = 0;
  let off = 6;
  while (off < total) {
    if (total - off < 6) fail(HepErrorCodes.CHUNK_LENGTH, `${total - off} trailing bytes cannot hold a chunk header`);
    const vendor = buf.readUInt16BE(off);
    const type = buf.readUInt16BE(off + 2);
    const len = buf.readUInt16BE(off + 4);
    if (len < 6) fail(HepErrorCodes.CHUNK_LENGTH, `chunk 0x${type.toString(16)} length ${len} < 6`);
    if (len > total - off) fail(HepErrorCodes.CHUNK_LENGTH, `chunk 0x${type.toString(16)} length ${len} runs past the packet end`);
    const d = off + 6;
    const e = off + len;
    // OpenSIPS ignores the vendor for the ids it knows as fixed (1..0x10)
    const generic = type >= 1 && type <= 0x10 ? true : vendor === 0;
    let used = generic;
    if (generic) {
      switch (type) {
        case ChunkType.IP_FAMILY: fixed(type, len, 7); pkt.family = buf[d]!; break;
        case ChunkType.IP_PROTO: fixed(type, len, 7); pkt.ipProto = buf[d]!; break;
        case ChunkType.IPV4_SRC: fixed(type, len, 10); pkt.srcIp = ipv4ToString(buf, d); break;
        case ChunkType.IPV4_DST: fixed(type, len, 10); pkt.dstIp = ipv4ToString(buf, d); break;
        case ChunkType.IPV6_SRC: fixed(type, len, 22); pkt.srcIp = ipv6ToString(buf, d); break;
        case ChunkType.IPV6_DST: fixed(type, len, 22); pkt.dstIp = ipv6ToString(buf, d); break;
        case ChunkType.SRC_PORT: fixed(type, len, 8); pkt.srcPort = buf.readUInt16BE(d); break;
        case ChunkType.DST_PORT: fixed(type, len, 8); pkt.dstPort = buf.readUInt16BE(d); break;
        case ChunkType.TS_SEC: fixed(type, len, 10); (pkt.timestamp ??= { sec: 0, usec: 0 }).sec = buf.readUInt32BE(d); break;
        case ChunkType.TS_USEC: fixed(type, len, 10); (pkt.timestamp ??= { sec: 0, usec: 0 }).usec = buf.readUInt32BE(d); break;
        case ChunkType.PROTO_TYPE: fixed(type, len, 7); pkt.protoType = buf[d]!; break;
        case ChunkType.CAPTURE_ID: fixed(type, len, 10); pkt.captureId = buf.readUInt32BE(d); break;
        case ChunkType.KEEPALIVE:
          if (len === 8) pkt.keepAliveTimer = buf.readUInt16BE(d);
          else used = false;
          break;
        case ChunkType.AUTH_KEY: pkt.authKey = buf.toString('utf8', d, e); break;
        case ChunkType.PAYLOAD: payStart = d; payEnd = e; payloadKind = 1; break;
        case ChunkType.COMPRESSED_PAYLOAD: payStart = d; payEnd = e; payloadKind = 2; break;
        case ChunkType.CORRELATION_ID: pkt.correlationId = buf.toString('utf8', d, e); break;
        case ChunkType.VLAN:
          if (len === 8) pkt.vlan = buf.readUInt16BE(d);
          else used = false;
          break;
        case ChunkType.NODE_NAME: pkt.nodeName = buf.toString('utf8', d, e); break;
        case ChunkType.EXTRA_CORRELATION: pkt.extraCorrelation = buf.toString('utf8', d, e); break;
        default: used = false;
      }
    }
    if (!used) (pkt.vendorChunks ??= []).push({ vendor, type, data: buf.subarray(d, e) });
    off += len;
  }
  if (payloadKind === 0) fail(HepErrorCodes.NO_PAYLOAD, 'HEPv3 packet without a payload chunk');
  pkt.payload = buf.subarray(payStart, payEnd);
  if (payloadKind === 2) pkt.compressed = true;
  return pkt;
}
