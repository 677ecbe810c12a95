import { SipErrorCodes, SipProtocolError } from './errors.js';

// The reply fast path runs once per answered request, so it works on bytes only: one scan of
// the header section recording value ranges into module-level scratch (the code is
// synchronous, nothing re-enters it), byte loops for the short copies, no strings or regular
// expressions per reply, one allocation for the result.

const K_OTHER = 0;
const K_VIA = 1;
const K_FROM = 2;
const K_TO = 3;
const K_CALLID = 4;
const K_CSEQ = 5;

// scanRanges results: [start, end) of each value, -1 when absent; vias as start,end pairs
const vias: number[] = [];
let fromS = -1;
let fromE = -1;
let toS = -1;
let toE = -1;
let callIdS = -1;
let callIdE = -1;
let cseqS = -1;
let cseqE = -1;

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Matches a header name (lower-case ASCII) at buf[s, e) exactly. */
function nameIs(buf: Buffer, s: number, e: number, name: string): boolean {
  if (e - s !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(buf[s + i]!) !== name.charCodeAt(i)) return false;
  return true;
}

function kindOf(buf: Buffer, s: number, e: number): number {
  const n = e - s;
  if (n === 1) {
    const c = lower(buf[s]!);
    return c === 118 ? K_VIA : c === 102 ? K_FROM : c === 116 ? K_TO : c === 105 ? K_CALLID : K_OTHER;
  }
  if (n === 3) return nameIs(buf, s, e, 'via') ? K_VIA : K_OTHER;
  if (n === 4) return nameIs(buf, s, e, 'from') ? K_FROM : nameIs(buf, s, e, 'cseq') ? K_CSEQ : K_OTHER;
  if (n === 2) return nameIs(buf, s, e, 'to') ? K_TO : K_OTHER;
  if (n === 7) return nameIs(buf, s, e, 'call-id') ? K_CALLID : K_OTHER;
  return K_OTHER;
}

/** Scans the header section once, line by line, recording value ranges in the scratch above. */
function scanRanges(buf: Buffer): void {
  vias.length = 0;
  fromS = fromE = toS = toE = callIdS = callIdE = cseqS = cseqE = -1;
  const len = buf.length;
  let line = buf.indexOf(10) + 1; // past the start line (memchr: lines are long)
  let lastKind = K_OTHER;
  let lastSlot = -1; // index in vias (even) or -2 for the single-valued ones
  while (line > 0 && line < len) {
    let eol = buf.indexOf(10, line);
    if (eol === -1) eol = len;
    let end = eol;
    if (end > line && buf[end - 1] === 13) end--;
    if (end === line) break; // blank line: end of headers
    const c0 = buf[line]!;
    if (c0 === 32 || c0 === 9) {
      // folded continuation: extend the previous value (the fold is copied as is)
      if (lastKind === K_VIA && lastSlot >= 0) vias[lastSlot + 1] = end;
      else if (lastSlot === -2) {
        if (lastKind === K_FROM) fromE = end;
        else if (lastKind === K_TO) toE = end;
        else if (lastKind === K_CALLID) callIdE = end;
        else if (lastKind === K_CSEQ) cseqE = end;
      }
      line = eol + 1;
      continue;
    }
    // header names are short: a byte loop to the colon
    let colon = line;
    while (colon < end && buf[colon] !== 58) colon++;
    if (colon === end) colon = -1;
    let kind = K_OTHER;
    let vs = end;
    if (colon !== -1) {
      let ne = colon;
      while (ne > line && (buf[ne - 1] === 32 || buf[ne - 1] === 9)) ne--;
      kind = kindOf(buf, line, ne);
      vs = colon + 1;
    }
    while (vs < end && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    let ve = end;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    lastKind = kind;
    lastSlot = -1;
    switch (kind) {
      case K_VIA:
        lastSlot = vias.length;
        vias.push(vs, ve);
        break;
      case K_FROM:
        if (fromS < 0) {
          fromS = vs;
          fromE = ve;
          lastSlot = -2;
        }
        break;
      case K_TO:
        if (toS < 0) {
          toS = vs;
          toE = ve;
          lastSlot = -2;
        }
        break;
      case K_CALLID:
        if (callIdS < 0) {
          callIdS = vs;
          callIdE = ve;
          lastSlot = -2;
        }
        break;
      case K_CSEQ:
        if (cseqS < 0) {
          cseqS = vs;
          cseqE = ve;
          lastSlot = -2;
        }
        break;
    }
    line = eol + 1;
  }
}

/** JavaScript's `\s` within Latin-1 (what `\s` in the string forms of the byte paths matches). */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/**
 * True when a To value (name-addr or addr-spec) already carries a tag parameter: `;`, `tag`
 * (any case), `=`, with optional white space between, after the last `>` (or anywhere in an
 * addr-spec). The byte form of toHasTag.
 */
function toHasTagBytes(buf: Buffer, s: number, e: number): boolean {
  let from = s;
  for (let i = e - 1; i >= s; i--) {
    if (buf[i] === 62) {
      from = i;
      break;
    }
  }
  for (let i = from; i < e; i++) {
    if (buf[i] !== 59) continue;
    let j = i + 1;
    while (j < e && isSpace(buf[j]!)) j++;
    if (j + 3 > e || lower(buf[j]!) !== 116 || lower(buf[j + 1]!) !== 97 || lower(buf[j + 2]!) !== 103) continue;
    j += 3;
    while (j < e && isSpace(buf[j]!)) j++;
    if (j < e && buf[j] === 61) return true;
  }
  return false;
}

/** True when a To value (name-addr or addr-spec) already carries a tag parameter. */
export function toHasTag(value: string): boolean {
  const gt = value.lastIndexOf('>');
  return /;\s*tag\s*=/i.test(gt === -1 ? value : value.slice(gt));
}

const TAG_PREFIX = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
const TAG_PREFIX_BYTES = Buffer.from(`;tag=${TAG_PREFIX}`, 'latin1');
const TAG_LEN = TAG_PREFIX_BYTES.length + 8;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
let tagCounter = Math.floor(Math.random() * 0x10000);

/** A To tag for replies: unique per process run (random prefix + counter). */
export function makeTag(): string {
  tagCounter = (tagCounter + 1) >>> 0;
  return TAG_PREFIX + tagCounter.toString(16).padStart(8, '0');
}

/** Writes `;tag=` + makeTag()'s next value at out[o]; returns the new offset. */
function putTag(out: Buffer, o: number): number {
  tagCounter = (tagCounter + 1) >>> 0;
  o = putBytes(out, o, TAG_PREFIX_BYTES, 0, TAG_PREFIX_BYTES.length);
  const n = tagCounter;
  for (let k = 28; k >= 0; k -= 4) out[o++] = HEX[(n >>> k) & 15]!;
  return o;
}

/** Copies src[s, e) to out[o]; a byte loop for short ranges (cheaper than Buffer#copy's call). */
function putBytes(out: Buffer, o: number, src: Buffer, s: number, e: number): number {
  if (e - s > 96) return o + src.copy(out, o, s, e);
  for (let i = s; i < e; i++) out[o++] = src[i]!;
  return o;
}

/** Writes one copied header line: `name` (with its ": "), the request's bytes s..e, CRLF. */
function putHeader(out: Buffer, o: number, name: Buffer, req: Buffer, s: number, e: number): number {
  o = putBytes(out, o, name, 0, name.length);
  o = putBytes(out, o, req, s, e);
  out[o++] = 13;
  out[o++] = 10;
  return o;
}

const S_VIA = Buffer.from('Via: ');
const S_FROM = Buffer.from('From: ');
const S_TO = Buffer.from('To: ');
const S_CALLID = Buffer.from('Call-ID: ');
const S_CSEQ = Buffer.from('CSeq: ');
const S_END = Buffer.from('Content-Length: 0\r\n\r\n');

/** Status lines by `status reason`: replies use a handful, so they are encoded once. */
const statusLines = new Map<string, Buffer>();
let lastStatus = 0;
let lastReason = '';
let lastLine: Buffer = Buffer.alloc(0);

function statusLine(status: number, reason: string): Buffer {
  if (status === lastStatus && reason === lastReason) return lastLine;
  const key = `${status} ${reason}`;
  let line = statusLines.get(key);
  if (line === undefined) {
    line = Buffer.from(`SIP/2.0 ${key}\r\n`, 'latin1');
    if (statusLines.size >= 64) statusLines.clear();
    statusLines.set(key, line);
  }
  lastStatus = status;
  lastReason = reason;
  lastLine = line;
  return line;
}

function missingError(): SipProtocolError {
  const missing: string[] = [];
  if (vias.length === 0) missing.push('Via');
  if (fromS < 0) missing.push('From');
  if (toS < 0) missing.push('To');
  if (callIdS < 0) missing.push('Call-ID');
  if (cseqS < 0) missing.push('CSeq');
  return new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `request lacks ${missing.join(', ')}`);
}

/** Where a reply came from: RFC 3581's received / rport are set from it. */
export interface ReplySource {
  /** the request's source IP (text form, no brackets) */
  host: string;
  port: number;
}

// topVia results (offsets into the buffer given to it)
let viaHostEnd = -1; // after host[:port]: where received (and a new rport) go
let viaHostS = -1;
let viaHostE = -1; // the host, brackets stripped
let viaRportS = -1; // the ";rport[=n]" param, from its ';'
let viaRportE = -1;
let viaReceived = false;
let viaMaddrS = -1;
let viaMaddrE = -1;

function isLws(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}

/**
 * Finds, in the first value of a Via header at buf[s, e), where host[:port] ends and the
 * rport, received and maddr params. False when the value does not have the sent-by shape.
 */
function scanTopVia(buf: Buffer, s: number, e: number): boolean {
  viaHostEnd = viaHostS = viaHostE = viaRportS = viaRportE = viaMaddrS = viaMaddrE = -1;
  viaReceived = false;
  // sent-protocol: SIP / 2.0 / transport
  let i = s;
  let slashes = 0;
  while (i < e && slashes < 2) if (buf[i++] === 47) slashes++;
  if (slashes < 2) return false;
  while (i < e && isLws(buf[i]!)) i++;
  while (i < e && !isLws(buf[i]!)) i++; // transport token
  while (i < e && isLws(buf[i]!)) i++;
  if (i >= e) return false;
  if (buf[i] === 91) {
    const close = buf.indexOf(93, i);
    if (close === -1 || close >= e) return false;
    viaHostS = i + 1;
    viaHostE = close;
    i = close + 1;
  } else {
    viaHostS = i;
    while (i < e) {
      const c = buf[i]!;
      if (c === 59 || c === 58 || c === 44 || isLws(c)) break;
      i++;
    }
    viaHostE = i;
  }
  if (viaHostE === viaHostS) return false;
  viaHostEnd = i;
  let j = i;
  while (j < e && isLws(buf[j]!)) j++;
  if (j < e && buf[j] === 58) {
    j++;
    while (j < e && isLws(buf[j]!)) j++;
    const d = j;
    while (j < e && buf[j]! >= 48 && buf[j]! <= 57) j++;
    if (j === d) return false;
    viaHostEnd = j;
  }
  // params up to the end of this via value (a ',' starts the next one)
  i = viaHostEnd;
  while (i < e) {
    while (i < e && isLws(buf[i]!)) i++;
    if (i >= e || buf[i] === 44) break;
    if (buf[i] !== 59) return true; // not a param: leave the rest as it is
    const semi = i++;
    while (i < e && isLws(buf[i]!)) i++;
    const ns = i;
    while (i < e && buf[i] !== 61 && buf[i] !== 59 && buf[i] !== 44 && !isLws(buf[i]!)) i++;
    const ne = i;
    while (i < e && isLws(buf[i]!)) i++;
    let vs = -1;
    let ve = -1;
    if (i < e && buf[i] === 61) {
      i++;
      while (i < e && isLws(buf[i]!)) i++;
      vs = i;
      if (i < e && buf[i] === 34) {
        i++;
        while (i < e && buf[i] !== 34) i += buf[i] === 92 ? 2 : 1;
        i = Math.min(i + 1, e);
      } else {
        while (i < e && buf[i] !== 59 && buf[i] !== 44 && !isLws(buf[i]!)) i++;
      }
      ve = i;
    }
    if (nameIs(buf, ns, ne, 'rport')) {
      viaRportS = semi;
      viaRportE = i;
    } else if (nameIs(buf, ns, ne, 'received')) viaReceived = true;
    else if (nameIs(buf, ns, ne, 'maddr') && vs >= 0) {
      viaMaddrS = vs;
      viaMaddrE = ve;
    }
  }
  return true;
}

/** RFC 3581 / OpenSIPS's received_test: the Via's host (or maddr) is not the source address, or it has a received param. */
function needsReceived(buf: Buffer, src: ReplySource): boolean {
  if (viaReceived) return true;
  const hs = viaMaddrS >= 0 ? viaMaddrS : viaHostS;
  const he = viaMaddrS >= 0 ? viaMaddrE : viaHostE;
  const host = src.host;
  if (he - hs === host.length) {
    let same = true;
    for (let k = 0; k < host.length; k++) {
      if (lower(buf[hs + k]!) !== lower(host.charCodeAt(k))) {
        same = false;
        break;
      }
    }
    if (same) return false;
  }
  // IPv6 texts differ in case and zero compression: compare their canonical forms
  if (host.includes(':')) {
    const text = buf.toString('latin1', hs, he);
    return text.includes(':') ? canonicalV6(text) !== canonicalV6(host) : true;
  }
  return true;
}

/** An IPv6 address as 8 hex groups, lower case, without leading zeros ("" when it is not one). */
function canonicalV6(a: string): string {
  let text = a.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const n = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((n[0]! << 8) | n[1]!).toString(16)}:${((n[2]! << 8) | n[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return '';
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return '';
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

/**
 * The top Via's value for a local reply, as OpenSIPS's build_res_buf_from_sip_req makes it:
 * `;received=<source ip>` right after host[:port] when the request has rport or its Via host
 * is not the source address (RFC 3581 section 4; RFC 3261 section 18.2.1); an rport param
 * gets the source port (`;rport=<port>`, in its place). Returns undefined when nothing changes.
 */
export function replyTopVia(buf: Buffer, s: number, e: number, src: ReplySource): string | undefined {
  if (!scanTopVia(buf, s, e)) return undefined;
  const rport = viaRportS >= 0;
  const received = rport || needsReceived(buf, src);
  if (!received) return undefined;
  let out = buf.toString('latin1', s, viaHostEnd) + ';received=' + src.host;
  if (rport) out += buf.toString('latin1', viaHostEnd, viaRportS) + ';rport=' + String(src.port) + buf.toString('latin1', viaRportE, e);
  else out += buf.toString('latin1', viaHostEnd, e);
  return out;
}

/**
 * The fast path of buildResponse for a raw request: header values are copied as byte ranges,
 * never decoded, into one allocation. `extra` is the already-validated extra header text.
 */
export function buildResponseRaw(req: Buffer, status: number, reason: string, extra: string, toTag: string | undefined, src?: ReplySource): Buffer {
  scanRanges(req);
  if (vias.length === 0 || fromS < 0 || toS < 0 || callIdS < 0 || cseqS < 0) throw missingError();
  // the top Via, rewritten when received / rport apply (then the first Via line is this text)
  const via0 = src === undefined ? undefined : replyTopVia(req, vias[0]!, vias[1]!, src);
  const first = statusLine(status, reason);
  const addTag = status > 100 && !toHasTagBytes(req, toS, toE);
  const tagText = addTag && toTag !== undefined ? `;tag=${toTag}` : '';
  // latin1: one byte per character, so a text's length is its byte length
  const tagLen = addTag ? (toTag !== undefined ? tagText.length : TAG_LEN) : 0;
  const extraLen = extra.length;
  let total = first.length + tagLen + extraLen + S_END.length;
  const nv = vias.length;
  for (let i = 0; i < nv; i += 2) total += S_VIA.length + (vias[i + 1]! - vias[i]!) + 2;
  if (via0 !== undefined) total += via0.length - (vias[1]! - vias[0]!);
  total += S_FROM.length + (fromE - fromS) + 2 + S_TO.length + (toE - toS) + 2;
  total += S_CALLID.length + (callIdE - callIdS) + 2 + S_CSEQ.length + (cseqE - cseqS) + 2;
  const out = Buffer.allocUnsafe(total);
  let o = putBytes(out, 0, first, 0, first.length);
  let i0 = 0;
  if (via0 !== undefined) {
    o = putBytes(out, o, S_VIA, 0, S_VIA.length);
    o += out.write(via0, o, 'latin1');
    out[o++] = 13;
    out[o++] = 10;
    i0 = 2;
  }
  for (let i = i0; i < nv; i += 2) o = putHeader(out, o, S_VIA, req, vias[i]!, vias[i + 1]!);
  o = putHeader(out, o, S_FROM, req, fromS, fromE);
  o = putBytes(out, o, S_TO, 0, S_TO.length);
  o = putBytes(out, o, req, toS, toE);
  if (addTag) o = toTag !== undefined ? o + out.write(tagText, o, 'latin1') : putTag(out, o);
  out[o++] = 13;
  out[o++] = 10;
  o = putHeader(out, o, S_CALLID, req, callIdS, callIdE);
  o = putHeader(out, o, S_CSEQ, req, cseqS, cseqE);
  if (extraLen !== 0) o += out.write(extra, o, 'latin1');
  o = putBytes(out, o, S_END, 0, S_END.length);
  return o === total ? out : out.subarray(0, o);
}
