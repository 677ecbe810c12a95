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
  return p;
}

/** OpenSIPS forces SO_KEEPALIVE on when any of the numeric keepalive knobs is set. */
export function keepaliveOn(p: ConnectionProfile): boolean {
  return p.keepalive || p.keepcount > 0 || p.keepidle > 0 || p.keepinterval > 0;
}
