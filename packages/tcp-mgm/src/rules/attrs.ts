import { TcpMgmError, TcpMgmErrorCodes } from '../errors.js';
/**
 * The `attrs` column: `name=value;name=value` (the tcp_mgm blog's `max_msg_chunks=10;foo=20`).
 *
 * OpenSIPS's own loader compares the whole token, `=value` included, with the attribute names,
 * so `max_msg_chunks=8` is rejected there and only a bare `max_msg_chunks` (value 0) passes
 * (reference note §4). We implement the documented intent instead:
 *  - tokens are split on `;`, blanks around names and values are trimmed, empty tokens ignored;
 *  - `max_msg_chunks=N` (N an integer >= 0) overrides the protocol's chunk limit;
 *  - `parallel_read=N` (0..2) is the version-1 column carried in a version-2 table's attrs;
 *  - `max_connections_per_ip=N` (N >= 0) overrides the global tcp_max_connections_per_ip for
 *    connections accepted from matching addresses (0: no cap), an @x addition;
 *  - any other `name=value` stays readable by modules: an integer value as a number, anything
 *    else as its text; a bare `name` is `true`;
 *  - a known name without a valid value, or the same name twice, is an error (the row is skipped).
 */
export interface ParsedAttrs {
  /** max_msg_chunks, when set */
  maxMsgChunks?: number;
  /** parallel_read, when set */
  parallelRead?: number;
  /** max_connections_per_ip, when set (0: no per-address cap for matching connections) */
  maxConnectionsPerIp?: number;
  /** every other attribute, by name */
  extra: Record<string, number | string | true>;
}

const INT_RE = /^[+-]?\d+$/;
const NAME_RE = /^[A-Za-z_][\w.-]*$/;

/** The numeric attributes this package knows, with their range. */
export const KNOWN_ATTRS: Readonly<Record<string, { min: number; max: number; doc: string }>> = {
  max_msg_chunks: { min: 0, max: 2 ** 31 - 1, doc: "overrides the protocol's *_max_msg_chunks for matching connections" },
  parallel_read: { min: 0, max: 2, doc: 'the version-1 parallel_read column, for version-2 tables' },
  max_connections_per_ip: { min: 0, max: 2 ** 31 - 1, doc: 'overrides tcp_max_connections_per_ip for connections accepted from matching addresses (0: no cap)' },
};

/** Parses an attrs value (null/empty = none). Throws an Error whose message is the reason. */
export function parseAttrs(text: string | null | undefined): ParsedAttrs {
  const out: ParsedAttrs = { extra: {} };
  if (text === null || text === undefined) return out;
  const seen = new Set<string>();
  for (const raw of text.split(';')) {
    const tok = raw.trim();
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    const name = (eq < 0 ? tok : tok.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : tok.slice(eq + 1).trim();
    if (!NAME_RE.test(name)) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `attrs: bad attribute name "${name}" in "${text}"`);
    const key = name.toLowerCase();
    if (seen.has(key)) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `attrs: "${name}" is set twice`);
    seen.add(key);
    const known = KNOWN_ATTRS[key];
    if (known) {
      if (value === undefined || !INT_RE.test(value)) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `attrs: "${name}" needs an integer value (${name}=N), got ${value === undefined ? 'none' : `"${value}"`}`);
      const n = Number(value);
      if (n < known.min || n > known.max) throw new TcpMgmError(TcpMgmErrorCodes.BAD_VALUE, `attrs: ${name}=${value} is out of range ${known.min}..${known.max}`);
      if (key === 'max_msg_chunks') out.maxMsgChunks = n;
      else if (key === 'max_connections_per_ip') out.maxConnectionsPerIp = n;
      else out.parallelRead = n;
      continue;
    }
    if (value === undefined) out.extra[name] = true;
    else if (INT_RE.test(value) && Number.isSafeInteger(Number(value))) out.extra[name] = Number(value);
    else out.extra[name] = value;
  }
  return out;
}
