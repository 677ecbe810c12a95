/** The three end-line flags: `$` last chunk, `+` more chunks follow, `#` the message was aborted. */
export type ContinuationFlag = '$' | '+' | '#';

/** OpenSIPS's method ids: SEND, REPORT and AUTH are known, anything else is OTHER. */
export type MsrpMethodId = 'SEND' | 'REPORT' | 'AUTH' | 'OTHER';

/**
 * One header line, kept verbatim: `name + sep + value` is the line without its CRLF.
 * Strings are latin1 (one char = one byte), so any byte survives a round trip.
 */
export interface MsrpHeader {
  name: string;
  /** the bytes between the name and the value: ': ' normally; omitted = ': ' */
  sep?: string;
  value: string;
}

interface MsrpBase {
  /** the transaction id of the start line (and of the end-line) */
  tid: string;
  headers: MsrpHeader[];
  /**
   * the body (the bytes between the empty line and the CRLF before the end-line), or
   * undefined for a message without one. A streamed message has no body here: its pieces
   * came separately.
   */
  body?: Buffer;
  continuation: ContinuationFlag;
  /** the 4 bytes of the start line's "MSRP" as written (any case); omitted = 'MSRP' */
  prefix?: string;
}

export interface MsrpRequest extends MsrpBase {
  kind: 'request';
  /** as written (case kept) */
  method: string;
}

export interface MsrpResponse extends MsrpBase {
  kind: 'response';
  status: number;
  /** the text after "code SP"; undefined when the line is just the code */
  reason?: string;
}

export type MsrpMessage = MsrpRequest | MsrpResponse;

/** Byte-Range: `start-end/total`; `end` and `total` are null for `*`. */
export interface ByteRange {
  start: number;
  end: number | null;
  total: number | null;
}

/** Status: `namespace SP code [SP comment]` (e.g. `000 200 OK`). */
export interface MsrpStatus {
  namespace: number;
  code: number;
  comment?: string;
}

/** An msrp: / msrps: URL: `msrp[s]://host[:port][/session];transport[;params]`. */
export interface MsrpUrl {
  /** the URL as written */
  whole: string;
  /** scheme is msrps */
  secured: boolean;
  /** as written, but an IPv6 address without its brackets (formatUrl puts them back) */
  host: string;
  /** 0 when the URL has no port */
  port: number;
  /** the session id, '' when there is none */
  session: string;
  /** everything after the first ';' (e.g. 'tcp'), '' when none */
  params: string;
  /** userinfo before '@', when written */
  user?: string;
}
