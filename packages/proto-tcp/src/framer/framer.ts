import type { Framer, FramerSink } from '@x/core-conn';
import { SipConfigError, SipErrorCodes, SipProtocolError } from '../codec/errors.js';
import { isSipStartLine } from '../codec/headers.js';
import { HeaderScanner } from '../codec/scanner.js';

export interface SipFramerOptions {
  /** tcp_crlf_pingpong: CR LF CR LF at a boundary is a ping answered with CR LF (default true) */
  crlfPingpong?: boolean;
  /** tcp_crlf_drop: a read ending in a lone CR LF at a boundary completes it as a keepalive (default false; needs pingpong) */
  crlfDrop?: boolean;
  /** the whole message must fit in this many bytes (OpenSIPS: 65535) */
  maxMsgBytes?: number;
}

// Boundary states: how much of CR LF CR LF was seen (pingpong only).
const B_IDLE = 0;
const B_CR = 1;
const B_CRLF = 2;
const B_CRLFCR = 3;

const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * The SIP-over-TCP framer (OpenSIPS tcp_read_req + tcp_parse_headers). Emits each whole
 * message as a Buffer: a subarray of the chunk it arrived in when it fits in one chunk, else
 * the connection's own pending buffer (handed over, never written again). Only leftovers of
 * an incomplete message are copied, into a buffer that grows geometrically, and the header
 * scan resumes where it stopped, so any split of the stream costs O(n).
 */
export class SipFramer implements Framer<Buffer> {
  private readonly pingpong: boolean;
  private readonly drop: boolean;
  private readonly maxBytes: number;
  private readonly scanner = new HeaderScanner();
  private boundary = B_IDLE;
  /** bytes of the message in progress, [0, pendLen) valid; null at a boundary */
  private pend: Buffer | null = null;
  private pendLen = 0;
  /** header length of the message in progress, -1 while unknown */
  private hdrLen = -1;
  private pongs = 0;

  constructor(opts: SipFramerOptions = {}) {
    this.pingpong = opts.crlfPingpong ?? true;
    this.drop = opts.crlfDrop ?? false;
    this.maxBytes = opts.maxMsgBytes ?? 65535;
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 16) throw new SipConfigError('ERR_INVALID_OPTION', `maxMsgBytes must be an integer >= 16, got ${String(this.maxBytes)}`);
  }

  get pendingBytes(): number {
    return this.pend !== null ? this.pendLen : this.boundary;
  }

  push(chunk: Buffer, sink: FramerSink<Buffer>): void {
    try {
      if (this.pend !== null) {
        const used = this.append(chunk);
        const total = this.progress(this.pend, 0, this.pendLen);
        if (total < 0) {
          this.checkSize();
          return;
        }
        const msgBuf = this.pend;
        const overflow = this.pendLen - total;
        this.pend = null;
        this.pendLen = 0;
        this.emit(msgBuf.subarray(0, total), sink);
        // Bytes past the message in the pending buffer came from `chunk`: re-read them there.
        this.run(chunk, used - overflow, sink);
      } else {
        this.run(chunk, 0, sink);
      }
    } finally {
      if (this.pongs > 0) this.flushPongs(sink);
    }
  }

  /** Frames chunk[from, end) starting at a message boundary. */
  private run(chunk: Buffer, from: number, sink: FramerSink<Buffer>): void {
    const end = chunk.length;
    let i = from;
    while (i < end) {
      // 1. the boundary: skip empty lines, detect pings
      let b = this.boundary;
      while (i < end) {
        const c = chunk[i]!;
        if (b === B_IDLE) {
          if (c === 10 || c === 32 || c === 9) i++;
          else if (c === 13) {
            i++;
            if (this.pingpong) b = B_CR;
          } else break;
        } else if (b === B_CR) {
          if (c === 10) {
            i++;
            b = B_CRLF;
          } else b = B_IDLE; // the lone CR was just an empty line
        } else if (b === B_CRLF) {
          if (c === 13) {
            i++;
            b = B_CRLFCR;
          } else b = B_IDLE;
        } else {
          if (c === 10) {
            i++;
            this.pongs++;
            sink.keepalive();
          }
          b = B_IDLE;
        }
      }
      if (i >= end) {
        if (b === B_CRLF && this.drop) {
          b = B_IDLE;
          sink.keepalive();
        }
        this.boundary = b;
        return;
      }
      this.boundary = B_IDLE;
      // 2. a message starts at i
      const total = this.progress(chunk, i, end);
      if (total < 0) {
        this.keep(chunk, i, end);
        return;
      }
      this.emit(chunk.subarray(i, i + total), sink);
      i += total;
    }
  }

  /**
   * Advances the message that starts at buf[start]; returns its total length once buf holds
   * all of it, else -1. Throws for a start line that is not SIP (nothing that is not SIP is
   * delivered) and for a missing/bad/conflicting/too big Content-Length.
   */
  private progress(buf: Buffer, start: number, end: number): number {
    if (this.hdrLen < 0) {
      this.hdrLen = this.scanner.scan(buf, start, end);
      if (this.hdrLen < 0) return -1;
      if (!isSipStartLine(buf, start, start + this.hdrLen)) {
        const eol = buf.indexOf(10, start);
        const line = buf.toString('latin1', start, Math.min(eol < 0 ? end : eol, start + 40));
        throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `not a SIP message: bad start line ${JSON.stringify(line.replace(/\r$/, ''))}`);
      }
      if (this.hdrLen + this.scanner.contentLength > this.maxBytes) {
        throw new SipProtocolError(SipErrorCodes.TOO_BIG, `message of ${this.hdrLen + this.scanner.contentLength} bytes (Content-Length ${this.scanner.contentLength}) cannot fit in ${this.maxBytes} bytes`);
      }
    }
    const total = this.hdrLen + this.scanner.contentLength;
    return end - start >= total ? total : -1;
  }

  private emit(msg: Buffer, sink: FramerSink<Buffer>): void {
    this.hdrLen = -1;
    this.scanner.reset();
    if (this.pongs > 0) this.flushPongs(sink);
    sink.message(msg);
  }

  private flushPongs(sink: FramerSink<Buffer>): void {
    const n = this.pongs;
    this.pongs = 0;
    sink.reply(n === 1 ? CRLF : Buffer.from('\r\n'.repeat(n), 'latin1'));
  }

  /** Copies an incomplete message's leftover into a fresh pending buffer. */
  private keep(chunk: Buffer, from: number, end: number): void {
    const n = end - from;
    const buf = Buffer.allocUnsafe(Math.min(Math.max(n * 2, 1024), Math.max(this.maxBytes, n)));
    chunk.copy(buf, 0, from, end);
    this.pend = buf;
    this.pendLen = n;
    this.checkSize();
  }

  /** Appends a chunk to the pending buffer; returns how many bytes of the chunk were taken (all). */
  private append(chunk: Buffer): number {
    const need = this.pendLen + chunk.length;
    let buf = this.pend!;
    if (need > buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(buf.length * 2, Math.max(this.maxBytes, need))));
      buf.copy(grown, 0, 0, this.pendLen);
      buf = grown;
      this.pend = buf;
    }
    chunk.copy(buf, this.pendLen);
    this.pendLen = need;
    return chunk.length;
  }

  private checkSize(): void {
    if (this.pendLen >= this.maxBytes) {
      throw new SipProtocolError(SipErrorCodes.TOO_BIG, `${this.pendLen} bytes buffered without completing a message (max ${this.maxBytes - 1})`);
    }
  }
}

/** A framer for one connection; implements core-conn's Framer<Buffer>. */
export function createSipFramer(opts: SipFramerOptions = {}): SipFramer {
  return new SipFramer(opts);
}
