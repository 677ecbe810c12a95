// The string-based head parser of @x/proto-msrp 0.1, kept as a reference model (see parser-v0.ts).
import { hasControl } from '../../src/codec/chars.js';
import { MsrpError, MsrpErrorCodes } from '../../src/codec/errors.js';
import type { MsrpHeader, MsrpMethodId, MsrpMessage } from '../../src/codec/types.js';

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
const SINGLE = new Set<string>(SINGLE_HEADERS);

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
  const msrp = [0x6d, 0x73, 0x72, 0x70];
  for (let i = 0; i < 4 && i < len; i++) {
    if ((b[i]! | 0x20) !== msrp[i]) throw new MsrpError(MsrpErrorCodes.START, 'the message does not start with "MSRP "');
  }
  if (len > 4 && b[4] !== 0x20) throw new MsrpError(MsrpErrorCodes.START, 'the message does not start with "MSRP "');
  if (len > 5 && !isAlnum(b[5]!)) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id must start with a letter or a digit');
  const end = Math.min(len, 5 + MAX_TID_LENGTH + 1);
  for (let i = 6; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20) return i - 5;
    if (c < 0x21 || c > 0x7e) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id holds a control or non-ASCII byte');
  }
  if (len > 5 + MAX_TID_LENGTH) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, `a transaction id longer than ${MAX_TID_LENGTH} bytes`);
  return -1;
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
  const eol = text.indexOf('\r\n');
  if (eol < 0) throw new MsrpError(MsrpErrorCodes.TRUNCATED, 'no CRLF after the start line');
  const prefix = text.slice(0, 4);
  if (prefix.toLowerCase() !== 'msrp' || text[4] !== ' ') throw new MsrpError(MsrpErrorCodes.START, 'the message does not start with "MSRP "');
  const sp = text.indexOf(' ', 5);
  if (sp < 0 || sp > eol) throw new MsrpError(MsrpErrorCodes.START_LINE, 'the start line has no method or status after the transaction id');
  const tid = text.slice(5, sp);
  if (tid.length === 0 || !isAlnum(tid.charCodeAt(0))) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id must start with a letter or a digit');
  if (tid.length > MAX_TID_LENGTH) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, `a transaction id longer than ${MAX_TID_LENGTH} bytes`);
  if (/[^\x21-\x7e]/.test(tid)) throw new MsrpError(MsrpErrorCodes.TRANSACTION_ID, 'a transaction id holds a control or non-ASCII byte');
  const rest = text.slice(sp + 1, eol);
  if (hasControl(rest)) throw new MsrpError(MsrpErrorCodes.START_LINE, 'a control byte in the start line');
  let msg: MsrpMessage;
  if (/^[0-9]{3}/.test(rest)) {
    if (rest.length > 3 && rest[3] !== ' ')
      throw new MsrpError(MsrpErrorCodes.START_LINE, `status "${rest.slice(0, 20)}" is not 3 digits followed by a space`);
    msg = { kind: 'response', tid, status: Number(rest.slice(0, 3)), headers: [], continuation: '$' };
    if (rest.length > 3) msg.reason = rest.slice(4);
  } else {
    if (rest.length === 0) throw new MsrpError(MsrpErrorCodes.START_LINE, 'an empty method');
    if (/[ \t]/.test(rest)) throw new MsrpError(MsrpErrorCodes.START_LINE, `a method with a space: "${rest.slice(0, 40)}"`);
    msg = { kind: 'request', tid, method: rest, headers: [], continuation: '$' };
  }
  if (prefix !== 'MSRP') msg.prefix = prefix;
  const seen = new Set<string>();
  let p = eol + 2;
  while (p < text.length) {
    const e = text.indexOf('\r\n', p);
    if (e < 0) throw new MsrpError(MsrpErrorCodes.HEADER, 'a header line without CRLF');
    const line = text.slice(p, e);
    p = e + 2;
    const h = parseHeaderLine(line);
    const lname = h.name.toLowerCase();
    if (SINGLE.has(lname)) {
      if (seen.has(lname)) throw new MsrpError(MsrpErrorCodes.DUPLICATE_HEADER, `duplicate ${h.name} header`);
      seen.add(lname);
    }
    msg.headers.push(h);
  }
  if (!seen.has('from-path')) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'no From-Path header');
  if (!seen.has('to-path')) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'no To-Path header');
  // OpenSIPS's check, with its AND: fails only when neither holds
  if (msg.headers[0]!.name.toLowerCase() !== 'to-path' && msg.headers[1]?.name.toLowerCase() !== 'from-path')
    throw new MsrpError(MsrpErrorCodes.HEADER_ORDER, 'To-Path and From-Path must be the first two headers');
  if (msg.kind === 'request') {
    if (hasBody && !seen.has('content-type')) throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, 'a request with a body has no Content-Type');
    if (methodId(msg.method) !== 'AUTH' && !seen.has('message-id'))
      throw new MsrpError(MsrpErrorCodes.MISSING_HEADER, `a ${msg.method} request has no Message-ID`);
  }
  return { msg, tid };
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
