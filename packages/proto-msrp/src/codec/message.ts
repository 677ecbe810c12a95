import { parsePath } from './url.js';
import { parseByteRange, parseExpires, parseStatus } from './values.js';
import { methodId } from './head.js';
import type { ByteRange, MsrpHeader, MsrpMessage, MsrpMethodId, MsrpStatus, MsrpUrl } from './types.js';

/** The first header of that name (case-insensitive), or undefined. */
export function getHeader(msg: { headers: MsrpHeader[] }, name: string): string | undefined {
  const headers = msg.headers;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    if (h.name.length === name.length && (h.name === name || sameIgnoreCase(h.name, name))) return h.value;
  }
  return undefined;
}

/** ASCII case-insensitive equality of two strings of the same length, with no lower-case copies */
function sameIgnoreCase(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** The method id of a request (SEND, REPORT, AUTH or OTHER); undefined for a response. */
export function msgMethodId(msg: MsrpMessage): MsrpMethodId | undefined {
  return msg.kind === 'request' ? methodId(msg.method) : undefined;
}

/** To-Path URLs (throws ERR_MSRP_URL when one does not parse). */
export function toPath(msg: MsrpMessage): MsrpUrl[] {
  return parsePath(getHeader(msg, 'To-Path') ?? '');
}
/** From-Path URLs (throws ERR_MSRP_URL when one does not parse). */
export function fromPath(msg: MsrpMessage): MsrpUrl[] {
  return parsePath(getHeader(msg, 'From-Path') ?? '');
}
/** Typed Byte-Range, or undefined when absent (throws ERR_MSRP_BYTE_RANGE when malformed). */
export function byteRange(msg: MsrpMessage): ByteRange | undefined {
  const v = getHeader(msg, 'Byte-Range');
  return v === undefined ? undefined : parseByteRange(v);
}
/** Typed Status, or undefined (throws ERR_MSRP_STATUS when malformed). */
export function status(msg: MsrpMessage): MsrpStatus | undefined {
  const v = getHeader(msg, 'Status');
  return v === undefined ? undefined : parseStatus(v);
}
/** Typed Expires / Min-Expires / Max-Expires, or undefined (throws ERR_MSRP_EXPIRES when malformed). */
export function expires(msg: MsrpMessage, name: 'Expires' | 'Min-Expires' | 'Max-Expires' = 'Expires'): number | undefined {
  const v = getHeader(msg, name);
  return v === undefined ? undefined : parseExpires(v);
}
