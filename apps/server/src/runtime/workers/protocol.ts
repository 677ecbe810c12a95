import type { Address, ConnectionInfo, MiCommand, SendOptions, Stat } from '@x/core-conn';

/**
 * The messages between x-server's primary and its workers (node:cluster IPC, "advanced"
 * serialization: Buffers cross as Uint8Arrays). One channel per worker, FIFO both ways: what a
 * worker hands over for a connection reaches the owner in the order the worker handed it.
 */

/** The send options that cross processes (the `reuse` predicate cannot). */
export type WireSendOptions = Pick<SendOptions, 'connectionId' | 'listenerId' | 'noNewConn' | 'tlsDomain' | 'servername'>;

/** What a worker answers about a connection it used for a relayed send. */
export type ConnSnapshot = Pick<ConnectionInfo, 'id' | 'proto' | 'transport' | 'remote' | 'local' | 'state' | 'accepted' | 'createdAt' | 'lastUsedAt' | 'lifetime' | 'aliases' | 'queuedBytes' | 'queuedChunks' | 'paused' | 'inMessage'> & { worker: number };

export interface WireError {
  code: string;
  message: string;
  data?: string | undefined;
  /** an MiError's numeric code */
  miCode?: number | undefined;
}

/** A stat as a worker reports it for aggregation. */
export interface StatSnapshot {
  group: string;
  name: string;
  kind: Stat['kind'];
  doc: string;
  value: number;
}

/** An MI command as the primary registers it (the handler runs in the workers). */
export type MiCommandInfo = Pick<MiCommand, 'name' | 'aliases' | 'recipes' | 'doc' | 'namedOnly'>;

/** Index notices: [id, proto, host, port] entries to add, ids to drop. */
export interface IndexNotice {
  t: 'idx';
  add: Array<[number, string, string, number]>;
  del: number[];
}

export type WorkerToPrimary =
  | { t: 'ready'; index: number; commands: MiCommandInfo[] }
  | IndexNotice
  | { t: 'send'; rid: number; proto: string; dest: Address; data: Uint8Array; opts: WireSendOptions }
  | { t: 'write'; id: number; data: Uint8Array }
  | { t: 'close'; id: number; reason: string }
  | { t: 'res'; rid: number; ok: boolean; value?: unknown; error?: WireError };

/** What a worker may be asked for (MI, metrics). */
export type WorkerQuery =
  | { op: 'mi'; name: string; params: Record<string, unknown> }
  | { op: 'stats' };

export type PrimaryToWorker =
  | { t: 'send'; rid: number; proto: string; dest: Address; data: Uint8Array; opts: WireSendOptions }
  | { t: 'write'; id: number; data: Uint8Array }
  | { t: 'close'; id: number; reason: string }
  | { t: 'res'; rid: number; ok: boolean; local?: boolean; value?: unknown; error?: WireError }
  | { t: 'query'; rid: number; q: WorkerQuery }
  | { t: 'stop'; deadlineMs: number }
  | { t: 'reload' };

/** A Buffer over the bytes of an IPC Uint8Array (no copy). */
export function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function snapshot(c: ConnectionInfo, worker: number): ConnSnapshot {
  return {
    id: c.id, proto: c.proto, transport: c.transport, remote: c.remote, local: c.local, state: c.state, accepted: c.accepted,
    createdAt: c.createdAt, lastUsedAt: c.lastUsedAt, lifetime: c.lifetime, aliases: [...c.aliases], queuedBytes: c.queuedBytes,
    queuedChunks: c.queuedChunks, paused: c.paused, inMessage: c.inMessage, worker,
  };
}

export function wireOpts(o: SendOptions | undefined): WireSendOptions {
  const w: WireSendOptions = {};
  if (o?.connectionId !== undefined) w.connectionId = o.connectionId;
  if (o?.listenerId !== undefined) w.listenerId = o.listenerId;
  if (o?.noNewConn !== undefined) w.noNewConn = o.noNewConn;
  if (o?.tlsDomain !== undefined) w.tlsDomain = o.tlsDomain;
  if (o?.servername !== undefined) w.servername = o.servername;
  return w;
}

/** The shard bits of `n` workers: the smallest b with 2**b >= n. */
export function shardBits(n: number): number {
  let b = 0;
  while (2 ** b < n) b++;
  return b;
}
