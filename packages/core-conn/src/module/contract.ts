/**
 * The module contract: what apps/server loads (`loadmodule "proto_tcp.so"`).
 * The server knows nothing of a module past this interface.
 */
import type { Engine } from '../engine/types.js';
import { brandError, brandedInstance } from '../errors.js';
import type { ProtocolSpec } from '../types.js';

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

/**
 * One module parameter. OpenSIPS has two kinds of value, INT and STR; `bool` is an INT
 * restricted to 0/1 and given to the module as a boolean. `multi` params may be set more
 * than once (hep_id, server_domain...) and arrive as an array.
 */
export interface ParamDef {
  type: 'int' | 'string' | 'bool';
  default?: number | string | boolean;
  multi?: boolean;
  min?: number;
  max?: number;
  /** allowed values (strings compared case-insensitively) */
  enum?: readonly (string | number)[];
  /** extra check/transform of the typed value; throw a ConfigError (or return a string = the problem) */
  validate?: (value: never) => string | undefined | void;
  /** one line for the README and `x-server --help` */
  doc: string;
  /** unit for docs: 'ms', 's', 'µs', 'bytes' */
  unit?: string;
}
export type ParamSchema = Record<string, ParamDef>;

/** A named MI command. `name` is namespaced `module:cmd`; `aliases` are the legacy flat names. */
export interface MiCommand {
  name: string;
  aliases?: string[];
  /** each recipe lists the parameter names of one accepted call shape; [] = no params */
  recipes: string[][];
  namedOnly?: boolean;
  doc?: string;
  /** params arrive as an object keyed by the recipe's names; throw MiError for command errors */
  handler(params: Record<string, unknown>): unknown;
}

/** A command-level MI error (OpenSIPS uses small positive codes: 400, 404, 500). */
export class MiError extends Error {
  readonly code: number;
  readonly data?: string;
  constructor(code: number, message: string, data?: string) {
    super(message);
    this.name = 'MiError';
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** true also for a MiError of another copy of @x/core-conn (a module's own dependency) */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return brandedInstance(this, v) ?? Function.prototype[Symbol.hasInstance].call(this, v);
  }
}
brandError(MiError, '@x/core-conn:MiError');

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

/** Calls a route-script export by name; undefined when the script does not export it. */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- says that the call may be async
export type RouteCaller = (name: string, ctx: unknown) => Promise<unknown> | unknown;

/** A named HEP destination that tracing can send to (proto-hep implements it). */
export interface TraceSink {
  readonly name: string;
  /**
   * Queues one packet and returns at once (never blocks the traced connection). A sink that can
   * tell returns `false` when it dropped the packet (queue full, collector down / cooling down,
   * closed), which tracing counts; the declared type stays `void` so any sink fits.
   */
  send(packet: TracePacket): void;
}
/** One trace message (OpenSIPS's trace_api message): fixed HEP fields, a payload, a correlation. */
export interface TracePacket {
  /** HEP proto type (chunk 0x0B): 1 SIP, 0x59 net (transport events), ... */
  protoType: number;
  src: { host: string; port: number };
  dst: { host: string; port: number };
  /** chunk 0x02: 6 TCP, 17 UDP, 22 TLS/BINS, 50 WS/WSS */
  ipProto: number;
  timestamp?: { sec: number; usec: number };
  /** the raw payload (a SIP message); ignored when `parts` is given */
  payload?: Buffer | string;
  /**
   * Named payload parts (OpenSIPS's add_payload_part), in order: the sink builds the payload in
   * its own HOMER mode (HOMER5: values joined by its delimiter; HOMER6: a JSON object).
   */
  parts?: ReadonlyArray<readonly [key: string, value: string]>;
  /** chunk 0x11 (a Call-ID, a connection's cid as a decimal string) */
  correlationId?: string;
}
export interface TraceSinkRegistry {
  register(sink: TraceSink): void;
  get(name: string): TraceSink | undefined;
  names(): string[];
}

export interface ModuleContext {
  engine: Engine;
  logger: Logger;
  stats: StatsRegistry;
  routes: RouteCaller;
  traceSinks: TraceSinkRegistry;
  /** the other loaded modules' public APIs, by module name (what `dependsOn` guarantees) */
  modules: ReadonlyMap<string, unknown>;
  /** the folder of the cfg file, when the host has one: relative paths in params resolve against it */
  configDir?: string;
}

/** What `init` returns: the module's live state. Descriptors stay stateless, so a module can be loaded twice (tests, reload). */
export interface ModuleInstance<A = unknown> {
  /** what other modules and the route script get from `ctx.modules.get(name)` (e.g. proto_hep's registerHepCallback) */
  api?: A;
  /** MI commands this instance serves */
  mi?: MiCommand[];
  /** run in reverse load order at shutdown */
  destroy?(): Promise<void> | void;
}

/** A loadable module descriptor. */
export interface Module<P = Record<string, unknown>, A = unknown> {
  /** OpenSIPS name: 'proto_tcp', 'proto_hep', 'tcp_mgm'... */
  name: string;
  /** npm package the module lives in */
  packageName?: string;
  params: ParamSchema;
  /** protocol specs built from the validated params (so tcp_max_msg_chunks reaches the framer); registered before init */
  protocols?(params: P): ProtocolSpec<unknown>[];
  dependsOn?: string[];
  init(ctx: ModuleContext, params: P): Promise<ModuleInstance<A>> | ModuleInstance<A>;
}
