import { brandError, ProtocolError } from '@x/core-conn';

/** Stable codes of @x/proto-msrp. Test `err.code`, never the message. */
export const MsrpErrorCodes = {
  /** the bytes do not start with "MSRP" (any case) followed by one space */
  START: 'ERR_MSRP_START',
  /** a transaction id that does not start with a letter or digit, holds a control byte or is longer than 255 */
  TRANSACTION_ID: 'ERR_MSRP_TRANSACTION_ID',
  /** a request method with a space in it, an empty method, or a status that is not 3 digits (+ SP reason) */
  START_LINE: 'ERR_MSRP_START_LINE',
  /** a header line with no name, no ':' or a control byte; a line starting with whitespace (folding) */
  HEADER: 'ERR_MSRP_HEADER',
  /** a header MSRP allows once (To-Path, From-Path, Message-ID, Byte-Range, ...) appears twice */
  DUPLICATE_HEADER: 'ERR_MSRP_DUPLICATE_HEADER',
  /** To-Path or From-Path missing; Message-ID missing in a non-AUTH request; Content-Type missing with a body */
  MISSING_HEADER: 'ERR_MSRP_MISSING_HEADER',
  /** neither is To-Path the first header nor From-Path the second (OpenSIPS's check) */
  HEADER_ORDER: 'ERR_MSRP_HEADER_ORDER',
  /** the headers are followed neither by CRLF (body) nor by the seven dashes of the end-line */
  END_OF_HEADERS: 'ERR_MSRP_END_OF_HEADERS',
  /** the end-line names another transaction id, has no '+', '$' or '#', or no CRLF */
  END_LINE: 'ERR_MSRP_END_LINE',
  /** the bytes stop before the end-line (decode of a whole message) */
  TRUNCATED: 'ERR_MSRP_TRUNCATED',
  /** bytes after the end-line (decode of one whole message) */
  TRAILING: 'ERR_MSRP_TRAILING',
  /** the start line or the headers of one message are larger than the parser's bound */
  TOO_BIG: 'ERR_MSRP_TOO_BIG',
  /** a body larger than the parser's bound where a whole message was asked for */
  BODY_TOO_BIG: 'ERR_MSRP_BODY_TOO_BIG',
  /** an msrp: / msrps: URL or path that does not parse */
  URL: 'ERR_MSRP_URL',
  /** a Byte-Range value that is not "start-end/total" (end and total may be "*") */
  BYTE_RANGE: 'ERR_MSRP_BYTE_RANGE',
  /** a Status value that is not "namespace SP code [SP comment]" */
  STATUS: 'ERR_MSRP_STATUS',
  /** an Expires / Min-Expires / Max-Expires value that is not a non-negative integer */
  EXPIRES: 'ERR_MSRP_EXPIRES',
  /** encode: a message that cannot be written (bad method, status, flag, a CRLF inside a value...) */
  INVALID: 'ERR_MSRP_INVALID',
} as const;
export type MsrpErrorCode = (typeof MsrpErrorCodes)[keyof typeof MsrpErrorCodes];

/**
 * Every decode / encode failure of the MSRP codec. A ProtocolError, so that a framer throwing
 * it makes core-conn close the connection.
 */
export class MsrpError extends ProtocolError {
  constructor(code: MsrpErrorCode, message: string) {
    super(code, message);
  }
}
brandError(MsrpError, '@x/proto-msrp:MsrpError');
