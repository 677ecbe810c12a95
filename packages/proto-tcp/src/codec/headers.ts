import { SipErrorCodes, SipProtocolError } from './errors.js';
import { buildResponseRaw, isSpace, makeTag, replyTopVia, toHasTag, type ReplySource } from './reply.js';

export { makeTag };

/** One header line of a message (folded lines joined with a single space). */
export interface SipHeader {
  /** the name as written */
  name: string;
  /** lower-case full name; compact forms expanded (v -> via, i -> call-id...) */
  key: string;
  value: string;
}

const COMPACT: Record<string, string> = {
  v: 'via',
  f: 'from',
  t: 'to',
  i: 'call-id',
  l: 'content-length',
  m: 'contact',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
};

/** The first line of a message. */
export type StartLine =
  | { isRequest: true; method: string; uri: string }
  | { isRequest: false; status: number; reason: string };

/** Offset of the first body byte (after LF LF or LF CR LF), or buf.length when there is none. */
export function headerEnd(buf: Buffer): number {
  let i = buf.indexOf(10);
  while (i !== -1 && i + 1 < buf.length) {
    const n = buf[i + 1];
    if (n === 10) return i + 2;
    if (n === 13 && buf[i + 2] === 10) return i + 3;
    i = buf.indexOf(10, i + 1);
  }
  return buf.length;
}

/** Common methods, so the request-line fast path returns shared strings. */
const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE'].map((m) => ({
  name: m,
  bytes: Buffer.from(m, 'latin1'),
}));

function methodString(buf: Buffer, end: number): string {
  for (const m of METHODS) {
    const b = m.bytes;
    if (b.length !== end) continue;
    let i = 0;
    while (i < end && buf[i] === b[i]) i++;
    if (i === end) return m.name;
  }
  return buf.toString('latin1', 0, end);
}

/**
 * Checks the request line `METHOD SP uri SP SIP/2.0` on bytes, exactly as the regular
 * expression of parseStartLine would accept it. Returns the length of the method (the uri is
 * buf[method + 1, end - 8)), or -1 for anything else (responses, odd lines), which then take
 * the string path. `eol` is the offset of the line's LF (or buf.length).
 */
function requestLineMethodEnd(buf: Buffer, eol: number): number {
  let end = eol;
  if (end > 0 && buf[end - 1] === 13) end--;
  // "SIP/2.0" (any case) preceded by a space, at the end of the line
  const v = end - 7;
  if (v < 4 || buf[v - 1] !== 32) return -1;
  if ((buf[v]! | 32) !== 115 || (buf[v + 1]! | 32) !== 105 || (buf[v + 2]! | 32) !== 112 || buf[v + 3] !== 47 || buf[v + 4] !== 50 || buf[v + 5] !== 46 || buf[v + 6] !== 48) return -1;
  let sp = 0;
  while (sp < end) {
    const c = buf[sp]!;
    if (c === 32) break;
    if (c < 33 || c > 126) return -1;
    sp++;
  }
  if (sp === 0 || sp + 1 >= v - 1) return -1;
  for (let i = sp + 1; i < v - 1; i++) if (isSpace(buf[i]!)) return -1;
  return sp;
}

/**
 * True when buf[from, ...) starts with a SIP start line, as parseStartLine accepts it: a
 * request line `METHOD SP uri SP SIP/2.0` (method: visible ASCII; uri: no white space) or a
 * status line `SIP/2.0 SP 3DIGIT [SP reason]`, ended by LF (CR LF) before `limit`. Bytes only,
 * no string: the framer runs it on every message, so nothing that is not SIP is ever delivered.
 */
export function isSipStartLine(buf: Buffer, from: number, limit: number): boolean {
  const lf = buf.indexOf(10, from);
  if (lf === -1 || lf >= limit) return false;
  const end = lf > from && buf[lf - 1] === 13 ? lf - 1 : lf;
  if (end - from >= 8 && buf[from] === 83 && buf[from + 1] === 73 && buf[from + 2] === 80 && buf[from + 3] === 47 && buf[from + 4] === 50 && buf[from + 5] === 46 && buf[from + 6] === 48 && buf[from + 7] === 32) {
    // status line
    if (end - from < 11) return false;
    for (let i = from + 8; i < from + 11; i++) if (buf[i]! < 48 || buf[i]! > 57) return false;
    if (end - from === 11) return true;
    if (buf[from + 11] !== 32) return false;
    for (let i = from + 12; i < end; i++) if (buf[i] === 13) return false;
    return true;
  }
  // request line: "SIP/2.0" (any case) preceded by a space at the end of the line
  const v = end - 7;
  if (v - from < 4 || buf[v - 1] !== 32) return false;
  if ((buf[v]! | 32) !== 115 || (buf[v + 1]! | 32) !== 105 || (buf[v + 2]! | 32) !== 112 || buf[v + 3] !== 47 || buf[v + 4] !== 50 || buf[v + 5] !== 46 || buf[v + 6] !== 48) return false;
  let sp = from;
  while (sp < end) {
    const c = buf[sp]!;
    if (c === 32) break;
    if (c < 33 || c > 126) return false;
    sp++;
  }
  if (sp === from || sp + 1 >= v - 1) return false;
  for (let i = sp + 1; i < v - 1; i++) if (isSpace(buf[i]!)) return false;
  return true;
}

function lineEnd(buf: Buffer): number {
  const eol = buf.indexOf(10);
  return eol === -1 ? buf.length : eol;
}

/** The request line read from bytes; null when it needs the string path (see requestLineMethodEnd). */
function parseRequestLine(buf: Buffer, eol: number): StartLine | null {
  const sp = requestLineMethodEnd(buf, eol);
  if (sp < 0) return null;
  const end = eol > 0 && buf[eol - 1] === 13 ? eol - 1 : eol;
  return { isRequest: true, method: methodString(buf, sp), uri: buf.toString('latin1', sp + 1, end - 8) };
}

/**
 * The method of a request whose request line the byte path accepts, without decoding the
 * uri (what parseStartLine(buf).method returns then); null when only parseStartLine can tell
 * (a response, an odd or malformed line).
 */
export function requestMethod(buf: Buffer): string | null {
  if (isResponse(buf)) return null;
  const sp = requestLineMethodEnd(buf, lineEnd(buf));
  return sp < 0 ? null : methodString(buf, sp);
}

/** Parses the start line: `METHOD uri SIP/2.0` or `SIP/2.0 code reason`. Throws ERR_SIP_BAD_MESSAGE. */
export function parseStartLine(buf: Buffer): StartLine {
  const eol = lineEnd(buf);
  if (!isResponse(buf)) {
    const fast = parseRequestLine(buf, eol);
    if (fast !== null) return fast;
  }
  const line = buf.toString('latin1', 0, eol).replace(/\r$/, '');
  if (line.startsWith('SIP/2.0 ')) {
    const m = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(line);
    if (!m) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad status line: ${JSON.stringify(line.slice(0, 80))}`);
    return { isRequest: false, status: Number(m[1]), reason: m[2] ?? '' };
  }
  const m = /^([!-~]+) (\S+) SIP\/2\.0$/i.exec(line);
  if (!m) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad request line: ${JSON.stringify(line.slice(0, 80))}`);
  return { isRequest: true, method: m[1]!, uri: m[2]! };
}

/** True when the message is a response (starts with `SIP/2.0 `); no string conversion. */
export function isResponse(buf: Buffer): boolean {
  // byte compares: this runs for every received message
  return buf.length >= 8 && buf[0] === 83 && buf[1] === 73 && buf[2] === 80 && buf[3] === 47 && buf[4] === 50 && buf[5] === 46 && buf[6] === 48 && buf[7] === 32;
}

/** Every header line of the header section, in order. Latin1, so bytes round-trip exactly. */
export function parseHeaders(buf: Buffer): SipHeader[] {
  const end = headerEnd(buf);
  const text = buf.toString('latin1', 0, end);
  const lines = text.split('\n');
  const out: SipHeader[] = [];
  for (let n = 1; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') break;
    const last = out[out.length - 1];
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      last.value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const lower = name.toLowerCase();
    out.push({ name, key: COMPACT[lower] ?? lower, value: line.slice(colon + 1).trim() });
  }
  return out;
}

/** The first value of a header (compact forms match), or undefined. */
export function getHeader(headers: readonly SipHeader[], key: string): string | undefined {
  const k = key.toLowerCase();
  const want = COMPACT[k] ?? k;
  for (const h of headers) if (h.key === want) return h.value;
  return undefined;
}

/** Splits a header value on commas outside quotes and angle brackets (Via: a, b). */
export function splitCommas(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth--;
    else if (!quoted && depth === 0 && c === ',') {
      out.push(value.slice(from, i).trim());
      from = i + 1;
    }
  }
  out.push(value.slice(from).trim());
  return out.filter((s) => s !== '');
}

/** The parts of a Via that matter for transport: sent-by host/port and the RFC 5923 `alias` param. */
export interface ViaInfo {
  transport: string;
  host: string;
  /** null when the Via has no port */
  port: number | null;
  alias: boolean;
  params: Record<string, string | true>;
}

/** Parses one Via value `SIP/2.0/TCP host[:port];params`. Throws ERR_SIP_BAD_MESSAGE. */
export function parseVia(value: string): ViaInfo {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9_-]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s;:]+)(?:\s*:\s*(\d{1,5}))?\s*(.*)$/.exec(value);
  if (!m) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad Via: ${JSON.stringify(value.slice(0, 80))}`);
  const params: Record<string, string | true> = {};
  for (const p of m[4]!.split(';')) {
    const t = p.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq === -1) params[t.toLowerCase()] = true;
    else params[t.slice(0, eq).trim().toLowerCase()] = t.slice(eq + 1).trim();
  }
  const port = m[3] === undefined ? null : Number(m[3]);
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  return { transport: m[1]!.toUpperCase(), host, port: port !== null && port <= 65535 ? port : null, alias: 'alias' in params, params };
}

/** The top-most Via of a message (first value of the first Via header), or undefined. */
export function topVia(buf: Buffer | readonly SipHeader[]): ViaInfo | undefined {
  const headers = Buffer.isBuffer(buf) ? parseHeaders(buf) : buf;
  const v = getHeader(headers, 'via');
  if (v === undefined) return undefined;
  const first = splitCommas(v)[0];
  return first === undefined ? undefined : parseVia(first);
}

/** What a reply needs from its request. */
export interface DialogIds {
  vias: string[];
  from: string;
  to: string;
  callId: string;
  cseq: string;
}

/** Extracts Via(s), From, To, Call-ID and CSeq. Throws ERR_SIP_BAD_MESSAGE when one is missing. */
export function dialogIds(headers: readonly SipHeader[]): DialogIds {
  const vias: string[] = [];
  let from: string | undefined;
  let to: string | undefined;
  let callId: string | undefined;
  let cseq: string | undefined;
  for (const h of headers) {
    switch (h.key) {
      case 'via':
        vias.push(h.value);
        break;
      case 'from':
        from ??= h.value;
        break;
      case 'to':
        to ??= h.value;
        break;
      case 'call-id':
        callId ??= h.value;
        break;
      case 'cseq':
        cseq ??= h.value;
        break;
    }
  }
  const missing = [vias.length ? '' : 'Via', from ? '' : 'From', to ? '' : 'To', callId ? '' : 'Call-ID', cseq ? '' : 'CSeq'].filter(Boolean);
  if (missing.length) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `request lacks ${missing.join(', ')}`);
  return { vias, from: from!, to: to!, callId: callId!, cseq: cseq! };
}

/** `Name: value` pairs, as an object or an array (to repeat a name). */
export type ExtraHeaders = Record<string, string | number> | ReadonlyArray<readonly [string, string | number]>;

/** the last reason phrase that passed the CR/LF check (replies repeat a handful) */
let lastGoodReason = 'OK';

/**
 * Builds a stateless SIP response to `request`: the request's Via headers (all, in order),
 * From, To (with a tag added if it has none and status > 100), Call-ID, CSeq, the extra
 * headers, and `Content-Length: 0`. With `source` (the request's source address) the top Via
 * gets RFC 3581's `received` / `rport` as OpenSIPS sets them in local replies (see
 * replyTopVia). Throws ERR_SIP_BAD_MESSAGE for a response or a request
 * lacking those headers, ERR_INVALID_OPTION-like SipProtocolError for a bad status.
 */
export function buildResponse(request: Buffer | readonly SipHeader[], status: number, reason: string, extraHeaders?: ExtraHeaders, toTag?: string, source?: ReplySource): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `status must be an integer in 100..699, got ${String(status)}`);
  }
  if (reason !== lastGoodReason) {
    if (/[\r\n]/.test(reason)) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, 'reason phrase must not contain CR or LF');
    lastGoodReason = reason;
  }
  let extra = '';
  if (extraHeaders) {
    const pairs = Array.isArray(extraHeaders) ? (extraHeaders as ReadonlyArray<readonly [string, string | number]>) : Object.entries(extraHeaders);
    for (const [name, value] of pairs) {
      const v = String(value);
      if (!/^[!-9;-~]+$/.test(name) || /[\r\n]/.test(v)) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad extra header ${JSON.stringify(name)}`);
      // the reply has no body: its Content-Length is always ours
      if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'l') continue;
      extra += `${name}: ${v}\r\n`;
    }
  }
  if (Buffer.isBuffer(request)) {
    if (isResponse(request)) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, 'cannot reply to a response');
    return buildResponseRaw(request, status, reason, extra, toTag, source);
  }
  const ids = dialogIds(request);
  let to = ids.to;
  if (status > 100 && !toHasTag(to)) to += `;tag=${toTag ?? makeTag()}`;
  let out = `SIP/2.0 ${status} ${reason}\r\n`;
  ids.vias.forEach((v, i) => {
    const top = i === 0 && source !== undefined ? replyTopVia(Buffer.from(v, 'latin1'), 0, Buffer.byteLength(v, 'latin1'), source) : undefined;
    out += `Via: ${top ?? v}\r\n`;
  });
  out += `From: ${ids.from}\r\nTo: ${to}\r\nCall-ID: ${ids.callId}\r\nCSeq: ${ids.cseq}\r\n${extra}Content-Length: 0\r\n\r\n`;
  return Buffer.from(out, 'latin1');
}
