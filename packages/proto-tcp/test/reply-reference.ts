// The previous (string/regex based) implementation of buildResponseRaw, kept as the reference
// the optimised one must match byte for byte (see reply-equivalence.test.ts).
import { SipErrorCodes, SipProtocolError } from '../src/codec/errors.js';

/** Byte ranges of the header values a reply copies, found without decoding the message. */
interface Ranges {
  vias: number[]; // start,end pairs
  from: number;
  fromEnd: number;
  to: number;
  toEnd: number;
  callId: number;
  callIdEnd: number;
  cseq: number;
  cseqEnd: number;
}

const K_OTHER = 0;
const K_VIA = 1;
const K_FROM = 2;
const K_TO = 3;
const K_CALLID = 4;
const K_CSEQ = 5;

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

/** Scans the header section once, line by line with indexOf, recording value ranges. */
function scanRanges(buf: Buffer): Ranges {
  const r: Ranges = { vias: [], from: -1, fromEnd: -1, to: -1, toEnd: -1, callId: -1, callIdEnd: -1, cseq: -1, cseqEnd: -1 };
  const len = buf.length;
  let line = buf.indexOf(10) + 1; // skip the start line
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
      if (lastKind === K_VIA && lastSlot >= 0) r.vias[lastSlot + 1] = end;
      else if (lastKind === K_FROM && r.fromEnd >= 0 && lastSlot === -2) r.fromEnd = end;
      else if (lastKind === K_TO && lastSlot === -2) r.toEnd = end;
      else if (lastKind === K_CALLID && lastSlot === -2) r.callIdEnd = end;
      else if (lastKind === K_CSEQ && lastSlot === -2) r.cseqEnd = end;
      line = eol + 1;
      continue;
    }
    let colon = line;
    while (colon < end && buf[colon] !== 58) colon++;
    let ne = colon;
    while (ne > line && (buf[ne - 1] === 32 || buf[ne - 1] === 9)) ne--;
    const kind = colon < end ? kindOf(buf, line, ne) : K_OTHER;
    let vs = colon + 1;
    while (vs < end && (buf[vs] === 32 || buf[vs] === 9)) vs++;
    let ve = end;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    lastKind = kind;
    lastSlot = -1;
    switch (kind) {
      case K_VIA:
        lastSlot = r.vias.length;
        r.vias.push(vs, ve);
        break;
      case K_FROM:
        if (r.from < 0) [r.from, r.fromEnd, lastSlot] = [vs, ve, -2];
        break;
      case K_TO:
        if (r.to < 0) [r.to, r.toEnd, lastSlot] = [vs, ve, -2];
        break;
      case K_CALLID:
        if (r.callId < 0) [r.callId, r.callIdEnd, lastSlot] = [vs, ve, -2];
        break;
      case K_CSEQ:
        if (r.cseq < 0) [r.cseq, r.cseqEnd, lastSlot] = [vs, ve, -2];
        break;
    }
    line = eol + 1;
  }
  return r;
}

/** True when a To value (name-addr or addr-spec) already carries a tag parameter. */
export function toHasTag(value: string): boolean {
  const gt = value.lastIndexOf('>');
  return /;\s*tag\s*=/i.test(gt === -1 ? value : value.slice(gt));
}

const TAG_PREFIX = Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
let tagCounter = Math.floor(Math.random() * 0x10000);

/** A To tag for replies: unique per process run (random prefix + counter). */
export function makeTag(): string {
  tagCounter = (tagCounter + 1) >>> 0;
  return TAG_PREFIX + tagCounter.toString(16).padStart(8, '0');
}

const S_VIA = Buffer.from('Via: ');
const S_FROM = Buffer.from('From: ');
const S_TO = Buffer.from('To: ');
const S_CALLID = Buffer.from('Call-ID: ');
const S_CSEQ = Buffer.from('CSeq: ');
const S_END = Buffer.from('Content-Length: 0\r\n\r\n');

/**
 * The fast path of buildResponse for a raw request: header values are copied as byte ranges,
 * never decoded, into one allocation. `extra` is the already-validated extra header text.
 */
export function buildResponseRaw(req: Buffer, status: number, reason: string, extra: string, toTag: string | undefined): Buffer {
  const r = scanRanges(req);
  const missing: string[] = [];
  if (r.vias.length === 0) missing.push('Via');
  if (r.from < 0) missing.push('From');
  if (r.to < 0) missing.push('To');
  if (r.callId < 0) missing.push('Call-ID');
  if (r.cseq < 0) missing.push('CSeq');
  if (missing.length) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `request lacks ${missing.join(', ')}`);
  let tagText = '';
  if (status > 100 && !toHasTag(req.toString('latin1', r.to, r.toEnd))) tagText = `;tag=${toTag ?? makeTag()}`;
  const first = `SIP/2.0 ${status} ${reason}\r\n`;
  let total = first.length + tagText.length + extra.length + S_END.length;
  for (let i = 0; i < r.vias.length; i += 2) total += S_VIA.length + (r.vias[i + 1]! - r.vias[i]!) + 2;
  total += S_FROM.length + (r.fromEnd - r.from) + 2 + S_TO.length + (r.toEnd - r.to) + 2;
  total += S_CALLID.length + (r.callIdEnd - r.callId) + 2 + S_CSEQ.length + (r.cseqEnd - r.cseq) + 2;
  const out = Buffer.allocUnsafe(total);
  let o = out.write(first, 0, 'latin1');
  const put = (label: Buffer, s: number, e: number, suffix = ''): void => {
    o += label.copy(out, o);
    o += req.copy(out, o, s, e);
    if (suffix) o += out.write(suffix, o, 'latin1');
    out[o++] = 13;
    out[o++] = 10;
  };
  for (let i = 0; i < r.vias.length; i += 2) put(S_VIA, r.vias[i]!, r.vias[i + 1]!);
  put(S_FROM, r.from, r.fromEnd);
  put(S_TO, r.to, r.toEnd, tagText);
  put(S_CALLID, r.callId, r.callIdEnd);
  put(S_CSEQ, r.cseq, r.cseqEnd);
  if (extra) o += out.write(extra, o, 'latin1');
  o += S_END.copy(out, o);
  return o === total ? out : out.subarray(0, o);
}
