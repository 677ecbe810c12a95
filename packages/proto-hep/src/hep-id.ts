import { HepError, HepErrorCodes } from './codec/errors.js';

export interface HepDestination {
  name: string;
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  version: 1 | 2 | 3;
}

/**
 * OpenSIPS's start-up rule for proto_hep's sockets (hep.md §1, §5), given the protocols of the
 * sockets there are: at least one hep_udp or hep_tcp socket, and a hep_udp one to send from for
 * every udp destination (tcp destinations connect from any address). Returns the first breach
 * (`destination`: the udp one that has no hep_udp socket), undefined when the sockets suffice.
 */
export function missingHepSocket(protos: Iterable<string>, destinations: Iterable<HepDestination>): { destination?: HepDestination } | undefined {
  let udp = false;
  let tcp = false;
  for (const p of protos) {
    if (p === 'hep_udp') udp = true;
    else if (p === 'hep_tcp') tcp = true;
  }
  if (!udp && !tcp) return {};
  if (udp) return undefined;
  for (const d of destinations) if (d.transport === 'udp') return { destination: d };
  return undefined;
}

function bad(def: string, why: string): never {
  throw new HepError(HepErrorCodes.BAD_HEP_ID, `bad hep_id ${JSON.stringify(def)}: ${why}`);
}

/**
 * Parses `[name] host[:port] [; transport=udp|tcp] [; version=1|2|3]` (hep.md §5).
 * Default port: `defaultPort` (9060, OpenSIPS's HEP_PORT); version 3; transport tcp.
 * Version 1/2 with tcp falls back to udp (OpenSIPS warns and does the same); `onWarn` hears it.
 * tls is not supported by this package (no hep_tls) and is refused.
 */
export function parseHepId(def: string, defaultPort = 9060, onWarn?: (msg: string) => void): HepDestination {
  const m = /^\s*\[([^\]]*)\]\s*([^;]*?)\s*(;.*)?$/s.exec(def);
  if (!m) bad(def, 'expected "[name] host[:port]"');
  const name = m[1]!.trim();
  if (!name) bad(def, 'empty name');
  const hp = m[2]!;
  if (!hp) bad(def, 'missing host');
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(hp);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else {
    const parts = hp.split(':');
    if (parts.length > 2) {
      host = hp; // a bare IPv6 literal
    } else {
      host = parts[0]!;
      portText = parts[1];
    }
  }
  if (!host || /\s/.test(host)) bad(def, `bad host ${JSON.stringify(host)}`);
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || +portText < 1 || +portText > 65535) bad(def, `bad port ${JSON.stringify(portText)}`);
    port = +portText;
  }
  let transport: 'udp' | 'tcp' = 'tcp';
  let version: 1 | 2 | 3 = 3;
  const seen = new Set<string>();
  for (const raw of (m[3] ?? '').split(';')) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) bad(def, `expected key=value, got ${JSON.stringify(item)}`);
    const key = item.slice(0, eq).trim();
    const val = item.slice(eq + 1).trim();
    if (seen.has(key)) bad(def, `"${key}" given twice`);
    seen.add(key);
    if (key === 'transport') {
      const t = val.toLowerCase();
      if (t === 'tls') bad(def, 'transport=tls needs hep_tls, which @x/proto-hep does not provide');
      if (t !== 'udp' && t !== 'tcp') bad(def, `transport must be udp or tcp, got ${JSON.stringify(val)}`);
      transport = t;
    } else if (key === 'version') {
      if (val !== '1' && val !== '2' && val !== '3') bad(def, `version must be 1, 2 or 3, got ${JSON.stringify(val)}`);
      version = +val as 1 | 2 | 3;
    } else bad(def, `unknown key ${JSON.stringify(key)}`);
  }
  if (version !== 3 && transport === 'tcp') {
    if (seen.has('transport')) onWarn?.(`hep_id [${name}]: HEPv${version} cannot be sent over tcp, using udp`);
    transport = 'udp';
  }
  return { name, host, port, transport, version };
}
