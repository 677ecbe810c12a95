import { SipErrorCodes, SipProtocolError } from './errors.js';

/**
 * The largest Content-Length value OpenSIPS accepts plus one: a value >= this is an error,
 * because the whole message must fit in its 65535-byte connection buffer.
 */
export const MAX_CONTENT_LENGTH = 65535;

// States of the header scanner. Numbers keep the hot loop monomorphic.
const S_SKIP = 0; // inside a line we do not care about: jump to the next LF
const S_LINE = 1; // just after an LF: a header name, a fold, or the blank line
const S_LF_CR = 2; // LF CR seen: LF next ends the headers
const S_NAME = 3; // matching "content-length" / "content_length"
const S_NAME_END = 4; // name matched: SP/TAB then ':'
const S_VALUE_WS = 5; // after ':': SP/TAB then digits
const S_DIGITS = 6;

// "content?length" with the 8th byte being '-' or '_'; index 0 ('c') matched at line start.
const NAME = Buffer.from('content-length', 'latin1');
const NAME_LEN = NAME.length;

/**
 * A resumable scanner of SIP header bytes, as OpenSIPS's tcp_parse_headers: it finds the end
 * of the headers (LF LF or LF CR LF) and the first valid Content-Length (full name with '-' or
 * '_', or compact `l`; value digits followed by CR, LF, SP or TAB; any other follower makes
 * the line a non-CL line). A second valid Content-Length with another value is an error
 * (ERR_SIP_CONFLICTING_CONTENT_LENGTH); the same value repeated is accepted. Fed the same
 * message's bytes in order, in as many calls as you like; each byte is looked at once, and
 * the rest of a line that cannot be a Content-Length is skipped with indexOf.
 */
export class HeaderScanner {
  /** bytes of the message examined so far */
  pos = 0;
  /** first valid Content-Length, -1 while none */
  contentLength = -1;
  /** a CL-named header with an unusable value was seen */
  sawBadLength = false;
  private st = S_SKIP; // the start line is never a header
  private idx = 0;
  private val = 0;

  reset(): void {
    this.pos = 0;
    this.contentLength = -1;
    this.sawBadLength = false;
    this.st = S_SKIP;
    this.idx = 0;
    this.val = 0;
  }

  /**
   * Scans buf[start + pos, end). Returns the header length (offset of the first body byte,
   * relative to `start`) once the blank line is found, else -1.
   * Throws ERR_SIP_TOO_BIG for a CL >= 65535, ERR_SIP_CONFLICTING_CONTENT_LENGTH for a second
   * CL of another value, and ERR_SIP_NO/BAD_CONTENT_LENGTH
   * when the headers end without one.
   */
  scan(buf: Buffer, start: number, end: number): number {
    let i = start + this.pos;
    let st = this.st;
    while (i < end) {
      if (st === S_SKIP) {
        const lf = buf.indexOf(10, i);
        if (lf === -1 || lf >= end) {
          i = end;
          break;
        }
        i = lf + 1;
        st = S_LINE;
        continue;
      }
      const c = buf[i++]!;
      switch (st) {
        case S_LINE:
          if (c === 10) return this.finish(i - start);
          if (c === 13) st = S_LF_CR;
          else if (c === 32 || c === 9) st = S_LINE; // folded line: may carry the CL too
          else if (c === 99 || c === 67) {
            st = S_NAME;
            this.idx = 1;
          } else if (c === 108 || c === 76) st = S_NAME_END;
          else st = S_SKIP;
          break;
        case S_LF_CR:
          if (c === 10) return this.finish(i - start);
          st = S_SKIP;
          i--; // the byte may be the LF that starts the next line
          break;
        case S_NAME: {
          const want = NAME[this.idx]!;
          const lc = c >= 65 && c <= 90 ? c + 32 : c;
          if (lc === want || (this.idx === 7 && c === 95)) {
            if (++this.idx === NAME_LEN) st = S_NAME_END;
          } else {
            st = S_SKIP;
            i--;
          }
          break;
        }
        case S_NAME_END:
          if (c === 58) st = S_VALUE_WS;
          else if (c !== 32 && c !== 9) {
            st = S_SKIP;
            i--;
          }
          break;
        case S_VALUE_WS:
          if (c >= 48 && c <= 57) {
            st = S_DIGITS;
            this.val = c - 48;
          } else if (c !== 32 && c !== 9) {
            this.sawBadLength = true;
            st = S_SKIP;
            i--;
          }
          break;
        case S_DIGITS:
          if (c >= 48 && c <= 57) {
            // saturate: only "too big" matters past 65535, and this avoids float drift
            if (this.val < 1e9) this.val = this.val * 10 + (c - 48);
          } else if (c === 13 || c === 10 || c === 32 || c === 9) {
            if (this.val >= MAX_CONTENT_LENGTH) {
              this.st = st;
              this.pos = i - start;
              throw new SipProtocolError(SipErrorCodes.TOO_BIG, `Content-Length ${this.val >= 1e9 ? '>= 1000000000' : this.val} is too big (max ${MAX_CONTENT_LENGTH - 1})`);
            }
            if (this.contentLength >= 0 && this.val !== this.contentLength) {
              this.st = st;
              this.pos = i - start;
              // two lengths are a request-smuggling shape: which one frames the message is a guess
              throw new SipProtocolError(SipErrorCodes.CONFLICTING_CONTENT_LENGTH, `conflicting Content-Length headers: ${this.contentLength} and ${this.val}`);
            }
            this.contentLength = this.val;
            if (c === 10) st = S_LINE;
            else st = S_SKIP;
          } else {
            this.sawBadLength = true;
            st = S_SKIP;
            i--;
          }
          break;
      }
    }
    this.st = st;
    this.pos = i - start;
    return -1;
  }

  private finish(headerLen: number): number {
    this.pos = headerLen;
    if (this.contentLength < 0) {
      if (this.sawBadLength) throw new SipProtocolError(SipErrorCodes.BAD_CONTENT_LENGTH, 'Content-Length header with an invalid value and no valid one');
      throw new SipProtocolError(SipErrorCodes.NO_CONTENT_LENGTH, 'end of headers without a Content-Length header');
    }
    return headerLen;
  }
}

/** Result of scanning one whole buffer that starts with a SIP message. */
export interface ScanResult {
  /** offset of the first body byte */
  headerLength: number;
  contentLength: number;
  /** headerLength + contentLength */
  messageLength: number;
}

/**
 * Scans the headers of a message that starts at `buf[0]`. Returns null when the headers are
 * not complete yet; throws a SipProtocolError as the framer would.
 */
export function scanHeaders(buf: Buffer): ScanResult | null {
  const s = new HeaderScanner();
  const h = s.scan(buf, 0, buf.length);
  if (h < 0) return null;
  return { headerLength: h, contentLength: s.contentLength, messageLength: h + s.contentLength };
}
