import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';

/** OpenSIPS log_level -> pino level. OpenSIPS: -3 alert, -2 crit, -1 err, 1 warn, 2 notice, 3 info, 4 debug. */
export function pinoLevelOf(logLevel: number): string {
  if (logLevel <= -2) return 'fatal';
  if (logLevel <= 0) return 'error';
  if (logLevel === 1) return 'warn';
  if (logLevel === 2) return 'notice';
  if (logLevel === 3) return 'info';
  return 'debug';
}

export interface ServerLogger {
  root: PinoLogger<'notice'>;
  /** a child whose level follows later setLevel calls */
  child(bindings: Record<string, unknown>): PinoLogger<'notice'>;
  setLevel(logLevel: number): void;
  level(): number;
  /**
   * Resolves once the asynchronous destination has written out what it buffers, in order
   * (stop, exit). It waits for a write already in flight rather than writing past it: a
   * synchronous flush during an in-flight write would put the last lines before earlier ones.
   */
  flush(): Promise<void>;
}

export interface LoggerOptions {
  logLevel: number;
  /** human-readable output (pino-pretty, one line per entry with its fields inline) instead of JSON lines */
  pretty?: boolean;
  /** where lines go (default stdout) */
  destination?: DestinationStream;
}

/** pino with a `notice` level between info and warn, so OpenSIPS's 2 and 3 differ. */
export function createServerLogger(opts: LoggerOptions): ServerLogger {
  let current = opts.logLevel;
  const dest = opts.pretty
    ? pretty({ sync: true, colorize: opts.destination === undefined && process.stdout.isTTY, customLevels: 'notice:35', singleLine: true, ...(opts.destination ? { destination: opts.destination } : {}) })
    : (opts.destination ?? pino.destination({ sync: false }));
  // stdout is written asynchronously (sonic-boom: buffered, then non-blocking writes), so a log
  // burst never stalls the event loop; pino flushes it synchronously at process exit, and
  // flush() does it at a graceful stop
  const root = pino<'notice'>({ level: pinoLevelOf(current), customLevels: { notice: 35 }, base: { pid: process.pid }, name: 'x-server' }, dest);
  const children: Array<PinoLogger<'notice'>> = [];
  return {
    root,
    child(bindings) {
      const c = root.child(bindings);
      children.push(c);
      return c;
    },
    setLevel(logLevel) {
      current = logLevel;
      const l = pinoLevelOf(logLevel);
      root.level = l;
      for (const c of children) c.level = l;
    },
    level: () => current,
    flush() {
      // sonic-boom (pino.destination): while an asynchronous write is in flight, its 'drain'
      // comes once every buffered line is out, in order; with nothing in flight a synchronous
      // write keeps the order too. flushSync during an in-flight write would not.
      const d = dest as { _writing?: boolean; once?: (ev: 'drain', fn: () => void) => unknown; flushSync?: () => void };
      if (d._writing === true && typeof d.once === 'function') {
        return new Promise<void>((resolve) => {
          // bounded: a destination that never drains (stdout closed) must not hold the stop
          const timer = setTimeout(resolve, 2000);
          timer.unref();
          d.once!('drain', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      try {
        d.flushSync?.();
      } catch {
        // not ready yet (nothing written) or already closed: nothing to flush
      }
      return Promise.resolve();
    },
  };
}
