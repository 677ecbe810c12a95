// A reference model of tcp_mgm's ordering and matching, written from the reference note
// (§5 ordering, §6 matching) with ipaddr.js, sharing no code with src/: rows in, the id of the
// first matching row out.
import ipaddr from 'ipaddr.js';

export interface ModelRow {
  id: number;
  proto: string; // 'any' or a name
  remote_addr: string | null; // 'ip[/len]', 'any' or null
  remote_port: number;
  local_addr: string | null; // a literal IP here (no listener list), 'any' or null
  local_port: number;
  priority: number;
}

interface Prepared {
  row: ModelRow;
  proto: string | null;
  remote: [ipaddr.IPv4 | ipaddr.IPv6, number] | null;
  local: ipaddr.IPv4 | ipaddr.IPv6 | null;
}

function prep(r: ModelRow): Prepared {
  const anyish = (v: string | null): boolean => v === null || v.toLowerCase() === 'any';
  let remote: Prepared['remote'] = null;
  if (!anyish(r.remote_addr)) {
    const s = r.remote_addr!;
    remote = s.includes('/') ? ipaddr.parseCIDR(s) : [ipaddr.parse(s), ipaddr.parse(s).kind() === 'ipv4' ? 32 : 128];
  }
  return { row: r, proto: r.proto.toLowerCase() === 'any' ? null : r.proto.toLowerCase(), remote, local: anyish(r.local_addr) ? null : ipaddr.parse(r.local_addr!) };
}

// "lower value first; specific proto before any; specific remote before any; longer remote mask
// first; specific remote_port before 0; specific local before any; longer local mask first;
// specific local_port before 0" -- then (our documented choice for ties) lower id first.
function before(a: Prepared, b: Prepared): number {
  const keys = (p: Prepared): number[] => [
    p.row.priority,
    p.proto === null ? 1 : 0,
    p.remote === null ? 1 : 0,
    p.remote === null ? 0 : -p.remote[1],
    p.row.remote_port === 0 ? 1 : 0,
    p.local === null ? 1 : 0,
    p.local === null ? 0 : -(p.local.kind() === 'ipv4' ? 32 : 128),
    p.row.local_port === 0 ? 1 : 0,
    p.row.id,
  ];
  const ka = keys(a);
  const kb = keys(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
  return 0;
}

export function modelSort(rows: ModelRow[]): ModelRow[] {
  return rows.map(prep).sort(before).map((p) => p.row);
}

export function modelMatch(rows: ModelRow[], q: { proto: string | null; remote: string; rport: number; local: string; lport: number }): number | undefined {
  const rip = ipaddr.parse(q.remote);
  const lip = ipaddr.parse(q.local);
  for (const p of rows.map(prep).sort(before)) {
    if (p.proto !== null && q.proto !== null && p.proto !== q.proto) continue;
    if (p.row.remote_port !== 0 && p.row.remote_port !== q.rport) continue;
    if (p.row.local_port !== 0 && p.row.local_port !== q.lport) continue;
    if (p.remote && (rip.kind() !== p.remote[0].kind() || !rip.match(p.remote as [ipaddr.IPv4, number]))) continue;
    if (p.local && (lip.kind() !== p.local.kind() || lip.toNormalizedString() !== p.local.toNormalizedString())) continue;
    return p.row.id;
  }
  return undefined;
}
