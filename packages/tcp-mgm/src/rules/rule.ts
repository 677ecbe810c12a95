import { DEFAULT_PROFILE, OPENSIPS_PROFILE_FIELDS, profileFromOpenSips, type ConnectionProfile, type ListenerInfo } from '@x/core-conn';
import { RowError } from '../errors.js';
import { parseAttrs, type ParsedAttrs } from './attrs.js';
import { maskWords, parseCidr, parseIp, type IpWords } from './ip.js';

/** The columns of a version-2 tcp_mgm table (OpenSIPS master / 4.0), in OpenSIPS's read order. */
export const COLUMNS_V2 = [
  'id', 'proto', 'remote_addr', 'remote_port', 'local_addr', 'local_port', 'priority', 'attrs',
  'connect_timeout', 'con_lifetime', 'msg_read_timeout', 'send_threshold', 'no_new_conn', 'alias_mode',
  'keepalive', 'keepcount', 'keepidle', 'keepinterval',
] as const;
/** Version 1 (OpenSIPS 3.6.x): one more column, parallel_read, after alias_mode. */
export const COLUMNS_V1 = [
  'id', 'proto', 'remote_addr', 'remote_port', 'local_addr', 'local_port', 'priority', 'attrs',
  'connect_timeout', 'con_lifetime', 'msg_read_timeout', 'send_threshold', 'no_new_conn', 'alias_mode',
  'parallel_read', 'keepalive', 'keepcount', 'keepidle', 'keepinterval',
] as const;
export type ColumnName = (typeof COLUMNS_V1)[number];

/** One row as read from the table: values as the driver gives them (number, bigint, string, null). */
export type TcpMgmRow = { [K in ColumnName]?: unknown };

/** The protocols a rule may name: OpenSIPS's TCP-based ones (udp, sctp and hep_udp are refused). */
export const RULE_PROTOS: readonly string[] = ['tcp', 'tls', 'ws', 'wss', 'bin', 'bins', 'hep_tcp', 'hep_tls', 'msrp', 'msrps', 'smpp'];
const REFUSED_PROTOS = new Set(['udp', 'sctp', 'hep_udp']);

/** A validated rule ("TCP path"). `remote`/`local` null = any. */
export interface TcpPath {
  /** the row id, which becomes the profile id */
  readonly id: number;
  /** lower-case protocol name; null = any */
  readonly proto: string | null;
  /** remote network; null = any */
  readonly remote: { readonly family: 4 | 6; readonly prefix: number; readonly net: readonly number[]; readonly mask: readonly number[]; readonly text: string } | null;
  /** 0 = any */
  readonly remotePort: number;
  /** the listener IP this rule is bound to (exact match); null = any */
  readonly local: { readonly family: 4 | 6; readonly words: readonly number[]; readonly text: string; readonly listener: string } | null;
  /** 0 = any */
  readonly localPort: number;
  /** lower first */
  readonly priority: number;
  /** the attrs column as written */
  readonly attrsText: string | null;
  /** what a matching connection gets */
  readonly profile: ConnectionProfile;
}

/** What a row is checked against. */
export interface CompileContext {
  /** table version: 1 has parallel_read as a column */
  version: 1 | 2;
  /**
   * The listeners a non-any local_addr must name (by address, as written, advertised, or by tag
   * when local_port is 0). Without a list, local_addr must be a literal IP (taken as is).
   */
  listeners?: readonly ListenerInfo[];
}

function isSpecified(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const t = v.trim();
  return t !== '' && (t.length !== 3 || t.toLowerCase() !== 'any');
}

function intCol(row: TcpMgmRow, col: ColumnName, id: number | undefined, min: number, max: number): number {
  const v = row[col];
  if (v === null || v === undefined) throw new RowError(id, `column ${col} is NULL, which is not allowed`);
  let n: number;
  if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'number' && Number.isInteger(v)) n = v;
  else {
    const shown = typeof v === 'string' || typeof v === 'number' ? JSON.stringify(String(v)) : `(${typeof v})`;
    throw new RowError(id, `column ${col}: bad value type (${typeof v === 'number' ? 'a non-integer number' : typeof v} ${shown}), need an integer`);
  }
  if (n < min || n > max) throw new RowError(id, `column ${col}: ${n} is out of range ${min}..${max}`);
  return n;
}

function strCol(row: TcpMgmRow, col: ColumnName, id: number | undefined, nullable: boolean): string | null {
  const v = row[col];
  if (v === null || v === undefined) {
    if (!nullable) throw new RowError(id, `column ${col} is NULL, which is not allowed`);
    return null;
  }
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw new RowError(id, `column ${col}: bad value type (${typeof v}), need a string`);
}

const EMPTY_ATTRS: ConnectionProfile['attrs'] = Object.freeze({});
/** a NULL or empty attrs column: nothing to parse, nothing to allocate */
const NO_ATTRS: ParsedAttrs = Object.freeze({ extra: Object.freeze({}) as ParsedAttrs['extra'] });
const U32 = 2 ** 32 - 1;
const I32 = 2 ** 31 - 1;

/** The listener whose address a local_addr value names, as OpenSIPS's grep_internal_sock_info finds it. */
export function findListener(listeners: readonly ListenerInfo[], name: string, port: number, proto: string | null): ListenerInfo | undefined {
  let host = name.trim();
  if (host.length > 2 && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const lower = host.toLowerCase();
  const ip = parseIp(lower);
  for (const l of listeners) {
    if (proto !== null && l.proto !== proto) continue;
    if (port === 0 && l.tag !== undefined && l.tag.toLowerCase() === lower) return l;
    const adv = l.spec.advertised;
    if (port !== 0 && l.address.port !== port && (adv?.port ?? -1) !== port) continue;
    if (l.spec.host.toLowerCase() === lower || (adv && adv.host.toLowerCase() === lower)) return l;
    if (ip) {
      const la = parseIp(l.address.host);
      if (la && la.family === ip.family && la.words.every((w, i) => w === ip.words[i])) return l;
      const aa = adv ? parseIp(adv.host) : undefined;
      if (aa && aa.family === ip.family && aa.words.every((w, i) => w === ip.words[i])) return l;
    }
  }
  return undefined;
}

/**
 * Validates one row as OpenSIPS's tcp_store_path does (reference note §4) and builds its rule.
 * Throws a RowError naming the id and the reason.
 */
export function compileRow(row: TcpMgmRow, ctx: CompileContext): TcpPath {
  const idRaw = row.id;
  const idGuess = typeof idRaw === 'number' || typeof idRaw === 'bigint' ? Number(idRaw) : undefined;
  const id = intCol(row, 'id', idGuess, 0, U32);

  const protoText = strCol(row, 'proto', id, false)!.trim().toLowerCase();
  let proto: string | null;
  if (protoText === 'any') proto = null;
  else if (REFUSED_PROTOS.has(protoText)) throw new RowError(id, `proto "${protoText}" is not a TCP-based protocol`);
  else if (!RULE_PROTOS.includes(protoText)) throw new RowError(id, `unknown proto "${protoText}" (any, ${RULE_PROTOS.join(', ')})`);
  else proto = protoText;

  const remoteText = strCol(row, 'remote_addr', id, true);
  let remote: TcpPath['remote'] = null;
  if (isSpecified(remoteText)) {
    try {
      const c = parseCidr(remoteText);
      remote = { family: c.family, prefix: c.prefix, net: c.net, mask: maskWords(c.family, c.prefix), text: remoteText.trim() };
    } catch (err) {
      throw new RowError(id, `remote_addr ${(err as Error).message}`);
    }
  }
  const remotePort = intCol(row, 'remote_port', id, 0, 65535);
  const localPort = intCol(row, 'local_port', id, 0, 65535);

  const localText = strCol(row, 'local_addr', id, true);
  let local: TcpPath['local'] = null;
  if (isSpecified(localText)) {
    let words: IpWords | undefined;
    let listenerName = localText.trim();
    if (ctx.listeners) {
      const l = findListener(ctx.listeners, localText, localPort, proto);
      if (!l) {
        throw new RowError(id, `local_addr "${localText}"${localPort ? ` port ${localPort}` : ''} matches no ${proto ?? ''}${proto ? ' ' : ''}listener (a listener address or, with local_port 0, a socket tag)`);
      }
      words = parseIp(l.address.host);
      listenerName = `${l.proto}:${l.address.host.includes(':') ? `[${l.address.host}]` : l.address.host}:${l.address.port}`;
    } else {
      const t = localText.trim();
      words = parseIp(t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t);
      if (!words) throw new RowError(id, `local_addr "${localText}" is not an IP address (no listener list to resolve names and tags against)`);
    }
    if (!words) throw new RowError(id, `local_addr "${localText}": the listener's address is not an IP`);
    local = { family: words.family, words: words.words, text: localText.trim(), listener: listenerName };
  }
  if (remote && local && remote.family !== local.family) {
    throw new RowError(id, `IP family mismatch: remote_addr "${remote.text}" is IPv${remote.family}, local_addr "${local.text}" is IPv${local.family}`);
  }

  const priority = intCol(row, 'priority', id, -(2 ** 31), I32);
  const attrsText = strCol(row, 'attrs', id, true);
  let attrs: ParsedAttrs = NO_ATTRS;
  if (attrsText !== null && attrsText !== '') {
    try {
      attrs = parseAttrs(attrsText);
    } catch (err) {
      throw new RowError(id, (err as Error).message);
    }
  }
  const aliasMode = intCol(row, 'alias_mode', id, 0, I32);
  if (aliasMode > 2) throw new RowError(id, `alias_mode ${aliasMode} is invalid (0 never, 1 RFC 5923 Via alias, 2 always)`);
  let parallelRead = attrs.parallelRead ?? 0;
  if (ctx.version === 1) {
    const col = intCol(row, 'parallel_read', id, 0, I32);
    if (col > 2) throw new RowError(id, `parallel_read ${col} is invalid (0..2)`);
    if (attrs.parallelRead !== undefined && attrs.parallelRead !== col) throw new RowError(id, `parallel_read is ${col} in its column and ${attrs.parallelRead} in attrs`);
    parallelRead = col;
  }
  const connectTimeout = intCol(row, 'connect_timeout', id, 0, I32);
  if (connectTimeout === 0) throw new RowError(id, 'connect_timeout must be > 0 ms');
  // every value is range-checked above, so the profile is built directly (makeProfile's checks
  // would repeat them, and a 100k-row load should not allocate twice per row)
  let profileAttrs: ConnectionProfile['attrs'] = EMPTY_ATTRS;
  if (attrs !== NO_ATTRS && (attrs.maxMsgChunks !== undefined || attrs.maxConnectionsPerIp !== undefined || Object.keys(attrs.extra).length > 0)) {
    profileAttrs = { ...attrs.extra };
    if (attrs.maxMsgChunks !== undefined) profileAttrs.maxMsgChunks = attrs.maxMsgChunks;
    if (attrs.maxConnectionsPerIp !== undefined) profileAttrs.maxConnectionsPerIp = attrs.maxConnectionsPerIp;
    Object.freeze(profileAttrs);
  }
  // the other profile columns, in tcp_mgm's order, through core-conn's one mapping of
  // OpenSIPS's profile fields (0/1 columns become booleans); every value is range-checked here
  const values: Record<string, number> = { id, connect_timeout: connectTimeout, alias_mode: aliasMode, parallel_read: parallelRead };
  for (const f of OPENSIPS_PROFILE_FIELDS) {
    if (values[f.column] === undefined) values[f.column] = intCol(row, f.column as ColumnName, id, 0, f.type === 'bool' ? U32 : I32);
  }
  const profile = profileFromOpenSips(values, DEFAULT_PROFILE, { attrs: profileAttrs, checked: true });
  return { id, proto, remote, remotePort, local, localPort, priority, attrsText, profile };
}
