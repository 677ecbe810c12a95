import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
import ipaddr from 'ipaddr.js';

/**
 * An IP address as unsigned 32-bit words: one for IPv4, four for IPv6 (big-endian order).
 * Lookups mask and compare words; no per-lookup allocation beyond the words array.
 */
export interface IpWords {
  family: 4 | 6;
  words: number[];
}

/** Parses a dotted IPv4 literal (no leading zeros beyond "0", 4 parts) to an unsigned int; -1 if it is not one. */
export function parseV4(s: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || parts === 3) return -1;
      n = n * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255 || ++digits > 3) return -1;
    } else return -1;
  }
  if (digits === 0 || parts !== 3) return -1;
  return n * 256 + part;
}

/**
 * Parses an IPv6 literal (RFC 4291 text: hex groups, one "::", an optional dotted IPv4 tail;
 * no zone, no brackets) into 8 groups; undefined if it is not one. Hand-written: lookups parse
 * every query's addresses, and a general parser costs more than the whole index probe.
 */
export function parseV6Groups(s: string): number[] | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  let cur = head;
  let gap = false;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return undefined;
    gap = true;
    cur = tail;
    i = 2;
    if (i === s.length) return [0, 0, 0, 0, 0, 0, 0, 0];
  }
  for (;;) {
    // one group, or a dotted IPv4 tail
    let v = 0;
    let n = 0;
    const start = i;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      if (++n > 4) return undefined;
      i++;
    }
    if (i < s.length && s.charCodeAt(i) === 46) {
      const v4 = parseV4(s.slice(start));
      if (v4 < 0) return undefined;
      cur.push(v4 >>> 16, v4 & 0xffff);
      break;
    }
    if (n === 0) return undefined;
    cur.push(v);
    if (i === s.length) break;
    if (s.charCodeAt(i) !== 58) return undefined;
    i++;
    if (i < s.length && s.charCodeAt(i) === 58) {
      if (gap) return undefined;
      gap = true;
      cur = tail;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) return undefined;
  }
  const total = head.length + tail.length;
  if (gap ? total > 7 : total !== 8) return undefined;
  const out = head;
  for (let k = total; k < 8; k++) out.push(0);
  for (let k = 0; k < tail.length; k++) out[8 - tail.length + k] = tail[k]!;
  return out;
}

/** A literal IPv4 or IPv6 address (no brackets, no zone) to words; undefined if it is not one. IPv4-mapped IPv6 stays IPv6 (as OpenSIPS). */
export function parseIp(host: string): IpWords | undefined {
  const v4 = parseV4(host);
  if (v4 >= 0) return { family: 4, words: [v4] };
  const p = parseV6Groups(host);
  if (!p) return undefined;
  return { family: 6, words: [(p[0]! * 65536 + p[1]!) >>> 0, (p[2]! * 65536 + p[3]!) >>> 0, (p[4]! * 65536 + p[5]!) >>> 0, (p[6]! * 65536 + p[7]!) >>> 0] };
}

const MASKS = new Map<number, readonly number[]>();

/** The mask of `prefix` bits over a family's words (shared, frozen arrays). */
export function maskWords(family: 4 | 6, prefix: number): readonly number[] {
  const key = family * 1000 + prefix;
  let m = MASKS.get(key);
  if (!m) MASKS.set(key, (m = Object.freeze(buildMask(family, prefix))));
  return m;
}

function buildMask(family: 4 | 6, prefix: number): number[] {
  const n = family === 4 ? 1 : 4;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    out.push(bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0);
  }
  return out;
}

export function applyMask(words: readonly number[], mask: readonly number[]): number[] {
  return words.map((w, i) => (w & mask[i]!) >>> 0);
}

/** Text form of words (IPv4 dotted, IPv6 RFC 5952 via ipaddr.js). */
export function formatWords(a: IpWords): string {
  if (a.family === 4) {
    const w = a.words[0]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const parts: number[] = [];
  for (const w of a.words) parts.push(w >>> 16, w & 0xffff);
  return ipaddr.fromByteArray(parts.flatMap((p) => [p >> 8, p & 255])).toString();
}

/**
 * `ip[/prefix]` as OpenSIPS's mk_net_cidr takes it: no prefix = a host route (/32 or /128);
 * host bits set beyond the prefix are masked off. Throws with the reason.
 */
export function parseCidr(text: string): { family: 4 | 6; prefix: number; net: number[] } {
  const s = text.trim();
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  const ip = parseIp(host);
  if (!ip) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `"${text}" is not an IP address or ip/prefix`);
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `"${text}": prefix length must be 0..${max}`);
    prefix = Number(p);
  }
  // ip.words is this call's own array: mask it in place (one array less per rule on a 100k-row load)
  const mask = maskWords(ip.family, prefix);
  for (let i = 0; i < ip.words.length; i++) ip.words[i] = (ip.words[i]! & mask[i]!) >>> 0;
  return { family: ip.family, prefix, net: ip.words };
}
