/**
 * The correlation id of a traced message, read from its wire bytes (pure functions, no parsing
 * beyond what is needed): a SIP message's Call-ID, an MSRP message's transaction id.
 */

const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;
const CALL_ID = [0x63, 0x61, 0x6c, 0x6c, 0x2d, 0x69, 0x64]; // "call-id"

function eol(b: Buffer, from: number): number {
  const i = b.indexOf(LF, from);
  return i < 0 ? b.length : i;
}

/** index of the ':' after a header name that ends at `i` (optional SP/HTAB before it), or -1 */
function colonAt(b: Buffer, i: number, end: number): number {
  while (i < end && (b[i] === SP || b[i] === HTAB)) i++;
  return i < end && b[i] === COLON ? i : -1;
}

/** Buffer's own latin1Slice (what `toString('latin1', s, e)` ends in, without its argument handling: a hot path); it takes any Uint8Array */
// eslint-disable-next-line @typescript-eslint/unbound-method -- always called with .call(b)
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;
const latin1 = (b: Uint8Array, s: number, e: number): string => latin1Slice.call(b, s, e);

function value(b: Buffer, from: number, end: number): string | undefined {
  let s = from;
  let e = end;
  while (s < e && (b[s] === SP || b[s] === HTAB)) s++;
  while (e > s && (b[e - 1] === CR || b[e - 1] === SP || b[e - 1] === HTAB)) e--;
  return e > s ? latin1(b, s, e) : undefined;
}

/**
 * The Call-ID of a SIP message (`Call-ID:` or the compact `i:`, any case), from its head only;
 * undefined when there is none. Folded header lines are not joined (a folded Call-ID is read up
 * to its first line).
 */
export function sipCallId(b: Buffer): string | undefined {
  let pos = eol(b, 0) + 1; // skip the start line
  while (pos < b.length) {
    const end = eol(b, pos);
    const lineEnd = end > pos && b[end - 1] === CR ? end - 1 : end;
    if (lineEnd === pos) return undefined; // the empty line: end of the head
    const c = b[pos]! | 0x20;
    if (c === 0x69) {
      const k = colonAt(b, pos + 1, lineEnd);
      if (k >= 0) return value(b, k + 1, lineEnd);
    } else if (c === 0x63 && lineEnd - pos > 7) {
      let same = true;
      for (let i = 1; i < 7; i++) {
        if ((b[pos + i]! | 0x20) !== CALL_ID[i]) {
          same = false;
          break;
        }
      }
      if (same) {
        const k = colonAt(b, pos + 7, lineEnd);
        if (k >= 0) return value(b, k + 1, lineEnd);
      }
    }
    pos = end + 1;
  }
  return undefined;
}

/** The transaction id of an MSRP message: the second token of `MSRP <tid> <method|status>`. */
export function msrpTransactionId(b: Buffer): string | undefined {
  if (b.length < 6 || b[0] !== 0x4d || b[1] !== 0x53 || b[2] !== 0x52 || b[3] !== 0x50 || b[4] !== SP) return undefined;
  let e = 5;
  const lim = Math.min(b.length, 5 + 64);
  while (e < lim && b[e] !== SP && b[e] !== CR && b[e] !== LF) e++;
  return e > 5 ? latin1(b, 5, e) : undefined;
}
