import { createHash, randomInt } from 'node:crypto';

/** OpenSIPS's transaction table: 256 hash buckets per slot, 30 one-second slots. */
export const TID_HASH_SIZE = 256;
export const TID_SLOTS = 30;
/** OpenSIPS's transaction ids are at most 20 chars. */
export const TID_MAX_LENGTH = 20;

/** Lowercase hex, least significant nibble first; "0" for zero (OpenSIPS's int2reverse_hex). */
export function reverseHex(n: number): string {
  if (n === 0) return '0';
  let s = '';
  while (n > 0) {
    const d = n & 0xf;
    s += d < 10 ? String.fromCharCode(0x30 + d) : String.fromCharCode(0x57 + d);
    n >>>= 4;
  }
  return s;
}

/** Inverse of reverseHex (either case); -1 when not hex or empty. */
export function parseReverseHex(s: string): number {
  if (s.length === 0 || s.length > 8) return -1;
  let n = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}

/** OpenSIPS's core_hash of one string, masked to `size` (a power of two). Bytes as signed chars (x86). */
export function coreHash(s: string, size: number): number {
  const b = Buffer.from(s, 'latin1');
  const sc = (i: number): number => (b[i]! << 24) >> 24;
  let h = 0;
  let p = 0;
  for (; p + 4 <= b.length; p += 4) {
    const v = ((sc(p) << 24) + (sc(p + 1) << 16) + (sc(p + 2) << 8) + sc(p + 3)) >>> 0;
    h = (h + (v ^ (v >>> 3))) >>> 0;
  }
  let v = 0;
  for (; p < b.length; p++) v = ((v << 8) + sc(p)) >>> 0;
  h = (h + (v ^ (v >>> 3))) >>> 0;
  h = (((h + (h >>> 11)) >>> 0) + (((h >>> 13) + (h >>> 23)) >>> 0)) >>> 0;
  return size ? h & (size - 1) : h;
}

/** MD5 (lowercase hex) of the strings, each trimmed, concatenated (OpenSIPS's MD5StringArray). */
export function md5Strings(parts: readonly string[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(p.trim(), 'latin1');
  return h.digest('hex');
}

/**
 * Builds a transaction id as OpenSIPS does: `<hash>.<idx>.<rand>.<md5 padding>`, the three
 * numbers in reversed lowercase hex, the padding the MD5 of (top To-Path URL, From-Path
 * [, Message-ID]) cut so the whole id is at most 20 chars.
 */
export function buildTid(hash: number, idx: number, md5Parts: readonly string[], rnd: number = randomInt(0, 0x10000)): string {
  const head = `${reverseHex(hash)}.${reverseHex(idx)}.${reverseHex(rnd & 0xffff)}.`;
  return head + md5Strings(md5Parts).slice(0, Math.max(0, TID_MAX_LENGTH - head.length));
}

/** Splits an id made by buildTid into its bucket and slot; null when it is not one of ours. */
export function parseTid(tid: string): { hash: number; idx: number } | null {
  const a = tid.indexOf('.');
  if (a < 0) return null;
  const b = tid.indexOf('.', a + 1);
  if (b < 0) return null;
  const hash = parseReverseHex(tid.slice(0, a));
  const idx = parseReverseHex(tid.slice(a + 1, b));
  if (hash < 0 || hash >= TID_HASH_SIZE || idx < 0 || idx >= TID_SLOTS) return null;
  return { hash, idx };
}
