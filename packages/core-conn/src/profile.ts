import { ConfigError, ErrorCodes } from './errors.js';
import type { ConnectionProfile } from './types.js';

/** The default profile: OpenSIPS's global tcp_* defaults (sip-tcp.md §10). */
export const DEFAULT_PROFILE: Readonly<ConnectionProfile> = Object.freeze({
  id: 0,
  connectTimeout: 100,
  conLifetime: 120,
  msgReadTimeout: 4,
  sendThreshold: 0,
  noNewConn: false,
  aliasMode: 0,
  parallelRead: 0,
  keepalive: true,
  keepcount: 0,
  keepidle: 0,
  keepinterval: 0,
  attrs: Object.freeze({}) as ConnectionProfile['attrs'],
});

function num(field: string, v: unknown, min: number, max: number, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
    throw new ConfigError(
      ErrorCodes.INVALID_OPTION,
      `profile field "${field}" expects ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Builds a complete profile from a partial one over `base` (default: DEFAULT_PROFILE),
 * validating every range. Timeouts that OpenSIPS keeps in seconds may be fractional here
 * (tests use 0.2 s read timeouts); connectTimeout must be > 0 as tcp_connect_timeout.
 */
export function makeProfile(partial: Partial<ConnectionProfile> = {}, base: ConnectionProfile = DEFAULT_PROFILE): ConnectionProfile {
  const p = { ...base, ...partial, attrs: { ...base.attrs, ...(partial.attrs ?? {}) } };
  num('id', p.id, 0, 2 ** 32 - 1, true);
  num('connectTimeout', p.connectTimeout, 1e-3, 2 ** 31 - 1, false);
  num('conLifetime', p.conLifetime, 0, 2 ** 31 - 1, false);
  num('msgReadTimeout', p.msgReadTimeout, 0, 2 ** 31 - 1, false);
  num('sendThreshold', p.sendThreshold, 0, 2 ** 31 - 1, true);
  num('aliasMode', p.aliasMode, 0, 2, true);
  num('parallelRead', p.parallelRead, 0, 2 ** 31 - 1, true);
  num('keepcount', p.keepcount, 0, 2 ** 31 - 1, true);
  num('keepidle', p.keepidle, 0, 2 ** 31 - 1, true);
  num('keepinterval', p.keepinterval, 0, 2 ** 31 - 1, true);
  if (typeof p.noNewConn !== 'boolean') throw new ConfigError(ErrorCodes.INVALID_OPTION, `profile field "noNewConn" expects a boolean, got ${JSON.stringify(p.noNewConn)}`);
  if (typeof p.keepalive !== 'boolean') throw new ConfigError(ErrorCodes.INVALID_OPTION, `profile field "keepalive" expects a boolean, got ${JSON.stringify(p.keepalive)}`);
  if (p.attrs.maxMsgChunks !== undefined) num('attrs.maxMsgChunks', p.attrs.maxMsgChunks, 0, 2 ** 31 - 1, true);
  if (p.attrs.maxConnectionsPerIp !== undefined) num('attrs.maxConnectionsPerIp', p.attrs.maxConnectionsPerIp, 0, 2 ** 31 - 1, true);
  return p;
}

/** OpenSIPS forces SO_KEEPALIVE on when any of the numeric keepalive knobs is set. */
export function keepaliveOn(p: ConnectionProfile): boolean {
  return p.keepalive || p.keepcount > 0 || p.keepidle > 0 || p.keepinterval > 0;
}

/**
 * One OpenSIPS profile field: its tcp_mgm column, the core global that sets it in the default
 * profile (when there is one), the `ConnectionProfile` field it becomes, and how its value
 * reads (`int`, or `bool`: an INT column where non-zero is true).
 */
export interface OpenSipsProfileField {
  readonly column: string;
  readonly global?: OpenSipsProfileGlobalName;
  readonly field: Exclude<keyof ConnectionProfile, 'id' | 'attrs'>;
  readonly type: 'int' | 'bool';
}

/**
 * The one mapping from OpenSIPS's profile fields (tcp_mgm's columns, the core's `tcp_*`
 * globals, sip-tcp.md §10, tcp-mgm.md §2) to `ConnectionProfile`, in tcp_mgm's column order.
 * Used by `profileFromOpenSips` / `profileFromGlobals`, by x-server for the default profile
 * and by @x/tcp-mgm for its rows.
 */
export const OPENSIPS_PROFILE_FIELDS: readonly OpenSipsProfileField[] = Object.freeze([
  { column: 'connect_timeout', global: 'tcp_connect_timeout', field: 'connectTimeout', type: 'int' },
  { column: 'con_lifetime', global: 'tcp_connection_lifetime', field: 'conLifetime', type: 'int' },
  { column: 'msg_read_timeout', global: 'tcp_max_msg_time', field: 'msgReadTimeout', type: 'int' },
  { column: 'send_threshold', global: 'tcp_threshold', field: 'sendThreshold', type: 'int' },
  { column: 'no_new_conn', field: 'noNewConn', type: 'bool' },
  { column: 'alias_mode', global: 'tcp_accept_aliases', field: 'aliasMode', type: 'int' },
  { column: 'parallel_read', field: 'parallelRead', type: 'int' },
  { column: 'keepalive', global: 'tcp_keepalive', field: 'keepalive', type: 'bool' },
  { column: 'keepcount', global: 'tcp_keepcount', field: 'keepcount', type: 'int' },
  { column: 'keepidle', global: 'tcp_keepidle', field: 'keepidle', type: 'int' },
  { column: 'keepinterval', global: 'tcp_keepinterval', field: 'keepinterval', type: 'int' },
] as const satisfies readonly OpenSipsProfileField[]);

/** OpenSIPS's profile values by tcp_mgm column name (`id` the row id): numbers, bigints (BIGINT columns) or booleans. */
export type OpenSipsProfileValues = Readonly<Record<string, number | bigint | boolean | undefined>>;

function openSipsValue(f: OpenSipsProfileField, name: string, v: number | bigint | boolean): number | boolean {
  const n = typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new ConfigError(ErrorCodes.INVALID_OPTION, `profile field "${name}" expects an integer, got ${JSON.stringify(String(v))}`);
  }
  return f.type === 'bool' ? n !== 0 : n;
}

/**
 * Builds a profile from OpenSIPS's fields by tcp_mgm column name (`connect_timeout`,
 * `con_lifetime`, ..., and `id`) over `base`: OpenSIPS's 0/1 integers become booleans, absent
 * fields keep `base`'s value, and every range is checked by `makeProfile` (a ConfigError names
 * the field). `attrs` are given parsed (tcp_mgm parses its attrs column). With
 * `{ checked: true }` the caller has range-checked every value already (tcp_mgm's row loader,
 * 100k rows): the profile is built and frozen without a second check.
 */
export function profileFromOpenSips(
  values: OpenSipsProfileValues,
  base: ConnectionProfile = DEFAULT_PROFILE,
  opts: { attrs?: ConnectionProfile['attrs']; checked?: boolean } = {},
): ConnectionProfile {
  const out: Record<string, unknown> = { ...base };
  if (values.id !== undefined) out.id = openSipsValue({ column: 'id', field: 'connectTimeout', type: 'int' }, 'id', values.id);
  for (const f of OPENSIPS_PROFILE_FIELDS) {
    const v = values[f.column];
    if (v !== undefined) out[f.field] = openSipsValue(f, f.column, v);
  }
  if (opts.attrs !== undefined) out.attrs = opts.attrs;
  if (opts.checked) return Object.freeze(out) as unknown as ConnectionProfile;
  return makeProfile(out as Partial<ConnectionProfile>, base);
}

/** The core globals that set the default profile (the `global`s of `OPENSIPS_PROFILE_FIELDS`). */
export type OpenSipsProfileGlobalName =
  | 'tcp_connect_timeout'
  | 'tcp_connection_lifetime'
  | 'tcp_max_msg_time'
  | 'tcp_threshold'
  | 'tcp_accept_aliases'
  | 'tcp_keepalive'
  | 'tcp_keepcount'
  | 'tcp_keepidle'
  | 'tcp_keepinterval';
/** Those globals' values (as x-server validates them: numbers, booleans); an object with more keys fits. */
export type OpenSipsProfileGlobals = { readonly [K in OpenSipsProfileGlobalName]?: number | boolean | undefined };

/**
 * The default profile from the core's global `tcp_*` params (`tcp_connect_timeout`,
 * `tcp_connection_lifetime`, `tcp_max_msg_time`, `tcp_threshold`, `tcp_accept_aliases`,
 * `tcp_keepalive`, `tcp_keepcount`, `tcp_keepidle`, `tcp_keepinterval`): absent ones keep
 * `base`'s (OpenSIPS's defaults). Other keys are ignored, so a whole globals object may be given.
 */
export function profileFromGlobals(globals: OpenSipsProfileGlobals, base: ConnectionProfile = DEFAULT_PROFILE): ConnectionProfile {
  const values: Record<string, number | boolean> = {};
  for (const f of OPENSIPS_PROFILE_FIELDS) {
    const v = f.global === undefined ? undefined : (globals as Readonly<Record<string, unknown>>)[f.global];
    if (typeof v === 'number' || typeof v === 'boolean') values[f.column] = v;
  }
  return profileFromOpenSips(values, base);
}
