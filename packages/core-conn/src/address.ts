import { isIP } from 'node:net';
import { brandError, clipText, ConfigError, ErrorCodes } from './errors.js';
import type { Address, SocketOptions, SocketSpec } from './types.js';

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
const NAME_RE = /^[\w.-]+$/;

/**
 * A socket spec that does not parse (code `ERR_BAD_SOCKET_SPEC`). `offset` is the index, in
 * the text given to `parseSocketSpec`, of the word at fault (0 for the whole spec), so a
 * config reader can point at its column.
 */
export class SocketSpecError extends ConfigError {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(ErrorCodes.BAD_SOCKET_SPEC, message);
    this.offset = offset;
  }
}
brandError(SocketSpecError, '@x/core-conn:SocketSpecError');

function bad(text: string, why: string, offset = 0): SocketSpecError {
  return new SocketSpecError(`bad socket spec "${clipText(text)}": ${why}`, offset);
}

function parsePort(text: string, raw: string, at: number): number {
  if (!/^\d{1,5}$/.test(raw)) throw bad(text, `port "${raw}" is not a number 0..65535`, at);
  const n = Number(raw);
  if (n > 65535) throw bad(text, `port ${n} is out of range 0..65535`, at);
  return n;
}

/** Parses `host[:port]` where host is IPv4, `[IPv6]`, a hostname or `*`; `at`: its offset in `text`. */
function parseHostPort(text: string, hp: string, at: number): { host: string; port: number | null } {
  let host: string;
  let rest: string;
  if (hp.startsWith('[')) {
    const end = hp.indexOf(']');
    if (end < 0) throw bad(text, `missing "]" in "${clipText(hp)}"`, at);
    host = hp.slice(1, end);
    if (isIP(host) !== 6) throw bad(text, `"${clipText(host)}" is not an IPv6 address`, at);
    rest = hp.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad(text, `unexpected "${rest}" after "]"`, at);
    rest = rest.slice(1);
    if (hp.endsWith(']')) rest = '';
    else if (rest === '') throw bad(text, 'empty port after ":"', at);
  } else {
    const colons = hp.split(':').length - 1;
    if (colons > 1) throw bad(text, `IPv6 address "${clipText(hp)}" must be written in brackets, e.g. [::1]:5060`, at);
    const i = hp.indexOf(':');
    host = i < 0 ? hp : hp.slice(0, i);
    rest = i < 0 ? '' : hp.slice(i + 1);
    if (i >= 0 && rest === '') throw bad(text, 'empty port after ":"', at);
    if (host === '') throw bad(text, 'missing host', at);
    // all digits and dots is an IPv4 address or nothing (no top-level domain is numeric):
    // tcp:999.1.1.1 is refused here, not at start-up
    if (/^[\d.]+$/.test(host) && isIP(host) !== 4) throw bad(text, `"${clipText(host)}" is not a valid IPv4 address (four numbers 0..255)`, at);
    if (host !== '*' && isIP(host) !== 4 && !HOSTNAME_RE.test(host)) {
      throw bad(text, `"${clipText(host)}" is neither an IPv4 address, a [IPv6] address, a hostname nor "*"`, at);
    }
  }
  return { host: host.toLowerCase(), port: rest === '' ? null : parsePort(text, rest, at + hp.length - rest.length) };
}

type OptionKey = keyof SocketOptions;
type OptionArg = 'flag' | 'positive-int' | 'name' | 'tos';

/**
 * The OpenSIPS 4.0 socket options `parseSocketSpec` accepts besides `as` and `tag`: the cfg
 * keyword, the `SocketOptions` key it fills and the argument it takes.
 */
export const SOCKET_OPTIONS: ReadonlyArray<{ readonly keyword: string; readonly key: OptionKey; readonly arg: OptionArg }> = [
  { keyword: 'use_workers', key: 'useWorkers', arg: 'positive-int' },
  { keyword: 'use_auto_scaling_profile', key: 'autoScalingProfile', arg: 'name' },
  { keyword: 'anycast', key: 'anycast', arg: 'flag' },
  { keyword: 'frag', key: 'frag', arg: 'flag' },
  { keyword: 'reuse_port', key: 'reusePort', arg: 'flag' },
  { keyword: 'tos', key: 'tos', arg: 'tos' },
  { keyword: 'accept_subdomain', key: 'acceptSubdomain', arg: 'flag' },
  { keyword: 'proxy_protocol', key: 'proxyProtocol', arg: 'flag' },
  { keyword: 'allow_proxy_protocol', key: 'allowProxyProtocol', arg: 'flag' },
  { keyword: 'send_proxy_protocol', key: 'sendProxyProtocol', arg: 'flag' },
];
const OPTION_BY_KEYWORD = new Map(SOCKET_OPTIONS.map((o) => [o.keyword, o]));
const ARG_HINT: Record<OptionArg, string> = { flag: '', 'positive-int': ' N', name: ' name', tos: ' N' };
const ACCEPTED = ['as host[:port]', 'tag name', ...SOCKET_OPTIONS.map((o) => o.keyword + ARG_HINT[o.arg])].join(', ');

/** Splits on blanks, keeping each word's offset in the text. */
function words(text: string): Array<{ w: string; at: number }> {
  const out: Array<{ w: string; at: number }> = [];
  for (const m of text.matchAll(/\S+/g)) out.push({ w: m[0], at: m.index });
  return out;
}

/** The argument of a non-flag option, checked. */
function optionValue(text: string, kw: string, arg: Exclude<OptionArg, 'flag'>, raw: string | undefined, at: number): number | string {
  const found = raw === undefined ? 'nothing' : `"${clipText(raw)}"`;
  switch (arg) {
    case 'positive-int': {
      const n = raw !== undefined && /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
      if (!(n >= 1 && n <= 0x7fffffff)) throw bad(text, `"${kw}" needs a positive integer, found ${found}`, at);
      return n;
    }
    case 'tos': {
      const n = raw === undefined ? NaN : /^\d{1,3}$/.test(raw) ? Number(raw) : /^0x[0-9a-f]{1,2}$/i.test(raw) ? Number.parseInt(raw.slice(2), 16) : NaN;
      if (!(n >= 0 && n <= 255)) throw bad(text, `"${kw}" needs an integer 0..255 (decimal or 0x hex, e.g. tos 0x10), found ${found}`, at);
      return n;
    }
    case 'name': {
      const m = raw === undefined ? null : /^(["']?)([\w.-]+)\1$/.exec(raw);
      if (!m) throw bad(text, `"${kw}" needs a name of letters, digits, "_", "-" or ".", found ${found}`, at);
      return m[2]!;
    }
  }
}

/**
 * Parses an opensips.cfg socket: `proto:host[:port] [as host[:port]] [tag name] [option...]`,
 * the options (any order, each at most once) being those of `SOCKET_OPTIONS`:
 * `use_workers N`, `use_auto_scaling_profile name`, `anycast`, `frag`, `reuse_port`,
 * `tos N`, `accept_subdomain`, `proxy_protocol`, `allow_proxy_protocol`, `send_proxy_protocol`
 * (keywords case-insensitive). They are recorded in `spec.options`.
 * `defaultPortOf(proto)` fills a missing port (null = keep null: the protocol requires one).
 * Throws a `SocketSpecError` (code `ERR_BAD_SOCKET_SPEC`) naming what is wrong.
 */
export function parseSocketSpec(text: string, defaultPortOf?: (proto: string) => number | null): SocketSpec {
  const tokens = words(text);
  const first = tokens[0];
  if (first === undefined) throw bad(text, 'empty');
  const c = first.w.indexOf(':');
  if (c <= 0) throw bad(text, 'expected proto:host[:port], e.g. tcp:127.0.0.1:5060', first.at);
  const proto = first.w.slice(0, c).toLowerCase();
  if (!PROTO_RE.test(proto)) throw bad(text, `"${proto}" is not a protocol name`, first.at);
  const main = parseHostPort(text, first.w.slice(c + 1), first.at + c + 1);
  const spec: SocketSpec = { proto, host: main.host, port: main.port };
  if (spec.port === null && defaultPortOf) spec.port = defaultPortOf(proto);
  const options: SocketOptions = {};
  for (let i = 1; i < tokens.length; i++) {
    const { w, at } = tokens[i]!;
    const kw = w.toLowerCase();
    const next = tokens[i + 1];
    const arg = next?.w;
    const argAt = next?.at ?? text.trimEnd().length;
    if (kw === 'as') {
      if (arg === undefined) throw bad(text, '"as" needs host[:port]', argAt);
      if (spec.advertised) throw bad(text, '"as" given twice', at);
      const adv = parseHostPort(text, arg, argAt);
      if (adv.host === '*') throw bad(text, 'the advertised host cannot be "*"', argAt);
      spec.advertised = adv;
      i++;
    } else if (kw === 'tag') {
      if (arg === undefined || !NAME_RE.test(arg)) throw bad(text, '"tag" needs a name of letters, digits, "_", "-" or "."', argAt);
      if (spec.tag !== undefined) throw bad(text, '"tag" given twice', at);
      spec.tag = arg;
      i++;
    } else {
      const o = OPTION_BY_KEYWORD.get(kw);
      if (!o) throw bad(text, `unknown option "${clipText(w)}" (expected ${ACCEPTED})`, at);
      if (options[o.key] !== undefined) throw bad(text, `"${o.keyword}" given twice`, at);
      if (o.arg === 'flag') (options as Record<string, unknown>)[o.key] = true;
      else {
        (options as Record<string, unknown>)[o.key] = optionValue(text, o.keyword, o.arg, arg, argAt);
        i++;
      }
    }
  }
  if (Object.keys(options).length > 0) spec.options = options;
  return spec;
}

function formatHostPort(hp: { host: string; port: number | null }): string {
  const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
  return hp.port === null ? host : `${host}:${hp.port}`;
}

/**
 * Writes a spec back in the cfg form `parseSocketSpec` reads (options in `SOCKET_OPTIONS`
 * order): `parseSocketSpec(formatSocketSpec(s))` equals `s` for any spec it returned.
 */
export function formatSocketSpec(spec: SocketSpec): string {
  let out = `${spec.proto}:${formatHostPort(spec)}`;
  if (spec.advertised) out += ` as ${formatHostPort(spec.advertised)}`;
  if (spec.tag !== undefined) out += ` tag ${spec.tag}`;
  for (const o of SOCKET_OPTIONS) {
    const v = spec.options?.[o.key];
    if (v === undefined) continue;
    out += o.arg === 'flag' ? ` ${o.keyword}` : ` ${o.keyword} ${String(v)}`;
  }
  return out;
}
