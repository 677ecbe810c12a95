const kBrand = Symbol.for('@x/core-conn.error-brand');
const kName = Symbol.for('@x/core-conn.error-name');
/** a static mark, inherited by subclasses: instances are made without a stack trace */
const kStackless = Symbol('@x/core-conn.error-stackless');

/**
 * Brands an error class so that `instanceof` holds across two copies of the package that
 * defines it (two versions of @x/core-conn in one tree, as undici does): every instance
 * carries `Symbol.for(key)`, and the class's `Symbol.hasInstance` tests for it. `key` must be
 * unique and stable: `<package>:<ClassName>`. Every subclass that wants its own `instanceof`
 * across copies brands itself; an unbranded subclass falls back to the ordinary prototype
 * check. The part of `key` after the last ':' becomes the instances' `name` (an `XError`
 * subclass gets it without setting `this.name`; a bundler renaming the class changes nothing).
 * Used by core-conn's classes and by the protocol packages' own.
 */
export function brandError(cls: abstract new (...args: never[]) => Error, key: string): void {
  const sym = Symbol.for(key);
  Object.defineProperty(cls.prototype, sym, { value: true });
  Object.defineProperty(cls.prototype, kName, { value: key.slice(key.lastIndexOf(':') + 1) });
  Object.defineProperty(cls, kBrand, { value: sym });
}

/** `instanceof` by brand when `cls` has its own (see `brandError`); undefined when it has none. */
export function brandedInstance(cls: object, v: unknown): boolean | undefined {
  if (!Object.hasOwn(cls, kBrand)) return undefined;
  const sym = (cls as Record<symbol, symbol>)[kBrand]!;
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[sym] === true;
}

/** Options of every @x error: the cause, and for configuration errors the setting at fault. */
export interface XErrorOptions {
  cause?: unknown;
}

/**
 * Every error @x throws or reports is an `XError` with a stable `code` and its own class
 * `name`. `instanceof` works across two copies of a package (a `Symbol.for` brand, see
 * `brandError`); callers may also test `err.code`, never the message text.
 */
export class XError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: XErrorOptions) {
    // a class marked stackless (and its subclasses) is made without a stack trace
    const quiet = (new.target as unknown as Record<symbol, unknown>)[kStackless] === true;
    const limit = Error.stackTraceLimit;
    if (quiet) Error.stackTraceLimit = 0;
    try {
      super(message, options);
    } finally {
      if (quiet) Error.stackTraceLimit = limit;
    }
    this.code = code;
    this.name = (this as unknown as Record<symbol, string | undefined>)[kName] ?? 'XError';
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    return brandedInstance(this, v) ?? Function.prototype[Symbol.hasInstance].call(this, v);
  }
}
brandError(XError, '@x/core-conn:XError');

/**
 * A peer sent bytes that do not frame as the protocol requires. The connection is closed.
 * Made without a stack trace: a hostile peer can cause thousands per second, and where in our
 * code the framer noticed says nothing the code and message do not (V8 collects the frames of
 * every Error it makes, which costs more than the rest of a close).
 */
export class ProtocolError extends XError {}
Object.defineProperty(ProtocolError, kStackless, { value: true });
brandError(ProtocolError, '@x/core-conn:ProtocolError');

/**
 * A limit of core-conn was passed (chunks, bytes, read timeout, queue). The connection is
 * closed. Made without a stack trace, as ProtocolError (the limit and the numbers say it all).
 */
export class LimitError extends XError {}
Object.defineProperty(LimitError, kStackless, { value: true });
brandError(LimitError, '@x/core-conn:LimitError');

/** Connecting, writing or looking up a connection failed. */
export class ConnectionError extends XError {}
brandError(ConnectionError, '@x/core-conn:ConnectionError');

/** Where a configuration error sits: the module parameter (and which setting of a multi one). */
export interface ConfigErrorOptions extends XErrorOptions {
  /** the module parameter at fault */
  param?: string;
  /** which setting of a multi parameter (0-based, in the order written) */
  index?: number;
  /** the module whose parameter it is, when not the module that reports it */
  module?: string;
}

/**
 * An option, a module parameter or a socket spec is invalid. The message says which and why;
 * `param` / `index` (when set) name the module parameter setting at fault, so a host such as
 * x-server can report it at its file:line:col.
 */
export class ConfigError extends XError {
  declare readonly param?: string;
  declare readonly index?: number;
  declare readonly module?: string;
  constructor(code: string, message: string, options?: ConfigErrorOptions) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.param !== undefined) this.param = options.param;
    if (options?.index !== undefined) this.index = options.index;
    if (options?.module !== undefined) this.module = options.module;
  }
}
brandError(ConfigError, '@x/core-conn:ConfigError');

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
  /** a framer broke the FramerSink contract (head() inside a streamed message, part()/end() outside one): a bug of the framer; the connection is closed */
  FRAMER_CONTRACT: 'ERR_CONN_FRAMER_CONTRACT',
} as const;

/**
 * Text quoted in an error message, bounded: at most `max` characters of it, then how long it
 * was, so a 5 MB value never becomes a 5 MB message (or log line).
 */
export function clipText(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
