import { MsrpError, MsrpErrorCodes } from './errors.js';
import type { MsrpHeader, MsrpMessage } from './types.js';

function invalid(why: string): never {
  throw new MsrpError(MsrpErrorCodes.INVALID, why);
}

import { hasControl, hasSpaceOrControl } from './chars.js';

/** The start line + header lines (with their CRLFs) of a message, as latin1 text. */
export function encodeHeadText(msg: MsrpMessage): string {
  if (!/^[0-9A-Za-z][\x21-\x7e]*$/.test(msg.tid) || msg.tid.length > 255) invalid(`bad transaction id "${msg.tid}"`);
  let first: string;
  if (msg.kind === 'request') {
    if (msg.method === '' || hasSpaceOrControl(msg.method) || /^[0-9]{3}/.test(msg.method)) invalid(`bad method "${msg.method}"`);
    first = msg.method;
  } else {
    if (!Number.isInteger(msg.status) || msg.status < 0 || msg.status > 999) invalid(`bad status ${msg.status}`);
    if (msg.reason !== undefined && hasControl(msg.reason)) invalid('a control byte in the reason');
    first = String(msg.status).padStart(3, '0') + (msg.reason !== undefined ? ` ${msg.reason}` : '');
  }
  const prefix = msg.prefix ?? 'MSRP';
  if (prefix.toLowerCase() !== 'msrp') invalid(`bad prefix "${prefix}"`);
  let s = `${prefix} ${msg.tid} ${first}\r\n`;
  for (const h of msg.headers) s += headerLine(h);
  return s;
}

export function headerLine(h: MsrpHeader): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(h.name)) invalid(`bad header name "${h.name}"`);
  if (hasControl(h.value)) invalid(`a control byte in the ${h.name} header`);
  const sep = h.sep ?? ': ';
  if (!/^[ \t]*:[ \t]*$/.test(sep)) invalid(`bad separator after ${h.name}`);
  return `${h.name}${sep}${h.value}\r\n`;
}

/** The end-line with its CRLF. */
export function endLine(tid: string, flag: string): string {
  if (flag !== '$' && flag !== '+' && flag !== '#') invalid(`bad continuation flag "${flag}"`);
  return `-------${tid}${flag}\r\n`;
}

/**
 * Writes a message back to bytes. Headers, separators and values come out exactly as they
 * went in, so `encode(decode(b))` equals `b` for every message `decode` accepts. With a
 * body: an empty line, the body, CRLF, the end-line. Refuses (ERR_MSRP_INVALID) a body
 * holding CRLF + seven dashes (it would end the message early).
 */
export function encode(msg: MsrpMessage): Buffer {
  const head = encodeHeadText(msg);
  const end = endLine(msg.tid, msg.continuation);
  if (msg.body === undefined) return Buffer.from(`${head}${end}`, 'latin1');
  if (msg.body.indexOf('\r\n-------', 0, 'latin1') >= 0) invalid('the body holds CRLF + "-------", which would end the message');
  const h = Buffer.from(`${head}\r\n`, 'latin1');
  const e = Buffer.from(`\r\n${end}`, 'latin1');
  return Buffer.concat([h, msg.body, e], h.length + msg.body.length + e.length);
}
