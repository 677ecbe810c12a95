import { hasSpaceOrControl } from './chars.js';
import { MsrpError, MsrpErrorCodes } from './errors.js';
import type { MsrpUrl } from './types.js';

function bad(text: string, why: string): never {
  throw new MsrpError(MsrpErrorCodes.URL, `bad MSRP URL "${text.slice(0, 200)}": ${why}`);
}

const HEX6 = /^[0-9a-fA-F:.]+$/;
const HOSTCHARS = /^[A-Za-z0-9.\-_~%!$&'()*+,=]+$/;

/**
 * Parses one `msrp://` or `msrps://` URL (scheme in any case):
 * `msrp[s]://[user@]host[:port][/session][;params]`. The host may be an IPv6 literal in
 * brackets (returned without them). Throws `ERR_MSRP_URL`.
 */
export function parseUrl(text: string): MsrpUrl {
  const lower = text.slice(0, 8).toLowerCase();
  let secured: boolean;
  let p: number;
  if (lower.startsWith('msrps://')) {
    secured = true;
    p = 8;
  } else if (lower.startsWith('msrp://')) {
    secured = false;
    p = 7;
  } else bad(text, 'the scheme must be msrp:// or msrps://');
  // authority ends at '/' (session) or ';' (params)
  let end = p;
  while (end < text.length && text[end] !== '/' && text[end] !== ';') end++;
  let authority = text.slice(p, end);
  let user: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    user = authority.slice(0, at);
    authority = authority.slice(at + 1);
    if (user === '') bad(text, 'empty userinfo before "@"');
  }
  let host: string;
  let portText = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) bad(text, 'an IPv6 host needs its closing "]"');
    host = authority.slice(1, close);
    if (host === '' || !HEX6.test(host) || !host.includes(':')) bad(text, `"${host}" is not an IPv6 address`);
    const rest = authority.slice(close + 1);
    if (rest !== '') {
      if (rest[0] !== ':') bad(text, 'only ":port" may follow an IPv6 host');
      portText = rest.slice(1);
      if (portText === '') bad(text, 'empty port');
    }
  } else {
    const colon = authority.indexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    if (colon >= 0) {
      portText = authority.slice(colon + 1);
      if (portText === '') bad(text, 'empty port');
    }
    if (host === '') bad(text, 'empty host');
    if (!HOSTCHARS.test(host)) bad(text, `"${host}" is not a host name`);
  }
  let port = 0;
  if (portText !== '') {
    if (!/^[0-9]{1,5}$/.test(portText)) bad(text, `port "${portText}" is not a number`);
    port = Number(portText);
    if (port > 65535) bad(text, `port ${port} > 65535`);
  }
  let session = '';
  let params = '';
  if (text[end] === '/') {
    const semi = text.indexOf(';', end + 1);
    session = semi < 0 ? text.slice(end + 1) : text.slice(end + 1, semi);
    if (semi >= 0) params = text.slice(semi + 1);
  } else if (text[end] === ';') params = text.slice(end + 1);
  if (hasSpaceOrControl(session) || hasSpaceOrControl(params)) bad(text, 'whitespace or a control byte inside');
  const url: MsrpUrl = { whole: text, secured, host, port, session, params };
  if (user !== undefined) url.user = user;
  return url;
}

/**
 * Parses a To-Path / From-Path / Use-Path value: URLs separated by one or more spaces
 * (tabs and CR/LF are not separators). At least one URL. Throws `ERR_MSRP_URL`.
 */
export function parsePath(value: string): MsrpUrl[] {
  const parts = value.split(' ').filter((s) => s !== '');
  if (parts.length === 0) bad(value, 'an empty path');
  return parts.map(parseUrl);
}

/** The top (first) URL of a path, as written, without parsing the rest. */
export function topUrl(value: string): string {
  let i = 0;
  while (value[i] === ' ') i++;
  const sp = value.indexOf(' ', i);
  return sp < 0 ? value.slice(i) : value.slice(i, sp);
}

/** Writes a URL from its parts (IPv6 hosts get their brackets back). */
export function formatUrl(u: Omit<MsrpUrl, 'whole'>): string {
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return (
    `${u.secured ? 'msrps' : 'msrp'}://${u.user !== undefined ? `${u.user}@` : ''}${host}` +
    `${u.port ? `:${u.port}` : ''}${u.session ? `/${u.session}` : ''}${u.params ? `;${u.params}` : ''}`
  );
}
