import { BinError, BinErrorCodes } from './errors.js';

/** "P4CK": every BIN packet starts with it. */
export const BIN_MARKER = Buffer.from('P4CK', 'latin1');
/** marker + total length + version */
export const BIN_HEADER_LEN = 10;
/** header + capability length + a 1-byte capability + the type */
export const BIN_MIN_PACKET_LEN = 17;
/** OpenSIPS's BIN_MAX_BUF_LEN: 65535 - 20 (room clusterer keeps for its trailer) */
export const BIN_MAX_PACKET_LEN = 65535 - 20;
/** a string field's length is a uint16 */
export const BIN_MAX_STR_LEN = 65535;

/**
 * One BIN packet. The body is the sequence of fields after the type, kept as bytes: BIN has
 * no per-field tags, so only the capability's owner knows how to read them (`BinReader`).
 */
export interface BinPacket {
  /** per-capability data version (int16), not a protocol version */
  version: number;
  /** capability name (ASCII in practice; kept byte for byte as latin1) */
  capability: string;
  /** packet type / command (int32), meaning defined by the capability owner */
  type: number;
  /** the fields after the type */
  body: Buffer;
}

const M0 = 0x50;
const M1 = 0x34;
const M2 = 0x43;
const M3 = 0x4b;

/** true when b[off..off+n) is a prefix of "P4CK" (n <= 4) */
export function markerPrefixOk(b: Buffer, off: number, n: number): boolean {
  if (n > 0 && b[off] !== M0) return false;
  if (n > 1 && b[off + 1] !== M1) return false;
  if (n > 2 && b[off + 2] !== M2) return false;
  if (n > 3 && b[off + 3] !== M3) return false;
  return true;
}

/** Throws ERR_BIN_LENGTH when a total length field is outside [17, 65515]. */
export function checkTotalLength(total: number): void {
  if (total < BIN_MIN_PACKET_LEN || total > BIN_MAX_PACKET_LEN) {
    throw new BinError(BinErrorCodes.LENGTH, `BIN packet length ${total} is outside [${BIN_MIN_PACKET_LEN}, ${BIN_MAX_PACKET_LEN}]`);
  }
}

/**
 * Reads exactly one BIN packet. The body is a view into `b` (no copy).
 * Errors: ERR_BIN_MARKER, ERR_BIN_LENGTH (limits, or a length field that is not `b.length`),
 * ERR_BIN_TRUNCATED, ERR_BIN_CAPABILITY.
 */
export function decode(b: Buffer): BinPacket {
  if (b.length < BIN_HEADER_LEN) {
    if (!markerPrefixOk(b, 0, Math.min(4, b.length))) throw new BinError(BinErrorCodes.MARKER, 'BIN packet does not start with "P4CK"');
    throw new BinError(BinErrorCodes.TRUNCATED, `BIN packet of ${b.length} bytes is shorter than its ${BIN_HEADER_LEN}-byte header`);
  }
  if (!markerPrefixOk(b, 0, 4)) throw new BinError(BinErrorCodes.MARKER, 'BIN packet does not start with "P4CK"');
  const total = b.readUInt32LE(4);
  checkTotalLength(total);
  if (total > b.length) throw new BinError(BinErrorCodes.TRUNCATED, `BIN packet announces ${total} bytes, ${b.length} given`);
  if (total < b.length) throw new BinError(BinErrorCodes.LENGTH, `BIN packet announces ${total} bytes, ${b.length} given (one packet at a time)`);
  return decodeFramed(b, total);
}

/** decode() once the marker and the length are known good (the framer's path). */
export function decodeFramed(b: Buffer, total: number): BinPacket {
  const capLen = b.readUInt16LE(10);
  if (capLen === 0 || 12 + capLen + 4 > total) {
    throw new BinError(BinErrorCodes.CAPABILITY, `BIN capability length ${capLen} does not fit a ${total}-byte packet`);
  }
  return {
    version: b.readInt16LE(8),
    capability: b.toString('latin1', 12, 12 + capLen),
    type: b.readInt32LE(12 + capLen),
    body: b.subarray(16 + capLen, total),
  };
}

function checkInt16(v: number): void {
  if (!Number.isInteger(v) || v < -32768 || v > 32767) throw new BinError(BinErrorCodes.INVALID, `BIN version ${v} is not an int16`);
}
export function checkInt32(v: number, what = 'int'): void {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new BinError(BinErrorCodes.INVALID, `BIN ${what} ${v} is not an int32`);
}
function checkCapability(cap: string): void {
  if (typeof cap !== 'string' || cap.length === 0 || cap.length > 0xffff) throw new BinError(BinErrorCodes.INVALID, 'BIN capability must be a non-empty string');
  for (let i = 0; i < cap.length; i++) {
    if (cap.charCodeAt(i) > 0xff) throw new BinError(BinErrorCodes.INVALID, `BIN capability "${cap}" is not latin1`);
  }
}

/** Writes a packet; `encode(decode(b))` is `b`. ERR_BIN_INVALID / ERR_BIN_TOO_BIG. */
export function encode(p: BinPacket): Buffer {
  checkInt16(p.version);
  checkCapability(p.capability);
  checkInt32(p.type, 'type');
  const capLen = p.capability.length;
  const total = 16 + capLen + p.body.length;
  if (total > BIN_MAX_PACKET_LEN) throw new BinError(BinErrorCodes.TOO_BIG, `BIN packet of ${total} bytes is bigger than ${BIN_MAX_PACKET_LEN}`);
  const out = Buffer.allocUnsafe(total);
  writeHeader(out, total, p.version, p.capability, p.type);
  p.body.copy(out, 16 + capLen);
  return out;
}

function writeHeader(out: Buffer, total: number, version: number, capability: string, type: number): number {
  out[0] = M0;
  out[1] = M1;
  out[2] = M2;
  out[3] = M3;
  out.writeUInt32LE(total, 4);
  out.writeInt16LE(version, 8);
  const capLen = capability.length;
  out.writeUInt16LE(capLen, 10);
  out.write(capability, 12, capLen, 'latin1');
  out.writeInt32LE(type, 12 + capLen);
  return 16 + capLen;
}

/**
 * Builds a packet field by field, as OpenSIPS's bin_init / bin_push_int / bin_push_str /
 * bin_get_buffer. Refuses to grow past 65515 bytes (ERR_BIN_TOO_BIG).
 */
export class BinBuilder {
  private buf: Buffer;
  private len: number;

  constructor(capability: string, type: number, version = 1, initialSize = 256) {
    checkInt16(version);
    checkCapability(capability);
    checkInt32(type, 'type');
    const head = 16 + capability.length;
    if (head > BIN_MAX_PACKET_LEN) throw new BinError(BinErrorCodes.TOO_BIG, 'BIN capability name too long');
    this.buf = Buffer.allocUnsafe(Math.min(BIN_MAX_PACKET_LEN, Math.max(initialSize, head + 16)));
    this.len = writeHeader(this.buf, 0, version, capability, type);
  }

  /** bytes written so far (the packet length) */
  get length(): number {
    return this.len;
  }

  private room(n: number): void {
    const need = this.len + n;
    if (need > BIN_MAX_PACKET_LEN) throw new BinError(BinErrorCodes.TOO_BIG, `BIN packet would grow to ${need} bytes, past ${BIN_MAX_PACKET_LEN}`);
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.min(BIN_MAX_PACKET_LEN, Math.max(need, this.buf.length * 2)));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** an int32 (LE) */
  pushInt(v: number): this {
    checkInt32(v);
    this.room(4);
    this.buf.writeInt32LE(v, this.len);
    this.len += 4;
    return this;
  }

  /** a uint16 length and the bytes (strings as UTF-8); null/undefined/'' = length 0 */
  pushStr(v: string | Buffer | null | undefined): this {
    if (v === null || v === undefined || v.length === 0) {
      this.room(2);
      this.buf.writeUInt16LE(0, this.len);
      this.len += 2;
      return this;
    }
    if (typeof v === 'string') {
      const n = Buffer.byteLength(v, 'utf8');
      if (n > BIN_MAX_STR_LEN) throw new BinError(BinErrorCodes.INVALID, `BIN string of ${n} bytes is longer than ${BIN_MAX_STR_LEN}`);
      this.room(2 + n);
      this.buf.writeUInt16LE(n, this.len);
      this.buf.write(v, this.len + 2, n, 'utf8');
      this.len += 2 + n;
      return this;
    }
    if (v.length > BIN_MAX_STR_LEN) throw new BinError(BinErrorCodes.INVALID, `BIN string of ${v.length} bytes is longer than ${BIN_MAX_STR_LEN}`);
    this.room(2 + v.length);
    this.buf.writeUInt16LE(v.length, this.len);
    v.copy(this.buf, this.len + 2);
    this.len += 2 + v.length;
    return this;
  }

  /** raw bytes, no length prefix (another packet's body, a module's pre-built fields) */
  pushRaw(b: Buffer): this {
    this.room(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
    return this;
  }

  /** the packet, its length field set (a copy: the builder can keep going) */
  build(): Buffer {
    this.buf.writeUInt32LE(this.len, 4);
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/**
 * Reads body fields in order, as bin_pop_int / bin_pop_str, and ints from the tail, as
 * bin_pop_back_int (the clusterer trailer). A pop at exactly the end throws
 * ERR_BIN_NO_MORE_DATA (OpenSIPS's status 1); a pop that would overrun throws ERR_BIN_OVERRUN.
 */
export class BinReader {
  private pos = 0;
  private end: number;

  constructor(private readonly body: Buffer) {
    this.end = body.length;
  }

  /** bytes left between the read position and the (possibly shortened) end */
  get remaining(): number {
    return this.end - this.pos;
  }
  get offset(): number {
    return this.pos;
  }

  private need(n: number): void {
    if (this.pos === this.end) throw new BinError(BinErrorCodes.NO_MORE_DATA, 'no more data in the BIN packet');
    if (this.pos + n > this.end) throw new BinError(BinErrorCodes.OVERRUN, `BIN field of ${n} bytes overruns the packet (${this.end - this.pos} left)`);
  }

  popInt(): number {
    this.need(4);
    const v = this.body.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** the field's bytes (a view) */
  popBytes(): Buffer {
    this.need(2);
    const n = this.body.readUInt16LE(this.pos);
    if (this.pos + 2 + n > this.end) throw new BinError(BinErrorCodes.OVERRUN, `BIN string of ${n} bytes overruns the packet (${this.end - this.pos - 2} left)`);
    const v = this.body.subarray(this.pos + 2, this.pos + 2 + n);
    this.pos += 2 + n;
    return v;
  }

  /** the field as UTF-8 ('' for an empty/null string) */
  popStr(): string {
    return this.popBytes().toString('utf8');
  }

  /** an int from the tail; the readable end shrinks by 4 */
  popBackInt(): number {
    if (this.end - 4 < this.pos) throw new BinError(BinErrorCodes.OVERRUN, 'BIN packet too short to pop an int from its end');
    this.end -= 4;
    return this.body.readInt32LE(this.end);
  }

  /** the unread fields between the position and the end (a view) */
  rest(): Buffer {
    return this.body.subarray(this.pos, this.end);
  }
}
