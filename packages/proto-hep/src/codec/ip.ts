import { isIPv6 } from 'node:net';
import { HepError, HepErrorCodes } from './errors.js';

export function ipv4ToString(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** RFC 5952 text (longest zero run compressed), as Node prints addresses. */
export function ipv6ToString(b: Buffer, o: number): string {
  const w: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // IPv4-mapped addresses print with a dotted tail, as Node does
  if (bestStart === 0 && bestLen === 5 && w[5] === 0xffff) return `::ffff:${ipv4ToString(b, o + 12)}`;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += w[i]!.toString(16);
  }
  return out;
}

export function writeIpv4(ip: string, b: Buffer, o: number): void {
  let p = 0;
  let part = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      b[o + p++] = part;
      part = 0;
    } else part = part * 10 + (c - 48);
  }
}

export function writeIpv6(ip: string, b: Buffer, o: number): void {
  let s = ip;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    const v4 = s.slice(lastColon + 1).split('.').map(Number);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = s.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const hw = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const rw = rest !== undefined && rest !== '' ? rest.split(':').map((x) => parseInt(x, 16)) : [];
  if (tail.length) {
    const arr = rw.length || rest !== undefined ? rw : hw;
    arr.pop();
    arr.push(...tail);
  }
  const words = new Array<number>(8).fill(0);
  hw.forEach((v, i) => (words[i] = v));
  rw.forEach((v, i) => (words[8 - rw.length + i] = v));
  for (let i = 0; i < 8; i++) b.writeUInt16BE(words[i]!, o + 2 * i);
}

/** 4 for an IPv4 literal, 6 for IPv6; throws ERR_HEP_INVALID otherwise. */
export function ipKind(ip: string, what: string): 4 | 6 {
  if (typeof ip !== 'string') throw new HepError(HepErrorCodes.INVALID, `${what} must be an IP address string, got a ${typeof ip}`);
  if (isDottedQuad(ip)) return 4;
  if (isIPv6(ip)) return 6;
  throw new HepError(HepErrorCodes.INVALID, `${what} ${JSON.stringify(ip)} is not an IPv4 or IPv6 literal`);
}

/** 4 for an IPv4 literal, 6 for IPv6, 0 for anything else (ipKind without the throw). */
export function ipKindOf(ip: unknown): 0 | 4 | 6 {
  if (typeof ip !== 'string') return 0;
  if (isDottedQuad(ip)) return 4;
  return isIPv6(ip) ? 6 : 0;
}

/** A strict dotted quad check without a regex: it runs for every encoded packet. */
function isDottedQuad(ip: string): boolean {
  const n = ip.length;
  if (n < 7 || n > 15) return false;
  let parts = 0;
  let digits = 0;
  let v = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? ip.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || v > 255) return false;
      parts++;
      digits = 0;
      v = 0;
    } else if (c >= 48 && c <= 57) {
      // no leading zeros, as net.isIPv4
      if (digits === 1 && v === 0) return false;
      v = v * 10 + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return parts === 4;
}
