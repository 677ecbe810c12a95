import type { Address, ConnectionInfo } from '@x/core-conn';
import { SipErrorCodes, SipProtocolError } from './codec/errors.js';
import { buildResponse, getHeader, isResponse, parseHeaders, parseStartLine, requestMethod, type ExtraHeaders, type SipHeader } from './codec/headers.js';

/** Sends bytes back on a message's connection (supplied by SipTcp). */
export type ReplySender = (msg: SipMessage, data: Buffer) => Promise<void>;

/** Writes bytes back on a message's connection with no promise; throws when refused (supplied by SipTcp). */
export type ReplyWriter = (msg: SipMessage, data: Buffer) => void;

const ignore = (): void => undefined;

/**
 * One framed SIP message as received. `raw` is exactly the bytes of the message (start line to
 * end of body). Header fields are parsed lazily, on first access, so a handler that only looks
 * at `raw` pays for nothing.
 */
export class SipMessage {
  readonly raw: Buffer;
  readonly conn: ConnectionInfo;
  readonly receivedAt: number;
  readonly isRequest: boolean;
  private readonly sender: ReplySender;
  private readonly writer: ReplyWriter | undefined;
  private hdrs: SipHeader[] | undefined;
  private start: ReturnType<typeof parseStartLine> | undefined;
  /** the method read by the byte path, before (or without) a full start-line parse */
  private meth: string | undefined;

  constructor(raw: Buffer, conn: ConnectionInfo, receivedAt: number, sender: ReplySender, writer?: ReplyWriter) {
    this.raw = raw;
    this.conn = conn;
    this.receivedAt = receivedAt;
    this.isRequest = !isResponse(raw);
    this.sender = sender;
    this.writer = writer;
  }

  /** the peer's address */
  get source(): Address {
    return this.conn.remote;
  }

  /** our local address the message arrived on */
  get destination(): Address {
    return this.conn.local;
  }

  private get startLine(): ReturnType<typeof parseStartLine> {
    return (this.start ??= parseStartLine(this.raw));
  }

  /** request method (undefined for a response) */
  get method(): string | undefined {
    // a request line the byte path accepts yields its method without decoding the uri
    if (this.meth !== undefined) return this.meth;
    if (this.start === undefined && this.isRequest) {
      const m = requestMethod(this.raw);
      if (m !== null) return (this.meth = m);
    }
    const s = this.startLine;
    return s.isRequest ? s.method : undefined;
  }

  /** request URI (undefined for a response) */
  get uri(): string | undefined {
    const s = this.startLine;
    return s.isRequest ? s.uri : undefined;
  }

  /** response status code (undefined for a request) */
  get status(): number | undefined {
    const s = this.startLine;
    return s.isRequest ? undefined : s.status;
  }

  /** response reason phrase (undefined for a request) */
  get reason(): string | undefined {
    const s = this.startLine;
    return s.isRequest ? undefined : s.reason;
  }

  /** every header line, in order (compact names expanded in `key`) */
  get headers(): readonly SipHeader[] {
    return (this.hdrs ??= parseHeaders(this.raw));
  }

  /** first value of a header, by full or compact name, case-insensitive */
  header(name: string): string | undefined {
    return getHeader(this.headers, name);
  }

  get callId(): string | undefined {
    return this.header('call-id');
  }

  /** the body bytes (a view of `raw`) */
  get body(): Buffer {
    const cl = Number(this.header('content-length') ?? 0);
    return this.raw.subarray(this.raw.length - cl);
  }

  /**
   * Sends a stateless response on the connection the request came on (Via, From, To + tag,
   * Call-ID, CSeq copied; Content-Length: 0). The top Via gets `received=<source ip>` when
   * it has `rport` or its host is not the source address, and `rport=<source port>` when it
   * has `rport` (RFC 3581, as OpenSIPS's and Kamailio's local replies). Rejects with a ConnectionError when the
   * connection is gone, a SipProtocolError when this is not a usable request.
   */
  reply(status: number, reason: string, headers?: ExtraHeaders): Promise<void> {
    if (!this.isRequest) return Promise.reject(new SipProtocolError(SipErrorCodes.BAD_MESSAGE, 'cannot reply to a response'));
    let data: Buffer;
    try {
      data = buildResponse(this.raw, status, reason, headers, undefined, this.conn.remote);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.sender(this, data);
  }

  /**
   * reply() without the promise, for a handler that does not wait for the outcome: the same
   * response, built and handed to the connection synchronously (no promise, no microtask).
   * Throws a SipProtocolError when this is not a usable request, a ConnectionError
   * (ERR_CONN_NOT_FOUND, ERR_CONN_CLOSED) or LimitError (ERR_CONN_QUEUE_FULL, the connection
   * then closed) when the connection refuses the bytes; a write that fails later closes the
   * connection (a 'close' event). A SipMessage made without a writer sends through its
   * sender and ignores the outcome.
   */
  replyNow(status: number, reason: string, headers?: ExtraHeaders): void {
    if (!this.isRequest) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, 'cannot reply to a response');
    const data = buildResponse(this.raw, status, reason, headers, undefined, this.conn.remote);
    if (this.writer !== undefined) this.writer(this, data);
    else this.sender(this, data).then(ignore, ignore);
  }
}
