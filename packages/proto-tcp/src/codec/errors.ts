import { brandError, ConfigError, ProtocolError } from '@x/core-conn';

/** Stable error codes of @x/proto-tcp. Test `err.code`, never the message. */
export const SipErrorCodes = {
  /** end of headers reached without any Content-Length header */
  NO_CONTENT_LENGTH: 'ERR_SIP_NO_CONTENT_LENGTH',
  /** end of headers reached and every Content-Length header had an unusable value */
  BAD_CONTENT_LENGTH: 'ERR_SIP_BAD_CONTENT_LENGTH',
  /** two Content-Length headers with different values (a request-smuggling shape) */
  CONFLICTING_CONTENT_LENGTH: 'ERR_SIP_CONFLICTING_CONTENT_LENGTH',
  /** Content-Length >= 65535, or a message that cannot fit in maxMsgBytes */
  TOO_BIG: 'ERR_SIP_TOO_BIG',
  /** bytes that are not a SIP message where one is needed (reply building, start line) */
  BAD_MESSAGE: 'ERR_SIP_BAD_MESSAGE',
  /** a send target that is neither `host:port` nor a `sip:` URI with transport tcp */
  BAD_TARGET: 'ERR_SIP_BAD_TARGET',
  /** the SipTcp instance is closed */
  CLOSED: 'ERR_SIP_CLOSED',
} as const;
export type SipErrorCode = (typeof SipErrorCodes)[keyof typeof SipErrorCodes];

/** Bytes that do not frame or parse as SIP. On a connection, the engine closes it ("Protocol error"). */
export class SipProtocolError extends ProtocolError {
  constructor(code: SipErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
brandError(SipProtocolError, '@x/proto-tcp:SipProtocolError');

/** A bad argument of the API (send target, reply status). */
export class SipConfigError extends ConfigError {
  constructor(code: SipErrorCode | 'ERR_INVALID_OPTION', message: string) {
    super(code, message);
  }
}
brandError(SipConfigError, '@x/proto-tcp:SipConfigError');
