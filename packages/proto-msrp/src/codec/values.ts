import { MsrpError, MsrpErrorCodes } from './errors.js';
import type { ByteRange, MsrpStatus } from './types.js';

/** Parses a Byte-Range value `start-end/total` (end and total may be `*`). Throws `ERR_MSRP_BYTE_RANGE`. */
export function parseByteRange(value: string): ByteRange {
  const m = /^\s*([0-9]{1,15})-([0-9]{1,15}|\*)\/([0-9]{1,15}|\*)\s*$/.exec(value);
  if (!m) throw new MsrpError(MsrpErrorCodes.BYTE_RANGE, `bad Byte-Range "${value.slice(0, 100)}" (want start-end/total)`);
  const start = Number(m[1]);
  const end = m[2] === '*' ? null : Number(m[2]);
  const total = m[3] === '*' ? null : Number(m[3]);
  if (start < 1) throw new MsrpError(MsrpErrorCodes.BYTE_RANGE, `Byte-Range start ${start} < 1`);
  if (end !== null && end < start - 1) throw new MsrpError(MsrpErrorCodes.BYTE_RANGE, `Byte-Range end ${end} before start ${start}`);
  if (total !== null && end !== null && end > total) throw new MsrpError(MsrpErrorCodes.BYTE_RANGE, `Byte-Range end ${end} > total ${total}`);
  return { start, end, total };
}

export function formatByteRange(r: ByteRange): string {
  return `${r.start}-${r.end ?? '*'}/${r.total ?? '*'}`;
}

/** Parses a Status value `namespace SP code [SP comment]` (3 digits each). Throws `ERR_MSRP_STATUS`. */
export function parseStatus(value: string): MsrpStatus {
  const m = /^\s*([0-9]{3}) ([0-9]{3})(?: (.*))?$/.exec(value);
  if (!m) throw new MsrpError(MsrpErrorCodes.STATUS, `bad Status "${value.slice(0, 100)}" (want "000 200 [comment]")`);
  const s: MsrpStatus = { namespace: Number(m[1]), code: Number(m[2]) };
  if (m[3] !== undefined) s.comment = m[3];
  return s;
}

export function formatStatus(s: MsrpStatus): string {
  const pad = (n: number): string => String(n).padStart(3, '0');
  return `${pad(s.namespace)} ${pad(s.code)}${s.comment !== undefined ? ` ${s.comment}` : ''}`;
}

/** Parses an Expires / Min-Expires / Max-Expires value (seconds, 0..2^32-1). Throws `ERR_MSRP_EXPIRES`. */
export function parseExpires(value: string): number {
  const t = value.trim();
  if (!/^[0-9]{1,10}$/.test(t) || Number(t) > 0xffffffff)
    throw new MsrpError(MsrpErrorCodes.EXPIRES, `bad Expires "${value.slice(0, 100)}" (want seconds)`);
  return Number(t);
}
