import type { Address } from '@x/core-conn';
import { parseIp, type IpWords } from './ip.js';
import { comparePaths } from './order.js';
import type { TcpPath } from './rule.js';

/** A lookup: the connection's protocol (null/'any' = unspecified: rules of every proto apply), remote and local address. */
export interface PathQuery {
  proto: string | null | undefined;
  remote: Address;
  local: Address;
}

/** Rules of one prefix length of one family, keyed by masked network; the value is the best rank. */
interface PrefixGroup {
  prefix: number;
  mask: readonly number[];
  minRank: number;
  map: Map<number | string, number>;
}

/** Rules that share a shape's exact-match key (proto, ports, local), split by remote network. */
interface RemoteTable {
  minRank: number;
  /** best rank of a remote-any rule; Infinity when none */
  any: number;
  v4: PrefixGroup[];
  v6: PrefixGroup[];
}

/** Exact-match levels: proto ('' = any) -> remote_port (0 = any) -> local IP ('' = any) -> local_port (0 = any). */
interface Level<K, V> {
  minRank: number;
  next: Map<K, V>;
}
type LocalPortLevel = Level<number, RemoteTable>;
type LocalLevel = Level<string, LocalPortLevel>;
type RemotePortLevel = Level<number, LocalLevel>;

function wordsKey(family: 4 | 6, words: readonly number[]): string {
  return family === 4 ? String(words[0]) : `${words[0]}:${words[1]}:${words[2]}:${words[3]}`;
}

function child<K, V extends { minRank: number }>(level: Level<K, V>, key: K, rank: number, make: () => V): V {
  let v = level.next.get(key);
  if (!v) level.next.set(key, (v = make()));
  if (rank < v.minRank) v.minRank = rank;
  return v;
}

function netKey(family: 4 | 6, words: readonly number[], mask: readonly number[]): number | string {
  if (family === 4) return (words[0]! & mask[0]!) >>> 0;
  return `${(words[0]! & mask[0]!) >>> 0}:${(words[1]! & mask[1]!) >>> 0}:${(words[2]! & mask[2]!) >>> 0}:${(words[3]! & mask[3]!) >>> 0}`;
}

/** Does rule `p` match the query (the plain definition, reference note §6)? */
export function pathMatches(p: TcpPath, proto: string | null, remote: IpWords | undefined, rport: number, local: IpWords | undefined, lport: number): boolean {
  if (p.proto !== null && proto !== null && p.proto !== proto) return false;
  if (p.remotePort !== 0 && p.remotePort !== rport) return false;
  if (p.localPort !== 0 && p.localPort !== lport) return false;
  if (p.remote) {
    if (!remote || remote.family !== p.remote.family) return false;
    const mask = p.remote.mask;
    for (let i = 0; i < mask.length; i++) if (((remote.words[i]! & mask[i]!) >>> 0) !== p.remote.net[i]) return false;
  }
  if (p.local) {
    if (!local || local.family !== p.local.family) return false;
    for (let i = 0; i < p.local.words.length; i++) if (local.words[i] !== p.local.words[i]) return false;
  }
  return true;
}

function normProto(proto: string | null | undefined): string | null {
  if (proto === null || proto === undefined) return null;
  const p = proto.toLowerCase();
  return p === 'any' || p === '' ? null : p;
}

/**
 * An immutable, sorted rule set with an index: a lookup costs a few hash probes per rule shape
 * and remote prefix length present in the table, not a walk over the rules. `match` returns what
 * a walk of `paths` in order, stopping at the first matching rule, would return (`linearMatch`).
 */
export class RuleSet {
  /** the rules in match order */
  readonly paths: readonly TcpPath[];
  private readonly root: Map<string, RemotePortLevel> = new Map();

  constructor(paths: readonly TcpPath[]) {
    const sorted = [...paths].sort(comparePaths);
    this.paths = Object.freeze(sorted);
    const newTable = (): RemoteTable => ({ minRank: Infinity, any: Infinity, v4: [], v6: [] });
    const top: Level<string, RemotePortLevel> = { minRank: Infinity, next: this.root };
    sorted.forEach((p, rank) => {
      const l1: RemotePortLevel = child(top, p.proto ?? '', rank, () => ({ minRank: Infinity, next: new Map() }));
      const l2: LocalLevel = child(l1, p.remotePort, rank, () => ({ minRank: Infinity, next: new Map() }));
      const l3: LocalPortLevel = child(l2, p.local ? wordsKey(p.local.family, p.local.words) : '', rank, () => ({ minRank: Infinity, next: new Map() }));
      const t: RemoteTable = child(l3, p.localPort, rank, newTable);
      if (!p.remote) {
        if (rank < t.any) t.any = rank;
        return;
      }
      const groups = p.remote.family === 4 ? t.v4 : t.v6;
      let g = groups.find((x) => x.prefix === p.remote!.prefix);
      if (!g) groups.push((g = { prefix: p.remote.prefix, mask: p.remote.mask, minRank: rank, map: new Map() }));
      const nk = p.remote.family === 4 ? p.remote.net[0]! : wordsKey(6, p.remote.net);
      if (!g.map.has(nk)) g.map.set(nk, rank); // ranks arrive ascending: the first is the best
    });
    const visit = (t: RemoteTable): void => {
      t.v4.sort((a, b) => a.minRank - b.minRank);
      t.v6.sort((a, b) => a.minRank - b.minRank);
    };
    for (const l1 of this.root.values()) for (const l2 of l1.next.values()) for (const l3 of l2.next.values()) for (const t of l3.next.values()) visit(t);
  }

  get size(): number {
    return this.paths.length;
  }

  /** The first rule (in match order) that matches, or undefined. */
  match(q: PathQuery): TcpPath | undefined {
    const proto = normProto(q.proto);
    const remote = parseIp(q.remote.host);
    const local = parseIp(q.local.host);
    if (proto === null) return this.walk(proto, remote, q.remote.port, local, q.local.port);
    const localKey = local ? wordsKey(local.family, local.words) : undefined;
    let best = Infinity;
    best = this.l1(this.root.get(proto), q.remote.port, localKey, q.local.port, remote, best);
    best = this.l1(this.root.get(''), q.remote.port, localKey, q.local.port, remote, best);
    return best === Infinity ? undefined : this.paths[best];
  }

  private l1(l: RemotePortLevel | undefined, rport: number, localKey: string | undefined, lport: number, remote: IpWords | undefined, best: number): number {
    if (!l || l.minRank >= best) return best;
    if (rport !== 0) best = this.l2(l.next.get(rport), localKey, lport, remote, best);
    return this.l2(l.next.get(0), localKey, lport, remote, best);
  }

  private l2(l: LocalLevel | undefined, localKey: string | undefined, lport: number, remote: IpWords | undefined, best: number): number {
    if (!l || l.minRank >= best) return best;
    if (localKey !== undefined) best = this.l3(l.next.get(localKey), lport, remote, best);
    return this.l3(l.next.get(''), lport, remote, best);
  }

  private l3(l: LocalPortLevel | undefined, lport: number, remote: IpWords | undefined, best: number): number {
    if (!l || l.minRank >= best) return best;
    if (lport !== 0) best = this.table(l.next.get(lport), remote, best);
    return this.table(l.next.get(0), remote, best);
  }

  private table(t: RemoteTable | undefined, remote: IpWords | undefined, best: number): number {
    if (!t || t.minRank >= best) return best;
    if (t.any < best) best = t.any;
    if (!remote) return best;
    const groups = remote.family === 4 ? t.v4 : t.v6;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (g.minRank >= best) break;
      const r = g.map.get(netKey(remote.family, remote.words, g.mask));
      if (r !== undefined && r < best) best = r;
    }
    return best;
  }

  /** The same answer as `match`, by walking every rule in order (the reference and the benchmark's baseline). */
  linearMatch(q: PathQuery): TcpPath | undefined {
    return this.walk(normProto(q.proto), parseIp(q.remote.host), q.remote.port, parseIp(q.local.host), q.local.port);
  }

  private walk(proto: string | null, remote: IpWords | undefined, rport: number, local: IpWords | undefined, lport: number): TcpPath | undefined {
    for (const p of this.paths) if (pathMatches(p, proto, remote, rport, local, lport)) return p;
    return undefined;
  }
}
