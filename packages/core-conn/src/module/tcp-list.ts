import { formatAddress } from '../address.js';
import type { ConnectionInfo } from '../types.js';

/**
 * The protocol names OpenSIPS knows (its proto enum), which tcp:list's `proto` filter accepts
 * even when no module of them is loaded (sip-tcp.md §11); anything else is "Bad protocol"
 * unless a loaded module registered it.
 */
export const OPENSIPS_PROTOS: readonly string[] = Object.freeze(['udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'bin', 'bins', 'hep_udp', 'hep_tcp', 'hep_tls', 'msrp', 'msrps', 'smpp', 'ipsec']);

/** One tcp:list entry as ordered [key, value] pairs: OpenSIPS repeats "Alias port", which a JS object cannot. */
export type TcpListEntry = Array<[string, string | number]>;

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local time "YYYY-MM-DD HH:MM:SS", the form OpenSIPS prints a connection's Lifetime in. */
export function formatLocalTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The tcp:list object of a connection, in OpenSIPS's key order: ID, Type, State, Remote,
 * Local (the listener address for accepted connections), Lifetime, then one "Alias port"
 * per alias, then "Profile" (the tcp_mgm rule id) when the connection's profile is not the default
 * one. Serialise with `tcpListJson` to get OpenSIPS's duplicate-key JSON.
 */
export function toTcpListEntry(conn: ConnectionInfo): TcpListEntry {
  const local = conn.accepted && conn.listener ? conn.listener.address : conn.local;
  const e: TcpListEntry = [
    ['ID', conn.id],
    ['Type', conn.proto],
    ['State', conn.state],
    ['Remote', formatAddress(conn.remote)],
    ['Local', formatAddress(local)],
    ['Lifetime', formatLocalTime(conn.lifetime)],
  ];
  for (const a of conn.aliases) e.push(['Alias port', a]);
  // beyond OpenSIPS: the profile a tcp_mgm rule gave the connection (its rule id); absent for
  // the default profile (id 0), so a server without tcp_mgm answers exactly as OpenSIPS does
  if (conn.profile.id !== 0) e.push(['Profile', conn.profile.id]);
  return e;
}

/** `{"Connections":[...]}` exactly as OpenSIPS writes it (duplicate "Alias port" keys included); null when there is no list. */
export function tcpListJson(entries: TcpListEntry[] | null): string {
  if (entries === null) return 'null';
  const objs = entries.map((e) => '{' + e.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}');
  return `{"Connections":[${objs.join(',')}]}`;
}
