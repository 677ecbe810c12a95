import { clipText, ConfigError, ErrorCodes } from '../errors.js';
import type { Module, ParamDef, ParamSchema } from './contract.js';

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
