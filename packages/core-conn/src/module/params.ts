import { clipText, ConfigError, ErrorCodes } from '../errors.js';
import type { Module, ParamDef, ParamSchema } from './contract.js';
import type { WriteOptions } from '../types.js';

/** One raw setting of a parameter, as the cfg parser saw it; `where` is "file:line:col". */
export interface RawParam {
  value: number | string;
  where?: string;
}

/** What a module gets for a param: a string, a number, a boolean, or an array of them for `multi`. */
export type ParamValue = string | number | boolean;

function at(where: string | undefined): string {
  return where ? ` (at ${where})` : '';
}

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(clipText(v)) : clipText(String(v));
}

function expectation(def: ParamDef): string {
  if (def.enum) return `one of ${def.enum.map((e) => shown(e)).join(', ')}`;
  if (def.type === 'bool') return '0 or 1';
  if (def.type === 'string') return 'a string';
  const { min, max } = def;
  if (min !== undefined && max !== undefined) return `an integer in ${min}..${max}`;
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

function convert(moduleName: string, name: string, def: ParamDef, raw: RawParam): ParamValue {
  const fail = (why?: string): never => {
    throw new ConfigError(
      ErrorCodes.INVALID_OPTION,
      `${moduleName}: parameter "${name}" ${why ?? `expects ${expectation(def)}, got ${shown(raw.value)}`}${at(raw.where)}`,
    );
  };
  let out: ParamValue;
  const v = raw.value;
  if (def.type === 'string') {
    if (typeof v !== 'string') fail();
    out = v as string;
    if (def.enum && !def.enum.some((e) => String(e).toLowerCase() === (v as string).toLowerCase())) fail();
  } else {
    let n: number;
    if (typeof v === 'number') n = v;
    else if (/^\s*-?\d+\s*$/.test(v)) n = Number(v);
    else return fail();
    if (!Number.isSafeInteger(n)) fail();
    if (def.type === 'bool') {
      if (n !== 0 && n !== 1) fail();
      out = n === 1;
    } else {
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) fail();
      if (def.enum && !def.enum.some((e) => Number(e) === n)) fail();
      out = n;
    }
  }
  if (def.validate) {
    let problem: string | undefined | void;
    try {
      problem = (def.validate as (x: ParamValue) => string | undefined | void)(out);
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message);
      throw err;
    }
    if (typeof problem === 'string') fail(problem);
  }
  return out;
}

function defaultOf(def: ParamDef): ParamValue | undefined {
  if (def.default === undefined) return undefined;
  if (def.type === 'bool') return def.default === true || def.default === 1;
  return def.default;
}

/**
 * Validates a module's raw `modparam` settings against its schema: unknown names are
 * ERR_UNKNOWN_PARAM, bad values ERR_INVALID_OPTION with a message naming the module, the
 * parameter, what it expects and where it was set. A single-valued param set twice keeps
 * the last value (as OpenSIPS); `multi` params become arrays. Defaults fill the rest.
 */
export function validateParams<P = Record<string, unknown>>(
  moduleName: string,
  schema: ParamSchema,
  raw: ReadonlyMap<string, readonly RawParam[]>,
): P {
  const out: Record<string, unknown> = {};
  for (const [name, settings] of raw) {
    const def = Object.hasOwn(schema, name) ? schema[name] : undefined;
    if (!def) {
      const known = Object.keys(schema);
      throw new ConfigError(
        ErrorCodes.UNKNOWN_PARAM,
        `${moduleName}: unknown parameter "${name}"${at(settings[0]?.where)}${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      );
    }
    const values = settings.map((s) => convert(moduleName, name, def, s));
    if (def.multi) out[name] = values;
    else if (values.length > 0) out[name] = values[values.length - 1];
  }
  for (const [name, def] of Object.entries(schema)) {
    if (name in out) continue;
    const d = defaultOf(def);
    if (def.multi) out[name] = d === undefined ? [] : [d];
    else if (d !== undefined) out[name] = d;
  }
  return out as P;
}

/** Identity helper that types a module descriptor (and checks it against the contract). */
export function defineModule<P = Record<string, unknown>, A = unknown>(m: Module<P, A>): Module<P, A> {
  return m;
}

type ValueOfDef<D> = D extends { type: 'int' } ? number : D extends { type: 'bool' } ? boolean : string;
type Simplify<T> = { -readonly [K in keyof T]: T[K] } & {};
type AlwaysSet<D> = D extends { multi: true } ? true : D extends { default: number | string | boolean } ? true : false;

/**
 * The params a module receives, derived from its schema (declare the schema `as const
 * satisfies ParamSchema`): `int` -> number, `bool` -> boolean, `string` -> string; a `multi`
 * param is an array (empty when never set); a param with a default is always set, one without
 * is optional. So a module writes its params once, in the schema.
 */
export type ParamsOf<S> = Simplify<
  { [K in keyof S as AlwaysSet<S[K]> extends true ? K : never]: S[K] extends { multi: true } ? ValueOfDef<S[K]>[] : ValueOfDef<S[K]> } & {
    [K in keyof S as AlwaysSet<S[K]> extends true ? never : K]?: ValueOfDef<S[K]>;
  }
>;

/** The schema's defaults as a frozen object: what `validateParams` gives when nothing is set. */
export function paramDefaults<S extends ParamSchema>(moduleName: string, schema: S): Readonly<ParamsOf<S>> {
  return Object.freeze(validateParams<ParamsOf<S>>(moduleName, schema, new Map()));
}

/** The five OpenSIPS write params of a stream protocol module, without their `<prefix>_`. */
export type WriteParamName = 'async' | 'send_timeout' | 'async_max_postponed_chunks' | 'async_local_connect_timeout' | 'async_local_write_timeout';
/** `<prefix>_<name>`, or `<name>` for an empty prefix (proto_msrp's `send_timeout`). */
export type WriteParamKey<P extends string, N extends string> = P extends '' ? N : `${P}_${N}`;

/** One write param's definition, as `writeParamSchema` gives it. */
export interface WriteParamDef {
  readonly type: 'int' | 'bool';
  readonly default: number | boolean;
  readonly min?: number;
  readonly unit?: string;
  readonly doc: string;
}
type WriteDefOf<N> = N extends 'async' ? { readonly type: 'bool'; readonly default: boolean; readonly doc: string } : { readonly type: 'int'; readonly default: number; readonly min: number; readonly unit?: string; readonly doc: string };

/** The schema of (some of) a module's write params: `{ tcp_async: ..., tcp_send_timeout: ... }`. */
export type WriteParamSchema<P extends string, N extends WriteParamName = WriteParamName> = { readonly [K in N as WriteParamKey<P, K>]: WriteDefOf<K> };
/** The validated values of those params. */
export type WriteParams<P extends string, N extends WriteParamName = WriteParamName> = ParamsOf<WriteParamSchema<P, N>>;

/** Defaults of the write params where a module differs from proto_tcp's (proto_bin: 1024 chunks). */
export interface WriteParamDefaults {
  async?: boolean;
  sendTimeout?: number;
  maxPostponedChunks?: number;
  localConnectTimeout?: number;
  localWriteTimeout?: number;
}

const WRITE_OPTION_OF = {
  async: 'async',
  send_timeout: 'sendTimeout',
  async_max_postponed_chunks: 'maxPostponedChunks',
  async_local_connect_timeout: 'localConnectTimeout',
  async_local_write_timeout: 'localWriteTimeout',
} as const satisfies Record<WriteParamName, keyof WriteOptions>;
const ALL_WRITE_PARAMS = Object.keys(WRITE_OPTION_OF) as WriteParamName[];

/** proto_tcp's defaults (net/proto_tcp/proto_tcp.c): the engine's when a module has no such param. */
export const WRITE_DEFAULTS: Readonly<Required<WriteParamDefaults>> = Object.freeze({ async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 });

function writeKey(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}_${name}`;
}

/**
 * The schema of a protocol module's write params (OpenSIPS's `<prefix>_async`,
 * `_send_timeout`, `_async_max_postponed_chunks`, `_async_local_connect_timeout`,
 * `_async_local_write_timeout`), with one set of docs and ranges for every module. Spread it
 * into the module's schema: `{ ...writeParamSchema('tcp'), tcp_port: ... }`. `only` keeps the
 * params the module has in OpenSIPS (proto_tls has no `tls_async_local_write_timeout`);
 * `minAsyncPostponedChunks` documents the module's `WriteQuirks` of the same name.
 */
export function writeParamSchema<P extends string, N extends WriteParamName = WriteParamName>(
  prefix: P,
  opts: { defaults?: WriteParamDefaults; only?: readonly N[]; minAsyncPostponedChunks?: number } = {},
): WriteParamSchema<P, N> {
  const d = { ...WRITE_DEFAULTS, ...opts.defaults };
  const defs: Record<WriteParamName, WriteParamDef> = {
    async: { type: 'bool', default: d.async, doc: `queue writes (async) instead of sync writes bounded by ${writeKey(prefix, 'send_timeout')}` },
    send_timeout: { type: 'int', default: d.sendTimeout, min: 1, unit: 'ms', doc: `sync mode${prefix === '' ? '' : ` (${prefix}_async=0)`}: a write not finished within this closes the connection` },
    async_max_postponed_chunks: {
      type: 'int',
      default: d.maxPostponedChunks,
      min: 0,
      doc: `async mode: unflushed chunks a connection may hold before it is closed${opts.minAsyncPostponedChunks ? ` (forced >= ${opts.minAsyncPostponedChunks} when async)` : ''}`,
    },
    async_local_connect_timeout: { type: 'int', default: d.localConnectTimeout, min: 1, unit: 'ms', doc: 'async mode: connect timeout of a new outbound connection (bounded by the profile connect timeout)' },
    async_local_write_timeout: {
      type: 'int',
      default: d.localWriteTimeout,
      min: 1,
      unit: 'ms',
      doc: 'async mode: a write stalled this long becomes postponed (counted in <proto>:postponed_writes; the connection stays open)',
    },
  };
  const out: Record<string, WriteParamDef> = {};
  for (const n of (opts.only ?? ALL_WRITE_PARAMS) as readonly WriteParamName[]) out[writeKey(prefix, n)] = defs[n];
  return out as WriteParamSchema<P, N>;
}

/** Per-module differences in how OpenSIPS reads the write params. */
export interface WriteQuirks {
  /**
   * With async on, a `_async_max_postponed_chunks` below this is raised to it. Only OpenSIPS's
   * proto_tcp forces at least 2 ("one chunk being written plus one queued",
   * net/proto_tcp/proto_tcp.c); proto_tls, proto_hep, proto_bin, proto_bins pass their value
   * as is, so the default is no minimum.
   */
  minAsyncPostponedChunks?: number;
  /** values of the write options the module has no param for (proto_msrp: sync writes only) */
  fixed?: Partial<WriteOptions>;
}

/**
 * Maps a protocol module's validated write params to core-conn's `WriteOptions`: the one place
 * the OpenSIPS `<prefix>_async*` / `<prefix>_send_timeout` params become engine settings.
 * A param the module does not have takes `quirks.fixed`'s value, else proto_tcp's default.
 */
export function writeOptionsOf<P extends string>(prefix: P, params: Partial<WriteParams<P>>, quirks: WriteQuirks = {}): WriteOptions {
  const v = params as Record<string, number | boolean | undefined>;
  const out = { ...WRITE_DEFAULTS, ...quirks.fixed } as Record<keyof WriteOptions, unknown>;
  for (const n of ALL_WRITE_PARAMS) {
    const x = v[writeKey(prefix, n)];
    if (x !== undefined) out[WRITE_OPTION_OF[n]] = x;
  }
  const opts = out as unknown as WriteOptions;
  const min = quirks.minAsyncPostponedChunks ?? 0;
  if (opts.async && opts.maxPostponedChunks < min) opts.maxPostponedChunks = min;
  return opts;
}
