/**
 * The module contract: what apps/server loads (`loadmodule "proto_tcp.so"`).
 * The server knows nothing of a module past this interface.
 */
import type { Engine } from '../engine/types.js';
import type { Logger, StatsRegistry } from '../services.js';
import { brandError, brandedInstance } from '../errors.js';
import type { Address, ConnectionInfo, ListenerInfo, ProtocolSpec, SocketSpec } from '../types.js';

export type { Logger, Stat, StatsRegistry } from '../services.js';

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

/**
 * What a module passes when it runs a route-script export: the message and where it came
 * from. The host builds the route's context from it (`ctx.si`, `ctx.sp`, `ctx.proto`,
 * `ctx.socket`...): `remote` defaults to `connection.remote`, `listener` to
 * `connection.listener`, `local` to the listener's address, `proto` to the connection's.
 */
export interface RouteInvocation<M = unknown> {
  message: M;
  /** the connection it came on (stream protocols) */
  connection?: ConnectionInfo | undefined;
  /** the sender ($si / $sp) when there is no connection (datagrams) */
  remote?: Address | undefined;
  /** the local address it arrived on when there is no listener object */
  local?: Address | undefined;
  listener?: ListenerInfo | undefined;
  /** the protocol name ($proto) */
  proto?: string | undefined;
  /**
   * a stateless reply (SIP requests); without it the route's `ctx.reply` rejects. `headers`:
   * lines the host adds to every reply (x-server's server_header)
   */
  reply?: ((code: number, reason: string, headers?: ReadonlyArray<readonly [string, string]>) => Promise<void>) | undefined;
  /** module fields the route context carries (msrp_relay's `username`, `realm`...) */
  fields?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Runs a route-script export by name. Returns the route's return value, `false` when it
 * called `ctx.drop()` (a promise of either for an async route), `undefined` when the script
 * does not export it or the route threw (the host logs and counts that). Never throws.
 */
export type RouteCaller = (name: string, invocation: RouteInvocation) => unknown;

/**
 * A route-script export a module runs, declared by `Module.routes(params)` so that the host
 * can check the script at start-up (and at `x-server -c`), count the calls and list them.
 * A fixed export (`request`, `hep`) has only `name`; a route named by a modparam
 * (`trace_filter_route`, `auth_route`) also has `param` (and `index` for a multi param) and is
 * required: the script must export it.
 */
export interface RouteBinding {
  /** the export's name (for a route named by a modparam: the param's value) */
  name: string;
  /** the modparam whose value names the route; the host reports a missing export there */
  param?: string;
  /** which setting of a multi param */
  index?: number;
  /** the script must export it (default: true when `param` is set, else false) */
  required?: boolean;
  /** one line saying when the module runs it (for the module's README and a host's listing) */
  doc?: string;
  /**
   * statistics the host counts per call, each `group:name`: `received` on every call,
   * `dropped` when the route called `ctx.drop()`, `failed` when it threw (or its promise rejected)
   */
  stats?: { received?: string; dropped?: string; failed?: string };
}

/**
 * A module that can be traced (OpenSIPS's `trace_destination`, `trace_on`,
 * `trace_filter_route` of proto_tcp, proto_bins, proto_msrp): which protocols' transport events
 * it covers and its settings. The module serving tracing (`uses`) reads these.
 */
export interface TraceDeclaration {
  /** the protocols whose connections this module's tracing covers */
  protocols: readonly string[];
  /** the trace destination's name (a hep_id): without one the module has its switch but sends nothing */
  destination?: string | undefined;
  /** the switch's initial state (trace_on) */
  on: boolean;
  /** a route-script export run once per connection; `ctx.drop()` = never trace that connection */
  filterRoute?: string | undefined;
}

/** A loaded module as another module sees it in `checkConfig` and `init`: its name, descriptor hooks and params. */
export interface LoadedModuleView {
  readonly name: string;
  /** what the module declares it is traceable with (its `Module.trace(params)`) */
  readonly trace?: TraceDeclaration | undefined;
  /** the trace destinations it registers (its `Module.traceDestinations(params)`) */
  readonly traceDestinations: readonly string[];
}

/**
 * The whole configuration as a module sees it in `checkConfig`, before anything is opened or
 * initialised.
 */
export interface ConfigView {
  /** every declared socket (`socket =` / `listen =`), default ports filled */
  readonly sockets: readonly SocketSpec[];
  /** every loaded module (implicit ones too), in load order */
  readonly modules: readonly LoadedModuleView[];
  /** the protocol names the loaded modules serve */
  readonly protocols: readonly string[];
}

/**
 * A named trace destination (a collector) that a module registers and another sends to:
 * proto_hep registers one per hep_id, taking `@x/proto-hep`'s `TracePacket`; @x/tracing sends
 * its transport events there. core-conn only carries them from one module to the other, so the
 * packet type is the sender's and the receiver's business (`P`), not the contract's.
 */
export interface TraceSink<P = unknown> {
  readonly name: string;
  /**
   * Queues one packet and returns at once (never blocks the traced connection). A sink that can
   * tell returns `false` when it dropped the packet (queue full, collector down / cooling down,
   * closed), which the sender counts; the declared type stays `void` so any sink fits.
   */
  send(packet: P): void;
}
/** The host's registry of trace destinations, by name (`ModuleContext.traceSinks`). */
export interface TraceSinkRegistry {
  /** registers a destination; a second one of the same name is an error */
  register(sink: TraceSink<never>): void;
  /** the destination of that name, typed by what the caller sends it */
  get<P = unknown>(name: string): TraceSink<P> | undefined;
  names(): string[];
}

export interface ModuleContext {
  engine: Engine;
  logger: Logger;
  stats: StatsRegistry;
  /** runs route-script exports (declare the ones the module runs in `Module.routes`) */
  routes: RouteCaller;
  /** whether the route script (as now loaded: a reload may change it) exports `name` */
  hasRoute(name: string): boolean;
  traceSinks: TraceSinkRegistry;
  /** every loaded module, as `checkConfig` saw them (`ConfigView.modules`) */
  loaded: readonly LoadedModuleView[];
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
  /**
   * Called once every declared socket is bound, with all the listeners (of every protocol).
   * Throw a `ConfigError` to refuse to run: the host stops start-up, naming the loadmodule (or
   * the setting given by the error's `param` / `index`).
   */
  listening?(listeners: readonly ListenerInfo[]): Promise<void> | void;
  /**
   * Traces one message the route script is handling (its `ctx.trace()`), to `opts.destination`
   * or the module's own destination; whether it was sent. A host routes `ctx.trace()` to the one
   * instance that has it (@x/tracing's).
   */
  traceMessage?(message: unknown, opts?: { destination?: string }): boolean;
  /** run in reverse load order at shutdown */
  destroy?(): Promise<void> | void;
}

/**
 * A loadable module descriptor. A host knows a module only through this: it validates
 * `params` against the schema, loads the modules it `uses`, calls `checkConfig`, registers
 * `protocols`, checks the route script against `routes`, calls `init` in dependency order,
 * then `listening` once the sockets are bound, and `destroy` in reverse order at shutdown.
 */
/** See `Module.paramSpellings`. */
export interface ParamSpelling {
  /** the module name written in the modparam (case-insensitive) */
  module: string;
  /** the parameter names it covers start with this */
  prefix: string;
  /** where the spelling comes from, for the note (e.g. "OpenSIPS's proto_bins documentation") */
  source: string;
}

export interface Module<P = Record<string, unknown>, A = unknown> {
  /** OpenSIPS name: 'proto_tcp', 'proto_hep', 'tcp_mgm'... */
  name: string;
  /** npm package the module lives in */
  packageName?: string;
  params: ParamSchema;
  /**
   * Cross-parameter rules and references to the rest of the configuration (sockets, other
   * modules), checked before anything is opened (also by `x-server -c`). Throw a
   * `ConfigError`; give it `param` (and `index` for a multi param) to have the host report it
   * at that setting (`module` for a setting of another module), else it is reported at the
   * loadmodule.
   */
  checkConfig?(params: P, config: ConfigView): void;
  /** protocol specs built from the validated params (so tcp_max_msg_chunks reaches the framer); registered before init */
  protocols?(params: P): ProtocolSpec<unknown>[];
  /** the route-script exports the module runs, given its params */
  routes?(params: P): RouteBinding[];
  /** the module's transport events can be traced: its protocols and trace settings (see `uses`) */
  trace?(params: P): TraceDeclaration | undefined;
  /** the names of the trace destinations the module registers in `init` (proto_hep: its hep_ids), known before init */
  traceDestinations?(params: P): string[];
  /** modules that must be loaded before this one (the cfg loads them) */
  dependsOn?: string[];
  /**
   * The module's state belongs to one process (clusterer: one cluster node identity, its links
   * and timers): a host that can run several worker processes runs one when it is loaded.
   */
  singleProcess?: boolean;
  /**
   * Other spellings of this module's parameters that OpenSIPS configs carry: a
   * `modparam("<module>", "<prefix>…")` sets this module's parameter of that name, with a note
   * (proto_bins: `modparam("proto_tls", "bins_…")`, as OpenSIPS's proto_bins documentation
   * writes it). Without this module loaded such a modparam is an error naming it.
   */
  paramSpellings?: readonly ParamSpelling[];
  /**
   * modules the host loads implicitly, with their defaults, when the cfg does not
   * (proto_tcp uses 'tracing': OpenSIPS's transport tracing needs no loadmodule); a host that
   * cannot load one notes it and goes on
   */
  uses?: string[];
  init(ctx: ModuleContext, params: P): Promise<ModuleInstance<A>> | ModuleInstance<A>;
}
