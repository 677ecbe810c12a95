import { isIP } from 'node:net';
import { ConfigError, ErrorCodes } from './errors.js';
import type { Address, SocketSpec } from './types.js';

/** "ip:port", or "[v6]:port" for IPv6 (the form OpenSIPS prints in tcp:list). */
export function formatAddress(addr: Address): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** Strips the IPv4-mapped prefix a dual-stack socket reports, so lookups by IPv4 literal match. */
export function normalizeHost(host: string): string {
  if (host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) return host.slice(7);
  return host.toLowerCase();
}

const PROTO_RE = /^[a-z][a-z0-9_]*$/i;
const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

function bad(text: string, why: string): ConfigError {
  return new ConfigError(ErrorCodes.BAD_SOCKET_SPEC, `bad socket spec "${text}": ${why}`);
}

function parsePort(text: string, raw: string): number {
  if (!/^\d{1,5}$/.test(raw)) throw bad(text, `port "${raw}" is not a number 0..65535`);
  const n = Number(raw);
  if (n > 65535) throw bad(text, `port ${n} is out of range 0..65535`);
  return n;
}

/** Parses `host[:port]` where host is IPv4, `[IPv6]`, a hostname or `*`. */
function parseHostPort(text: string, hp: string): { host: string; port: number | null } {
  let host: string;
  let rest: string;
  if (hp.startsWith('[')) {
    const end = hp.indexOf(']');
    if (end < 0) throw bad(text, `missing "]" in "${hp}"`);
    host = hp.slice(1, end);
    if (isIP(host) !== 6) throw bad(text, `"${host}" is not an IPv6 address`);
    rest = hp.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad(text, `unexpected "${rest}" after "]"`);
    rest = rest.slice(1);
    if (hp.endsWith(']')) rest = '';
    else if (rest === '') throw bad(text, 'empty port after ":"');
  } else {
    const colons = hp.split(':').length - 1;
    if (colons > 1) throw bad(text, `IPv6 address "${hp}" must be written in brackets, e.g. [::1]:5060`);
    const i = hp.indexOf(':');
    host = i < 0 ? hp : hp.slice(0, i);
    rest = i < 0 ? '' : hp.slice(i + 1);
    if (i >= 0 && rest === '') throw bad(text, 'empty port after ":"');
    if (host === '') throw bad(text, 'missing host');
    if (host !== '*' && isIP(host) !== 4 && !HOSTNAME_RE.test(host)) {
      throw bad(text, `"${host}" is neither an IPv4 address, a [IPv6] address, a hostname nor "*"`);
    }
  }
  return { host: host.toLowerCase(), port: rest === '' ? null : parsePort(text, rest) };
}

/**
 * Parses an opensips.cfg socket: `proto:host[:port] [as host[:port]] [tag name]`.
 * `defaultPortOf(proto)` fills a missing port (null = keep null: the protocol requires one).
 */
export function parseSocketSpec(text: string, defaultPortOf?: (proto: string) => number | null): SocketSpec {
  const tokens = text.trim().split(/\s+/).filter((t) => t !== '');
  const first = tokens[0];
  if (first === undefined) throw bad(text, 'empty');
  const c = first.indexOf(':');
  if (c <= 0) throw bad(text, 'expected proto:host[:port], e.g. tcp:127.0.0.1:5060');
  const proto = first.slice(0, c).toLowerCase();
  if (!PROTO_RE.test(proto)) throw bad(text, `"${proto}" is not a protocol name`);
  const main = parseHostPort(text, first.slice(c + 1));
  const spec: SocketSpec = { proto, host: main.host, port: main.port };
  if (spec.port === null && defaultPortOf) spec.port = defaultPortOf(proto);
  for (let i = 1; i < tokens.length; i++) {
    const kw = tokens[i]!.toLowerCase();
    const arg = tokens[i + 1];
    if (kw === 'as') {
      if (arg === undefined) throw bad(text, '"as" needs host[:port]');
      if (spec.advertised) throw bad(text, '"as" given twice');
      const adv = parseHostPort(text, arg);
      if (adv.host === '*') throw bad(text, 'the advertised host cannot be "*"');
      spec.advertised = adv;
      i++;
    } else if (kw === 'tag') {
      if (arg === undefined || !/^[\w.-]+$/.test(arg)) throw bad(text, '"tag" needs a name of letters, digits, "_", "-" or "."');
      if (spec.tag !== undefined) throw bad(text, '"tag" given twice');
      spec.tag = arg;
      i++;
    } else {
      throw bad(text, `unknown option "${tokens[i]!}" (expected "as host[:port]" or "tag name")`);
    }
  }
  return spec;
}
