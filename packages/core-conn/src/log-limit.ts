import type { Logger } from './services.js';
import { ConfigError, ErrorCodes } from './errors.js';

/** How many lines a key may log per interval, and how many keys are tracked. */
export interface LogLimiterOptions {
  /** lines a key may log per interval (default 10) */
  burst?: number;
  /** ms (default 10000) */
  intervalMs?: number;
  /** keys tracked at once; past it, new keys share one bucket, `*` (default 1024) */
  maxKeys?: number;
  /** clock (tests) */
  now?: () => number;
}

interface Bucket {
  start: number;
  n: number;
  dropped: number;
}

/** The key new keys share once `maxKeys` are tracked: a spread of sources is one source then. */
export const OVERFLOW_KEY = '*';

/**
 * Rate limit for log lines, per key (a source address, a message kind): `burst` lines per
 * `intervalMs`, then none until the interval ends; the count of suppressed lines is handed to
 * `report` when the key's interval is over (on its next line or at the next sweep). Memory is
 * bounded by `maxKeys`; the sweep timer is unref'd and runs only while keys are tracked.
 */
export class LogLimiter {
  private readonly burst: number;
  private readonly interval: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly buckets = new Map<string, Bucket>();
  private timer: NodeJS.Timeout | undefined;
  /** lines suppressed since creation, all keys */
  suppressed = 0;

  constructor(
    private readonly report: (key: string, suppressed: number) => void,
    opts: LogLimiterOptions = {},
  ) {
    this.burst = opts.burst ?? 10;
    this.interval = opts.intervalMs ?? 10_000;
    this.maxKeys = opts.maxKeys ?? 1024;
    this.now = opts.now ?? Date.now;
    if (!Number.isInteger(this.burst) || this.burst < 1) throw new ConfigError(ErrorCodes.INVALID_OPTION, `burst must be an integer >= 1, got ${String(this.burst)}`);
    if (!(this.interval > 0)) throw new ConfigError(ErrorCodes.INVALID_OPTION, `intervalMs must be > 0, got ${String(this.interval)}`);
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1) throw new ConfigError(ErrorCodes.INVALID_OPTION, `maxKeys must be an integer >= 1, got ${String(this.maxKeys)}`);
  }

  /** true: log this line; false: it is suppressed (and counted) */
  allow(key: string): boolean {
    const now = this.now();
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) {
        key = OVERFLOW_KEY;
        b = this.buckets.get(key);
      }
      if (b === undefined) {
        b = { start: now, n: 0, dropped: 0 };
        this.buckets.set(key, b);
        this.arm();
      }
    }
    if (now - b.start >= this.interval) {
      if (b.dropped > 0) this.report(key, b.dropped);
      b.start = now;
      b.n = 0;
      b.dropped = 0;
    }
    if (b.n < this.burst) {
      b.n++;
      return true;
    }
    b.dropped++;
    this.suppressed++;
    return false;
  }

  /** reports and forgets every key whose interval is over (`all`: every key) */
  sweep(all = false): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (!all && now - b.start < this.interval) continue;
      this.buckets.delete(key);
      if (b.dropped > 0) this.report(key, b.dropped);
    }
    if (this.buckets.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** reports what is pending and stops the sweep timer */
  close(): void {
    this.sweep(true);
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), this.interval);
    this.timer.unref();
  }
}

/** What a rate-limited logger keys its lines by (default: level, message and source address). */
export type LogKeyOf = (level: string, obj: unknown, msg: string | undefined) => string;

function hostOf(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const h = (v as { host?: unknown }).host;
  return typeof h === 'string' ? h : undefined;
}

/** the peer's address in a log object: `si`, `source`, `remote.host`, `conn.remote.host` */
export function logSourceOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const o = obj as { si?: unknown; source?: unknown; remote?: unknown; conn?: { remote?: unknown } };
  if (typeof o.si === 'string') return o.si;
  if (typeof o.source === 'string') return o.source;
  return hostOf(o.remote) ?? hostOf(o.source) ?? hostOf(o.conn?.remote);
}

const defaultKey: LogKeyOf = (level, obj, msg) => `${level}|${logSourceOf(obj) ?? '-'}|${msg ?? (typeof obj === 'string' ? obj : '')}`;

export interface LimitedLoggerOptions extends LogLimiterOptions {
  /** levels that are limited (default warn, error, fatal: what a peer can make us write) */
  levels?: ReadonlyArray<'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'>;
  keyOf?: LogKeyOf;
}

/**
 * A Logger whose lines at the limited levels are rate-limited per key (by default: level,
 * source address found in the object, message). When a key's interval ends with lines
 * suppressed, one warn line says how many: `{ suppressed, key }` "N similar log lines
 * suppressed". Children share the limiter.
 */
export function rateLimitedLogger(log: Logger, opts: LimitedLoggerOptions = {}): Logger & { readonly limiter: LogLimiter } {
  const limited = new Set(opts.levels ?? ['warn', 'error', 'fatal']);
  const keyOf = opts.keyOf ?? defaultKey;
  const limiter = new LogLimiter((key, n) => log.warn({ suppressed: n, key }, `${n} similar log lines suppressed (rate limit)`), opts);
  const wrap = (inner: Logger): Logger & { readonly limiter: LogLimiter } => {
    const gate =
      (level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal') =>
      (obj: unknown, msg?: string): void => {
        if (limited.has(level) && !limiter.allow(keyOf(level, obj, msg))) return;
        if (msg === undefined) inner[level](obj);
        else inner[level](obj, msg);
      };
    return {
      limiter,
      trace: gate('trace'),
      debug: gate('debug'),
      info: gate('info'),
      warn: gate('warn'),
      error: gate('error'),
      fatal: gate('fatal'),
      child: (bindings) => wrap(inner.child(bindings)),
    };
  };
  return wrap(log);
}
