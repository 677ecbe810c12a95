import { hasControl } from './chars.js';
import { MsrpError, MsrpErrorCodes } from './errors.js';
import type { MsrpHeader, MsrpMethodId, MsrpMessage } from './types.js';

/** Headers MSRP allows at most once (OpenSIPS's list plus the digest and expiry ones). */
export const SINGLE_HEADERS = [
  'to-path',
  'from-path',
  'message-id',
  'byte-range',
  'failure-report',
  'success-report',
  'status',
  'use-path',
  'content-type',
  'authorization',
  'www-authenticate',
  'authentication-info',
  'expires',
  'min-expires',
  'max-expires',
] as const;

/** Longest transaction id accepted (RFC 4975 says 3..31; OpenSIPS has no limit but its 64 KiB buffer). */
export const MAX_TID_LENGTH = 255;

/** OpenSIPS's method id: SEND / AUTH in any case, REPORT with "RT" upper case, else OTHER. */
export function methodId(method: string): MsrpMethodId {
  if (method.length === 4) {
    const l = method.toLowerCase();
    if (l === 'send') return 'SEND';
    if (l === 'auth') return 'AUTH';
  } else if (method.length === 6 && method.slice(0, 4).toLowerCase() === 'repo' && method.endsWith('RT')) return 'REPORT';
  return 'OTHER';
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * Checks the start of a stream as soon as bytes arrive, so garbage is refused at once:
 * "MSRP" (any case) + SP, then a transaction id starting with a letter or digit, holding
 * visible bytes only, at most MAX_TID_LENGTH long. Returns the id's length once its SP
 * is seen, else -1 (need more bytes).
 */
export function checkStartPrefix(b: Buffer, len: number): number {
  return checkStartAt(b, 0, len);
}

/** checkStartPrefix on the bytes `b[o..end)` (no view made); returns the id's length or -1. */
export function checkStartAt(b: Buffer, o: number, end: number): number {
  const len = end - o;
  if (len > 0 && (b[o]! | 0x20) !== 0x6d) badStart();
  if (len > 1 && (b[o + 1]! | 0x20) !== 0x73) badStart();
  if (len > 2 && (b[o + 2]! | 0x20) !== 0x72) badStart();
  if (len > 3 && (b[o + 3]! | 0x20) !== 0x70) badStart();
  if (len > 4 && b[o + 4] !== 0x20) badStart();
  if (len > 5 && !isAlnum(b[o + 5]!)) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id must start with a letter or a digit');
  const stop = o + Math.min(len, 5 + MAX_TID_LENGTH + 1);
  for (let i = o + 6; i < stop; i++) {
    const c = b[i]!;
    if (c === 0x20) return i - o - 5;
    if (c < 0x21 || c > 0x7e) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id holds a control or non-ASCII byte');
  }
  if (len > 5 + MAX_TID_LENGTH) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, `a transaction id longer than ${MAX_TID_LENGTH} bytes`);
  return -1;
}

function badStart(): never {
  throw new MsrpError(MsrpErrorCodes.START, 'the message does not start with "MSRP "');
}

export interface ParsedHead {
  msg: MsrpMessage;
  /** the transaction id, for the end-line check */
  tid: string;
}

/**
 * Parses the start line and header lines of one message: `text` is latin1, from "MSRP" up
 * to and including the CRLF of the last header line (no empty line, no end-line).
 * Validates as OpenSIPS's parse_msrp_msg does (To-Path/From-Path present, order, single
 * headers, Message-ID, Content-Type when `hasBody`). The message's continuation flag is
 * set to '$' until the end-line is read.
 */
export function parseHead(text: string, hasBody: boolean): ParsedHead {
  const b = Buffer.from(text, 'latin1');
  const msg = parseHeadBytes(b, 0, b.length, hasBody);
  return { msg, tid: msg.tid };
}

// ---- byte-level head parser ----------------------------------------------------------

/** header-name bytes (RFC 4975 token) */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
/** bytes a header value or the start line may not hold: controls but tab, and DEL */
const CTL = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) if (c !== 9) CTL[c] = 1;
CTL[0x7f] = 1;

/** The headers MSRP allows once, in SINGLE_HEADERS order: bit i of the `seen` mask. */
const H_TO = 0;
const H_FROM = 1;
const H_MSGID = 2;
const H_CTYPE = 8;
/** canonical spellings, to share the name string when a message writes it that way */
const CANON = ['To-Path', 'From-Path', 'Message-ID', 'Byte-Range', 'Failure-Report', 'Success-Report', 'Status', 'Use-Path', 'Content-Type', 'Authorization', 'WWW-Authenticate', 'Authentication-Info', 'Expires', 'Min-Expires', 'Max-Expires'];
const LOWER = SINGLE_HEADERS.map((n) => Buffer.from(n, 'latin1'));
const CANON_B = CANON.map((n) => Buffer.from(n, 'latin1'));
/** candidates by name length */
const BY_LEN: number[][] = [];
for (let i = 0; i < LOWER.length; i++) (BY_LEN[LOWER[i]!.length] ??= []).push(i);

/** Which single header `b[s..e)` names (case-insensitive), or -1. Token bytes only: `| 0x20` lowers letters and keeps '-'. */
function knownHeader(b: Buffer, s: number, e: number): number {
  const cands = BY_LEN[e - s];
  if (cands === undefined) return -1;
  outer: for (let k = 0; k < cands.length; k++) {
    const id = cands[k]!;
    const l = LOWER[id]!;
    for (let j = 0; j < l.length; j++) if ((b[s + j]! | 0x20) !== l[j]) continue outer;
    return id;
  }
  return -1;
}

function sameBytes(b: Buffer, s: number, want: Buffer): boolean {
  for (let j = 0; j < want.length; j++) if (b[s + j] !== want[j]) return false;
  return true;
}

const M_SEND = Buffer.from('SEND');
const M_REPORT = Buffer.from('REPORT');
const M_AUTH = Buffer.from('AUTH');

function methodString(b: Buffer, s: number, e: number): string {
  const n = e - s;
  if (n === 4 && sameBytes(b, s, M_SEND)) return 'SEND';
  if (n === 6 && sameBytes(b, s, M_REPORT)) return 'REPORT';
  if (n === 4 && sameBytes(b, s, M_AUTH)) return 'AUTH';
  return str(b, s, e);
}

type Latin1 = { latin1Slice(start: number, end: number): string };
/** `b.toString('latin1', s, e)` without its argument handling (Buffer's own latin1Slice) */
function str(b: Buffer, s: number, e: number): string {
  return (b as unknown as Latin1).latin1Slice(s, e);
}

function headerError(b: Buffer, s: number, e: number, why: string): never {
  throw new MsrpError(MsrpErrorCodes.HEADER, `${why}: "${str(b, s, Math.min(e, s + 60))}"`);
}

/**
 * The start line and headers of one message from `b[start..end)` (from "MSRP" to the CRLF
 * of the last header line), scanned byte by byte: header names are matched without
 * building lower-case strings, the common spellings share one string, each value is one
 * latin1 slice. The same checks and error codes as `parseHead`.
 */
export function parseHeadBytes(b: Buffer, start: number, end: number, hasBody: boolean): MsrpMessage {
  const tl = checkStartAt(b, start, end);
  if (tl < 0) throw new MsrpError(MsrpErrorCodes.TRUNCATED, 'no CRLF after the start line');
  const tidEnd = start + 5 + tl;
  // one string for the whole head; every field is a slice of it (no binding call per field)
  const text = str(b, start, end);
  const tid = text.slice(5, tidEnd - start);
  // the rest of the start line, up to its CRLF
  const rs = tidEnd + 1;
  let q = rs;
  for (;;) {
    if (q >= end) throw new MsrpError(MsrpErrorCodes.TRUNCATED, 'no CRLF after the start line');
    const c = b[q]!;
    if (c === 0x0d && b[q + 1] === 0x0a && q + 1 < end) break;
    if (CTL[c] === 1) throw new MsrpError(MsrpErrorCodes.START_LINE, 'a control byte in the start line');
    q++;
  }
  const re = q;
  const n = re - rs;
  let msg: MsrpMessage;
  const d0 = b[rs]!;
  if (n >= 3 && d0 >= 0x30 && d0 <= 0x39 && b[rs + 1]! >= 0x30 && b[rs + 1]! <= 0x39 && b[rs + 2]! >= 0x30 && b[rs + 2]! <= 0x39) {
    if (n > 3 && b[rs + 3] !== 0x20)
      throw new MsrpError(MsrpErrorCodes.START_LINE, `status "${str(b, rs, Math.min(re, rs + 20))}" is not 3 digits followed by a space`);
    const status = (d0 - 0x30) * 100 + (b[rs + 1]! - 0x30) * 10 + (b[rs + 2]! - 0x30);
    msg = { kind: 'response', tid, status, headers: [], continuation: '$' };
    if (n > 3) msg.reason = n === 6 && b[rs + 4] === 0x4f && b[rs + 5] === 0x4b ? 'OK' : text.slice(rs + 4 - start, re - start);
  } else {
    if (n === 0) throw new MsrpError(MsrpErrorCodes.START_LINE, 'an empty method');
    for (let k = rs; k < re; k++) {
      const c = b[k]!;
      if (c === 0x20 || c === 0x09) throw new MsrpError(MsrpErrorCodes.START_LINE, `a method with a space: "${str(b, rs, Math.min(re, rs + 40))}"`);
    }
    msg = { kind: 'request', tid, method: methodString(b, rs, re), headers: [], continuation: '$' };
  }
  if (b[start] !== 0x4d || b[start + 1] !== 0x53 || b[start + 2] !== 0x52 || b[start + 3] !== 0x50) msg.prefix = text.slice(0, 4);

  if (end - start < 2 || b[end - 2] !== 0x0d || b[end - 1] !== 0x0a) throw new MsrpError(MsrpErrorCodes.HEADER, 'a header line without CRLF');
  const headers = msg.headers;
  let seen = 0;
  let first = -1;
  let second = -1;
  let p = re + 2;
  while (p < end) {
    // name: token bytes, then optional blanks, then ':'
    let k = p;
    while (k < end && TOKEN[b[k]!] === 1) k++;
    const nameEnd = k;
    while (k < end && (b[k] === 0x20 || b[k] === 0x09)) k++;
    if (nameEnd === p || b[k] !== 0x3a || k >= end) headerError(b, p, end, 'a header line without a name and \':\' or with a bad name');
    k++;
    while (k < end && (b[k] === 0x20 || b[k] === 0x09)) k++;
    const vs = k;
    // the head ends with CRLF (checked above): this stops at the latest there
    for (;;) {
      const c = b[k]!;
      if (c < 0x20 || c === 0x7f) {
        if (c === 0x0d) {
          if (b[k + 1] === 0x0a) break;
          headerError(b, p, k, 'a control byte in a header');
        }
        if (c !== 0x09) headerError(b, p, k, 'a control byte in a header');
      }
      k++;
    }
    const id = knownHeader(b, p, nameEnd);
    let name: string;
    if (id >= 0) {
      const bit = 1 << id;
      if ((seen & bit) !== 0) throw new MsrpError(MsrpErrorCodes.DUPLICATE_HEADER, `duplicate ${str(b, p, nameEnd)} header`);
      seen |= bit;
      name = sameBytes(b, p, CANON_B[id]!) ? CANON[id]! : text.slice(p - start, nameEnd - start);
    } else name = text.slice(p - start, nameEnd - start);
    if (headers.length === 0) first = id;
    else if (headers.length === 1) second = id;
    const h: MsrpHeader = { name, value: vs === k ? '' : text.slice(vs - start, k - start) };
    if (vs - nameEnd !== 2 || b[nameEnd] !== 0x3a || b[nameEnd + 1] !== 0x20) h.sep = text.slice(nameEnd - start, vs - start);
    headers.push(h);
    p = k + 2;
  }
  if ((seen & (1 << H_FROM)) === 0) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'no From-Path header');
  if ((seen & (1 << H_TO)) === 0) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'no To-Path header');
  // OpenSIPS's check, with its AND: fails only when neither holds
  if (first !== H_TO && second !== H_FROM) throw new MsrpError(MsrpErrorCodes.HEADER_ORDER, 'To-Path and From-Path must be the first two headers');
  if (msg.kind === 'request') {
    if (hasBody && (seen & (1 << H_CTYPE)) === 0) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'a request with a body has no Content-Type');
    if ((seen & (1 << H_MSGID)) === 0 && methodId(msg.method) !== 'AUTH') throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, `a ${msg.method} request has no Message-ID`);
  }
  return msg;
}

const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;


/** Splits one header line (no CRLF) into name, separator and raw value. */
export function parseHeaderLine(line: string): MsrpHeader {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new MsrpError(MsrpErrorCodes.HEADER, `a header line without a name and ':': "${line.slice(0, 60)}"`);
  let nameEnd = colon;
  while (nameEnd > 0 && (line[nameEnd - 1] === ' ' || line[nameEnd - 1] === '\t')) nameEnd--;
  const name = line.slice(0, nameEnd);
  if (!NAME.test(name)) throw new MsrpError(MsrpErrorCodes.HEADER, `bad header name "${name.slice(0, 60)}"`);
  let v = colon + 1;
  while (v < line.length && (line[v] === ' ' || line[v] === '\t')) v++;
  const value = line.slice(v);
  if (hasControl(value)) throw new MsrpError(MsrpErrorCodes.HEADER, `a control byte in the ${name} header`);
  const sep = line.slice(nameEnd, v);
  const h: MsrpHeader = { name, value };
  if (sep !== ': ') h.sep = sep;
  return h;
}
