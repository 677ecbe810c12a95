/**
 * Every error @x throws or reports is an `XError` with a stable `code`.
 * Callers test `err.code` (or `err.name`), never the message text, so the checks hold even
 * with two copies of a package in one tree (the js-libp2p / undici convention).
 */
export class XError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'XError';
  }
}

/** A peer sent bytes that do not frame as the protocol requires. The connection is closed. */
export class ProtocolError extends XError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProtocolError';
  }
}

/** A limit of core-conn was passed (chunks, bytes, read timeout, queue). The connection is closed. */
export class LimitError extends XError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'LimitError';
  }
}

/** Connecting, writing or looking up a connection failed. */
export class ConnectionError extends XError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ConnectionError';
  }
}

/** An option, a module parameter or a socket spec is invalid. The message says which and why. */
export class ConfigError extends XError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ConfigError';
  }
}

/** Stable codes of core-conn. Protocol packages define their own (ERR_SIP_*, ERR_HEP_*...). */
export const ErrorCodes = {
  /** a message needed more reads than the protocol's max_msg_chunks */
  MAX_CHUNKS: 'ERR_CONN_MAX_CHUNKS',
  /** a message buffered more bytes than the protocol's cap */
  MSG_TOO_BIG: 'ERR_CONN_MSG_TOO_BIG',
  /** a partial message was not completed within msg_read_timeout */
  READ_TIMEOUT: 'ERR_CONN_READ_TIMEOUT',
  /** no traffic for con_lifetime */
  LIFETIME: 'ERR_CONN_LIFETIME',
  /** the write queue passed max postponed chunks */
  QUEUE_FULL: 'ERR_CONN_QUEUE_FULL',
  /** a sync write (async off) did not finish within send_timeout */
  WRITE_TIMEOUT: 'ERR_CONN_WRITE_TIMEOUT',
  /** connect did not finish within connect_timeout */
  CONNECT_TIMEOUT: 'ERR_CONN_CONNECT_TIMEOUT',
  /** connect failed (refused, unreachable, TLS handshake) */
  CONNECT_FAILED: 'ERR_CONN_CONNECT_FAILED',
  /** the TLS handshake did not finish in time */
  TLS_HANDSHAKE_TIMEOUT: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT',
  /** no connection exists and the profile says no_new_conn */
  NO_NEW_CONN: 'ERR_CONN_NO_NEW_CONN',
  /** tcp_max_connections reached */
  MAX_CONNECTIONS: 'ERR_CONN_MAX_CONNECTIONS',
  /** the connection id is unknown or the connection is closed */
  NOT_FOUND: 'ERR_CONN_NOT_FOUND',
  CLOSED: 'ERR_CONN_CLOSED',
  /** the peer closed or reset the connection with a partial message pending */
  EOF: 'ERR_CONN_EOF',
  /** a socket error */
  SOCKET: 'ERR_CONN_SOCKET',
  /** no listener of that protocol to send from */
  NO_SOCKET: 'ERR_CONN_NO_SOCKET',
  /** the protocol is not registered */
  UNKNOWN_PROTOCOL: 'ERR_CONN_UNKNOWN_PROTOCOL',
  /** a bad socket spec */
  BAD_SOCKET_SPEC: 'ERR_BAD_SOCKET_SPEC',
  /** a bad option or parameter */
  INVALID_OPTION: 'ERR_INVALID_OPTION',
  /** a module parameter the module does not have */
  UNKNOWN_PARAM: 'ERR_UNKNOWN_PARAM',
  /** too many aliases, or an alias that points to another connection */
  ALIAS: 'ERR_CONN_ALIAS',
  /** setProfileResolver while a resolver is already set (clear it with null first) */
  RESOLVER_SET: 'ERR_CONN_RESOLVER_SET',
} as const;

/**
 * Text quoted in an error message, bounded: at most `max` characters of it, then how long it
 * was, so a 5 MB value never becomes a 5 MB message (or log line).
 */
export function clipText(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
