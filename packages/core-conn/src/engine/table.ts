import type { ConnectionId, ConnectionInfo } from '../types.js';
import { ConnState } from '../types.js';
import type { Conn } from './connection.js';

/** The index of the engine that allocated `id` among engines sharing ids with `bits` shard bits (EngineOptions.connectionIdShard). */
export function connectionIdShard(id: ConnectionId, bits: number): number {
  return bits === 0 ? 0 : (id >>> 0) % 2 ** bits;
}

/** At most this many alias ports per connection (the first is the real remote port). */
export const MAX_ALIASES = 4;

/**
 * The connection table: connections by id, and by proto + remote host + port (every alias
 * port) for reuse. Ids are unsigned 32-bit, +1 per connection, skipping ids in use.
 */
export class ConnTable {
  private readonly conns = new Map<ConnectionId, Conn>();
  /** one connection per address for nearly every key, a list only when several share it */
  private readonly byAddr = new Map<string, Conn | Conn[]>();
  /** accepted connections per remote host (tcp_max_connections_per_ip) */
  private readonly perIp = new Map<string, number>();
  private nextId: number;
  /** ids step by this (a power of two); `shard` fills the low bits (connectionIdShard) */
  private readonly step: number;
  private readonly shard: number;

  constructor(firstId: number, shard?: { index: number; bits: number }) {
    this.step = shard ? 2 ** shard.bits : 1;
    this.shard = shard ? shard.index : 0;
    this.nextId = firstId >>> 0;
  }

  /** entries of the address and per-IP indexes (a leak shows here when connections are gone) */
  get indexEntries(): number {
    let n = this.perIp.size;
    for (const e of this.byAddr.values()) n += Array.isArray(e) ? e.length : 1;
    return n;
  }

  get size(): number {
    return this.conns.size;
  }

  get(id: ConnectionId): Conn | undefined {
    return this.conns.get(id);
  }

  values(): IterableIterator<Conn> {
    return this.conns.values();
  }

  list(proto?: string): ConnectionInfo[] {
    const out: ConnectionInfo[] = [];
    for (const c of this.conns.values()) if (proto === undefined || c.proto === proto) out.push(c);
    return out;
  }

  /** bytes queued for writing on connections of this transport (net:waiting_*) */
  waitingBytes(transport: string): number {
    let n = 0;
    for (const c of this.conns.values()) if (c.transport === transport) n += c.queuedBytes;
    return n;
  }

  allocId(): ConnectionId {
    for (;;) {
      // with a shard: the counter's high bits, the shard index in the low ones
      const id = this.step === 1 ? this.nextId : ((this.nextId - (this.nextId % this.step)) + this.shard) >>> 0;
      this.nextId = (this.nextId + this.step) >>> 0;
      if (!this.conns.has(id)) return id;
    }
  }

  private static key(proto: string, host: string, port: number): string {
    return proto + '|' + host + '|' + port;
  }

  /**
   * Adds a connection; `countPerIp`: counted in acceptedFrom (accepted connections, counted only
   * while a per-address cap can apply: tcp_max_connections_per_ip or a profile resolver set).
   */
  add(conn: Conn, countPerIp: boolean): void {
    this.conns.set(conn.id, conn);
    this.index(conn, conn.remote.port);
    if (countPerIp) {
      conn.countedPerIp = true;
      this.perIp.set(conn.remote.host, (this.perIp.get(conn.remote.host) ?? 0) + 1);
    }
  }

  /** accepted connections from `host` (normalized) in the table */
  acceptedFrom(host: string): number {
    return this.perIp.get(host) ?? 0;
  }

  /** Removes a connection and its address entries; false when it was not (or no longer) in the table. */
  remove(conn: Conn): boolean {
    if (this.conns.get(conn.id) !== conn) return false;
    this.conns.delete(conn.id);
    if (conn.countedPerIp) {
      const n = (this.perIp.get(conn.remote.host) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(conn.remote.host);
      else this.perIp.set(conn.remote.host, n);
    }
    const aliases = conn.aliases;
    for (let a = 0; a < aliases.length; a++) {
      const k = ConnTable.key(conn.proto, conn.remote.host, aliases[a]!);
      const v = this.byAddr.get(k);
      if (v === undefined) continue;
      if (v === conn) {
        this.byAddr.delete(k);
        continue;
      }
      if (!Array.isArray(v)) continue;
      const i = v.indexOf(conn);
      if (i >= 0) v.splice(i, 1);
      if (v.length === 1) this.byAddr.set(k, v[0]!);
      else if (v.length === 0) this.byAddr.delete(k);
    }
    return true;
  }

  /** Indexes `conn` under one more remote port (an alias). */
  index(conn: Conn, port: number): void {
    const k = ConnTable.key(conn.proto, conn.remote.host, port);
    const v = this.byAddr.get(k);
    if (v === undefined) this.byAddr.set(k, conn);
    else if (Array.isArray(v)) v.push(conn);
    else this.byAddr.set(k, [v, conn]);
  }

  /** Whether another live connection already answers to this proto + host + port. */
  taken(conn: Conn, port: number): boolean {
    const v = this.byAddr.get(ConnTable.key(conn.proto, conn.remote.host, port));
    if (v === undefined) return false;
    if (!Array.isArray(v)) return v !== conn && !v.closed;
    return v.some((c) => c !== conn && !c.closed);
  }

  /**
   * The connection to reuse for proto + host + port: open or connecting, on the listener
   * asked for, with the TLS identity asked for, and accepted by `accept` when given.
   */
  find(proto: string, host: string, port: number, listenerId: number | undefined, tlsKey: string | undefined, accept?: (c: ConnectionInfo) => boolean): Conn | undefined {
    const v = this.byAddr.get(ConnTable.key(proto, host, port));
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return usable(v, listenerId, tlsKey, accept) ? v : undefined;
    for (let i = 0; i < v.length; i++) if (usable(v[i]!, listenerId, tlsKey, accept)) return v[i];
    return undefined;
  }
}

/** open or connecting, on the listener asked for, with the TLS identity asked for, accepted by `accept` */
function usable(c: Conn, listenerId: number | undefined, tlsKey: string | undefined, accept: ((c: ConnectionInfo) => boolean) | undefined): boolean {
  if (c.closed || c.state === ConnState.BAD) return false;
  if (listenerId !== undefined && c.listener?.id !== listenerId) return false;
  if (tlsKey !== undefined && c.tlsKey !== tlsKey) return false;
  return accept === undefined || accept(c);
}
