// The string-based MSRP parser of @x/proto-msrp 0.1 (start line and headers as one latin1
// string, split and checked with regexes), kept unchanged as the reference model of the
// byte-level parser (test/parser-diff.test.ts) and as the baseline of bench/codec.bench.ts.
import { MsrpError, MsrpErrorCodes } from '../../src/codec/errors.js';
import { checkStartPrefix, parseHead } from './head-v0.js';
import type { ContinuationFlag, MsrpMessage } from '../../src/codec/types.js';

/** Where an MsrpParser reports. `head`/`body`/`end` are called only for streamed messages. */
export interface MsrpParserSink {
  /** a whole message: its body (if any) is at most `maxBodyBytes` */
  message(msg: MsrpMessage): void;
  /** a message whose body passed `maxBodyBytes`: its head (no `body`), then pieces, then `end` */
  head(msg: MsrpMessage): void;
  /** the next piece of the streamed body (a view: keep it only as long as you need it) */
  body(piece: Buffer, msg: MsrpMessage): void;
  /** the end-line of the streamed message; `msg.continuation` is set */
  end(msg: MsrpMessage): void;
}

export interface MsrpParserOptions {
  /** bound on the start line + headers of one message, bytes (default 65535, OpenSIPS's buffer) */
  maxHeadBytes?: number;
  /** bodies up to this many bytes come whole in `message`; larger ones stream (default 65535) */
  maxBodyBytes?: number;
  /** false: a body over maxBodyBytes is an error (ERR_MSRP_BODY_TOO_BIG) instead of a stream (default true) */
  stream?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
/** CRLF + seven dashes: where a body ends */
const DELIM = Buffer.from('\r\n-------', 'latin1');
const DL = DELIM.length;

const enum State {
  Head,
  Body,
  EndLine,
}

type HeadScan = { kind: 'need'; scanFrom: number } | { kind: 'body' | 'eom'; headEnd: number; next: number };

/**
 * Scans `b[0..len)` (the start of a message) for the end of its headers from `from` (a
 * position of a CRLF not yet decided, or the scan start). After each CRLF: CRLF means a
 * body follows; "-------" means the end-line follows; "--" not followed by 5 more dashes is
 * an error (OpenSIPS's rule).
 */
function scanHead(b: Buffer, from: number, len: number): HeadScan {
  let p = from;
  for (;;) {
    const i = b.indexOf(CR, p);
    if (i < 0 || i >= len) return { kind: 'need', scanFrom: len };
    if (i + 1 >= len) return { kind: 'need', scanFrom: i };
    if (b[i + 1] !== LF) {
      p = i + 1;
      continue;
    }
    if (i + 3 >= len) return { kind: 'need', scanFrom: i };
    if (b[i + 2] === CR && b[i + 3] === LF) return { kind: 'body', headEnd: i + 2, next: i + 4 };
    if (b[i + 2] === DASH && b[i + 3] === DASH) {
      if (i + 8 >= len) return { kind: 'need', scanFrom: i };
      for (let k = 4; k < 9; k++)
        if (b[i + k] !== DASH) throw new MsrpError(MsrpErrorCodes.END_OF_HEADERS, 'a header line starting with "--" that is not the seven dashes of the end-line');
      return { kind: 'eom', headEnd: i + 2, next: i + 9 };
    }
    p = i + 2;
  }
}

/** Length of the longest suffix of b[0..len) that is a proper prefix of DELIM. */
function delimPrefixSuffix(b: Buffer, len: number): number {
  for (let s = Math.min(DL - 1, len); s > 0; s--) {
    let ok = true;
    for (let k = 0; k < s; k++) {
      if (b[len - s + k] !== DELIM[k]) {
        ok = false;
        break;
      }
    }
    if (ok) return s;
  }
  return 0;
}

/**
 * Incremental MSRP parser, fed arbitrary byte chunks (a socket's reads). Frames as
 * OpenSIPS's msrp_brief_parse_msg does: headers end at CRLF CRLF (a body follows) or at a
 * CRLF followed by seven dashes; a body ends at the first CRLF + seven dashes; the end-line
 * must carry the start line's transaction id byte for byte, then '+', '$' or '#', then CRLF.
 * Garbage is refused as soon as the bytes show it. Bodies up to `maxBodyBytes` come whole;
 * longer ones stream in pieces (views of the fed chunks, no copy) with flat memory.
 * Throws MsrpError (a ProtocolError); after a throw the parser must not be fed again.
 */
export class MsrpParser {
  private readonly maxHead: number;
  private readonly maxBody: number;
  private readonly stream: boolean;
  private state: State = State.Head;
  // head
  private headBuf: Buffer = Buffer.allocUnsafe(256);
  private headLen = 0;
  private scanFrom = 0;
  private tidKnown = false;
  // current message
  private msg: MsrpMessage | null = null;
  private tid = '';
  // body
  private carry: Buffer = Buffer.allocUnsafe(DL);
  private carryLen = 0;
  private pieces: Buffer[] = [];
  private bodyLen = 0;
  private streaming = false;
  // end-line
  private eol: Buffer = Buffer.allocUnsafe(0);
  private eolLen = 0;

  constructor(opts: MsrpParserOptions = {}) {
    this.maxHead = opts.maxHeadBytes ?? 65535;
    this.maxBody = opts.maxBodyBytes ?? 65535;
    this.stream = opts.stream ?? true;
  }

  /** bytes held of an unfinished message (0 at a message boundary or while a body streams) */
  get pendingBytes(): number {
    if (this.state === State.Head) return this.headLen;
    if (this.streaming) return this.carryLen + this.eolLen;
    return this.headLen + this.bodyLen + this.carryLen + this.eolLen;
  }

  /** true between the first byte of a message and its end-line */
  get inMessage(): boolean {
    return this.state !== State.Head || this.headLen > 0;
  }

  /** true while a body larger than maxBodyBytes is being streamed */
  get isStreaming(): boolean {
    return this.streaming;
  }

  push(chunk: Buffer, sink: MsrpParserSink): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === State.Head) i = this.pushHead(chunk, i);
      else if (this.state === State.Body) i = this.pushBody(chunk, i, sink);
      else i = this.pushEndLine(chunk, i, sink);
    }
  }

  private pushHead(chunk: Buffer, i: number): number {
    if (this.headLen === 0) {
      // fast path: scan the chunk in place
      const view = i === 0 ? chunk : chunk.subarray(i);
      const tl = checkStartPrefix(view, view.length);
      if (tl >= 0) {
        const r = scanHead(view, 5 + tl, view.length);
        if (r.kind !== 'need') {
          if (r.headEnd > this.maxHead) this.tooBig();
          this.startMessage(view.toString('latin1', 0, r.headEnd), r.kind);
          return i + r.next;
        }
      }
      if (view.length > this.maxHead + DL) this.tooBig();
      this.appendHead(view);
      this.tidKnown = tl >= 0;
      this.scanFrom = tl >= 0 ? 5 + tl : 0;
      return chunk.length;
    }
    const before = this.headLen;
    const room = this.maxHead + DL - before;
    const take = Math.min(room, chunk.length - i);
    if (take <= 0) this.tooBig();
    this.appendHead(chunk.subarray(i, i + take));
    if (!this.tidKnown) {
      const tl = checkStartPrefix(this.headBuf, this.headLen);
      if (tl < 0) return i + take;
      this.tidKnown = true;
      this.scanFrom = 5 + tl;
    }
    const r = scanHead(this.headBuf, this.scanFrom, this.headLen);
    if (r.kind === 'need') {
      this.scanFrom = r.scanFrom;
      if (this.headLen >= this.maxHead + DL) this.tooBig();
      return i + take;
    }
    if (r.headEnd > this.maxHead) this.tooBig();
    const text = this.headBuf.toString('latin1', 0, r.headEnd);
    this.startMessage(text, r.kind);
    return i + (r.next - before);
  }

  private tooBig(): never {
    throw new MsrpError(MsrpErrorCodes.TOO_BIG, `the start line and headers of a message pass ${this.maxHead} bytes`);
  }

  private appendHead(b: Buffer): void {
    const need = this.headLen + b.length;
    if (need > this.headBuf.length) {
      const nb = Buffer.allocUnsafe(Math.max(need, this.headBuf.length * 2));
      this.headBuf.copy(nb, 0, 0, this.headLen);
      this.headBuf = nb;
    }
    b.copy(this.headBuf, this.headLen);
    this.headLen = need;
  }

  private startMessage(headText: string, kind: 'body' | 'eom'): void {
    const { msg, tid } = parseHead(headText, kind === 'body');
    this.msg = msg;
    this.tid = tid;
    this.headLen = this.headLen ? headText.length : 0;
    this.scanFrom = 0;
    this.tidKnown = false;
    if (kind === 'body') {
      this.state = State.Body;
      this.pieces = [];
      this.bodyLen = 0;
      this.carryLen = 0;
      this.streaming = false;
    } else this.enterEndLine();
  }

  private enterEndLine(): void {
    this.state = State.EndLine;
    const need = this.tid.length + 3;
    if (this.eol.length < need) this.eol = Buffer.allocUnsafe(Math.max(need, 64));
    this.eolLen = 0;
  }

  private addBody(piece: Buffer, sink: MsrpParserSink): void {
    if (piece.length === 0) return;
    if (this.streaming) {
      sink.body(piece, this.msg!);
      return;
    }
    if (this.bodyLen + piece.length > this.maxBody) {
      if (!this.stream)
        throw new MsrpError(MsrpErrorCodes.BODY_TOO_BIG, `a body of more than ${this.maxBody} bytes`);
      this.streaming = true;
      this.headLen = 0;
      sink.head(this.msg!);
      for (const p of this.pieces) sink.body(p, this.msg!);
      this.pieces = [];
      this.bodyLen = 0;
      sink.body(piece, this.msg!);
      return;
    }
    this.pieces.push(piece);
    this.bodyLen += piece.length;
  }

  private pushBody(chunk: Buffer, i: number, sink: MsrpParserSink): number {
    const n = chunk.length - i;
    if (this.carryLen > 0) {
      // a delimiter may straddle the carry and this chunk
      const joint = Buffer.allocUnsafe(this.carryLen + Math.min(n, DL - 1));
      this.carry.copy(joint, 0, 0, this.carryLen);
      chunk.copy(joint, this.carryLen, i, i + joint.length - this.carryLen);
      const at = joint.indexOf(DELIM);
      if (at >= 0 && at < this.carryLen) {
        const cl = this.carryLen;
        this.carryLen = 0;
        this.addBody(Buffer.from(joint.subarray(0, at)), sink);
        this.finishBody();
        return i + at + DL - cl;
      }
      if (n < DL - 1) {
        // too short to decide: everything but the delimiter-like tail is body
        const keep = delimPrefixSuffix(joint, joint.length);
        this.addBody(Buffer.from(joint.subarray(0, joint.length - keep)), sink);
        joint.copy(this.carry, 0, joint.length - keep);
        this.carryLen = keep;
        return chunk.length;
      }
      this.addBody(Buffer.from(this.carry.subarray(0, this.carryLen)), sink);
      this.carryLen = 0;
    }
    const at = chunk.indexOf(DELIM, i);
    if (at >= 0) {
      this.addBody(chunk.subarray(i, at), sink);
      this.finishBody();
      return at + DL;
    }
    const view = chunk.subarray(i);
    const keep = delimPrefixSuffix(view, view.length);
    this.addBody(view.subarray(0, view.length - keep), sink);
    view.copy(this.carry, 0, view.length - keep);
    this.carryLen = keep;
    return chunk.length;
  }

  private finishBody(): void {
    if (!this.streaming) {
      const body = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.bodyLen);
      this.msg!.body = body;
    }
    this.pieces = [];
    this.enterEndLine();
  }

  private pushEndLine(chunk: Buffer, i: number, sink: MsrpParserSink): number {
    const tl = this.tid.length;
    const need = tl + 3;
    while (i < chunk.length && this.eolLen < need) {
      const c = chunk[i]!;
      const k = this.eolLen;
      if (k < tl) {
        if (c !== this.tid.charCodeAt(k))
          throw new MsrpError(MsrpErrorCodes.END_LINE, `the end-line does not carry the transaction id "${this.tid}"`);
      } else if (k === tl) {
        if (c !== 0x24 && c !== 0x2b && c !== 0x23) throw new MsrpError(MsrpErrorCodes.END_LINE, `the end-line's flag is not '$', '+' or '#' (transaction "${this.tid}")`);
      } else if (k === tl + 1) {
        if (c !== CR) throw new MsrpError(MsrpErrorCodes.END_LINE, 'no CRLF after the end-line');
      } else if (c !== LF) throw new MsrpError(MsrpErrorCodes.END_LINE, 'no CRLF after the end-line');
      this.eol[k] = c;
      this.eolLen++;
      i++;
    }
    if (this.eolLen < need) return i;
    const msg = this.msg!;
    msg.continuation = String.fromCharCode(this.eol[tl]!) as ContinuationFlag;
    const streamed = this.streaming;
    this.reset();
    if (streamed) sink.end(msg);
    else sink.message(msg);
    return i;
  }

  private reset(): void {
    this.state = State.Head;
    this.msg = null;
    this.headLen = 0;
    this.scanFrom = 0;
    this.tidKnown = false;
    this.eolLen = 0;
    this.carryLen = 0;
    this.bodyLen = 0;
    this.pieces = [];
    this.streaming = false;
    if (this.headBuf.length > 4096) this.headBuf = Buffer.allocUnsafe(256);
  }
}
