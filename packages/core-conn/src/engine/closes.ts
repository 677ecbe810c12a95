// Why connections close, made visible: each close counted per protocol and reason code, and
// logged at a level that matches how abnormal it is, rate-limited per reason and peer address.
import { formatAddress } from '../address.js';
import { ErrorCodes } from '../errors.js';
import type { LogLimiter } from '../log-limit.js';
import type { Logger } from '../services.js';
import type { CloseReason } from '../types.js';
import type { Conn } from './connection.js';

/** The stable code of each close reason: the `reason` label of x_conn_closes_total. */
export const CLOSE_REASON_CODES: Readonly<Record<CloseReason, string>> = Object.freeze({
  'EOF received': 'eof',
  'Read error': 'read_error',
  'Write error': 'write_error',
  'Timeout waiting for a complete message': 'read_timeout',
  'Timeout on no traffic': 'lifetime',
  'Async connect failed': 'connect_failed',
  'Closed by Proto layer': 'proto_layer',
  'Closed by MI': 'mi',
  'Protocol error': 'protocol_error',
  'Too many read chunks': 'max_chunks',
  'Message too big': 'msg_too_big',
  'Write queue full': 'queue_full',
  'Write timeout': 'write_timeout',
  'TLS handshake failed': 'tls_handshake',
  Shutdown: 'shutdown',
});

/**
 * The code of a close: CLOSE_REASON_CODES, except an EOF (or reset) in the middle of a message,
 * `eof_partial`, and a reason the engine does not know (Engine.close with free text), `other`.
 */
export function closeCode(reason: CloseReason, error?: Error): string {
  if (reason === 'EOF received' && (error as { code?: unknown } | undefined)?.code === ErrorCodes.EOF) return 'eof_partial';
  return (CLOSE_REASON_CODES as Record<string, string>)[reason] ?? 'other';
}

type Level = 'debug' | 'info' | 'warn';

/**
 * The log level of a close: debug for the ordinary ends (EOF, idle lifetime, shutdown), info
 * for closes asked for (MI, the protocol layer) and an EOF inside a message, warn for limits,
 * protocol errors, socket errors and failed TLS handshakes or connects.
 */
export function closeLevel(code: string): Level {
  switch (code) {
    case 'eof':
    case 'lifetime':
    case 'shutdown':
      return 'debug';
    case 'eof_partial':
    case 'mi':
    case 'proto_layer':
    case 'other':
      return 'info';
    default:
      return 'warn';
  }
}

/** One row of Engine.closeCounts(). */
export interface CloseCount {
  proto: string;
  /** a reason code (CLOSE_REASON_CODES, `eof_partial`, `other`) */
  reason: string;
  count: number;
}

export type Leveled = Logger & { isLevelEnabled?: (level: string) => boolean };

/** Counts and logs closes (one per engine). */
export class CloseLog {
  /** proto -> code -> count */
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(
    private readonly log: Logger,
    private readonly limiter: LogLimiter,
  ) {}

  record(conn: Conn, reason: CloseReason, error: Error | undefined): void {
    const code = closeCode(reason, error);
    let byCode = this.counts.get(conn.proto);
    if (byCode === undefined) this.counts.set(conn.proto, (byCode = new Map<string, number>()));
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    const level = closeLevel(code);
    const log = this.log as Leveled;
    // a level that is off costs nothing more: no key, no limiter, no object
    if (typeof log.isLevelEnabled === 'function' && !log.isLevelEnabled(level)) return;
    if (!this.limiter.allow(`${conn.proto}|${code}|${conn.remote.host}`)) return;
    const line: Record<string, unknown> = {
      id: conn.id,
      proto: conn.proto,
      remote: formatAddress(conn.remote),
      local: formatAddress(conn.local),
      reason: code,
      accepted: conn.accepted,
      ageMs: Date.now() - conn.createdAt,
    };
    if (error) {
      line.error = error.message;
      const ec = (error as { code?: unknown }).code;
      if (typeof ec === 'string') line.code = ec;
    }
    log[level](line, `connection closed: ${reason}`);
  }

  list(): CloseCount[] {
    const out: CloseCount[] = [];
    for (const [proto, byCode] of this.counts) for (const [reason, count] of byCode) out.push({ proto, reason, count });
    return out;
  }
}
