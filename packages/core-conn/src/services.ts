/**
 * What a host (x-server, a test, an application) gives the engine and the modules: a logger
 * and a statistics registry. Kept apart from the module contract so that the engine's types
 * and the contract do not import each other.
 */

/** pino-compatible logger surface; the server passes a pino child per module. */
export interface Logger {
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  fatal(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Counters and gauges shared by MI (`statistics:get`) and Prometheus `/metrics`. Names are `group:name`. */
export interface Stat {
  readonly group: string;
  readonly name: string;
  readonly kind: 'incremental' | 'non-incremental';
  readonly doc: string;
  value(): number;
  inc(by?: number): void;
  dec(by?: number): void;
  set(v: number): void;
  reset(): void;
}
export interface StatsRegistry {
  /** an incremental counter; the same group+name returns the same counter */
  counter(group: string, name: string, doc: string): Stat;
  /** a non-incremental value; with `fn` it is computed when read */
  gauge(group: string, name: string, doc: string, fn?: () => number): Stat;
  all(): Stat[];
  get(fullName: string): Stat | undefined;
}
