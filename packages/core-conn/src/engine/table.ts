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
  private readonly byAddr = new Map<string, Conn[]>();
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

  add(conn: Conn): void {
    this.conns.set(conn.id, conn);
    this.index(conn, conn.remote.port);
    if (conn.accepted) this.perIp.set(conn.remote.host, (this.perIp.get(conn.remote.host) ?? 0) + 1);
  }

  /** accepted connections from `host` (normalized) in the table */
  acceptedFrom(host: string): number {
    return this.perIp.get(host) ?? 0;
  }

  /** Removes a connection and its address entries; false when it was not (or no longer) in the table. */
  remove(conn: Conn): boolean {
    if (this.conns.get(conn.id) !== conn) return false;
    this.conns.delete(conn.id);
    if (conn.accepted) {
      const n = (this.perIp.get(conn.remote.host) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(conn.remote.host);
      else this.perIp.set(conn.remote.host, n);
    }
    for (const port of conn.aliases) {
      const k = ConnTable.key(conn.proto, conn.remote.host, port);
      const list = this.byAddr.get(k);
      if (!list) continue;
      const i = list.indexOf(conn);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.byAddr.delete(k);
    }
    return true;
  }

  /** Indexes `conn` under one more remote port (an alias). */
  index(conn: Conn, port: number): void {
    const k = ConnTable.key(conn.proto, conn.remote.host, port);
    const list = this.byAddr.get(k);
    if (list) list.push(conn);
    else this.byAddr.set(k, [conn]);
  }

  /** Whether another live connection already answers to this proto + host + port. */
  taken(conn: Conn, port: number): boolean {
    const list = this.byAddr.get(ConnTable.key(conn.proto, conn.remote.host, port));
    return list !== undefined && list.some((c) => c !== conn && !c.closed);
  }

  /**
   * The connection to reuse for proto + host + port: open or connecting, on the listener
   * asked for, with the TLS identity asked for, and accepted by `accept` when given.
   */
  find(proto: string, host: string, port: number, listenerId: number | undefined, tlsKey: string | undefined, accept?: (c: ConnectionInfo) => boolean): Conn | undefined {
    const list = this.byAddr.get(ConnTable.key(proto, host, port));
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.closed || c.state === ConnState.BAD) continue;
      if (listenerId !== undefined && c.listener?.id !== listenerId) continue;
      if (tlsKey !== undefined && c.tlsKey !== tlsKey) continue;
      if (accept !== undefined && !accept(c)) continue;
      return c;
    }
    return undefined;
  }
}
