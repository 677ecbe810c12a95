import { afterEach, describe, expect, it } from 'vitest';
import { connectionIdShard } from '../src/engine/table.js';
import type { ConnectionRelay } from '../src/engine/types.js';
import type { Address, ConnectionId, ConnectionInfo, SendOptions } from '../src/types.js';
import { collect, lpEngine, stopAll, until } from './helpers.js';
import { encode } from './lp-proto.js';

afterEach(stopAll);

/**
 * Two engines standing for two worker processes: each hands what it does not own to the
 * other, the way x-server's relay does over IPC (here a direct call).
 */
function pair(): { a: ReturnType<typeof lpEngine>; b: ReturnType<typeof lpEngine>; calls: string[] } {
  const calls: string[] = [];
  const engines: ReturnType<typeof lpEngine>[] = [];
  const relayOf = (me: number): ConnectionRelay => ({
    send(proto: string, dest: Address, data: Buffer, opts: SendOptions | undefined, local: () => Promise<ConnectionInfo | undefined>) {
      const other = engines[1 - me]!;
      calls.push(`send ${me} ${opts?.connectionId ?? `${dest.host}:${dest.port}`}`);
      if (opts?.connectionId !== undefined) {
        if (connectionIdShard(opts.connectionId, 1) === me) return undefined;
        return other.send(proto, dest, data, { connectionId: opts.connectionId });
      }
      // the owner index: a connection of the other engine to this address, else connect here
      const owned = other.connections(proto).some((c) => c.remote.host === dest.host && c.aliases.includes(dest.port));
      return owned ? Promise.resolve().then(() => other.send(proto, dest, data)) : Promise.resolve().then(local);
    },
    write(id: ConnectionId, data: Buffer) {
      calls.push(`write ${me} ${id}`);
      if (connectionIdShard(id, 1) === me) return false;
      engines[1 - me]!.write(id, data);
      return true;
    },
    close(id: ConnectionId, reason: string) {
      calls.push(`close ${me} ${id}`);
      return connectionIdShard(id, 1) !== me && engines[1 - me]!.close(id, reason);
    },
  });
  const a = lpEngine({ connectionIdShard: { index: 0, bits: 1 }, relay: relayOf(0) });
  const b = lpEngine({ connectionIdShard: { index: 1, bits: 1 }, relay: relayOf(1) });
  engines.push(a, b);
  return { a, b, calls };
}

describe('connection id shards and the relay of sends for connections another engine owns', () => {
  it('ids carry the shard in their low bits and step by 2**bits, wrapping at 2**32', async () => {
    const e = lpEngine({ firstConnectionId: 2 ** 32 - 3, connectionIdShard: { index: 2, bits: 2 } });
    const peer = lpEngine();
    const l = await e.listen('lp:127.0.0.1:0');
    for (let i = 0; i < 3; i++) await peer.send('lp', l.address, encode(String(i)), { listenerId: undefined, reuse: () => false });
    await until(() => e.connections().length === 3);
    const ids = e.connections().map((c) => c.id).sort((x, y) => x - y);
    for (const id of ids) expect(connectionIdShard(id, 2)).toBe(2);
    // 2**32-3 -> 4294967294 (the base's shard-2 id), then it wraps to 2 and 6
    expect(ids).toEqual([2, 6, 4294967294]);
    expect(() => lpEngine({ connectionIdShard: { index: 4, bits: 2 } })).toThrow(/connectionIdShard/);
    expect(() => lpEngine({ connectionIdShard: { index: 0, bits: 9 } })).toThrow(/connectionIdShard/);
  });

  it('send, write and close by an id another engine owns reach its owner, in order', async () => {
    const { a, b, calls } = pair();
    const client = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const got = collect(client);
    await client.send('lp', la.address, encode('hello'));
    await until(() => a.connections().length === 1);
    const id = a.connections()[0]!.id;
    expect(connectionIdShard(id, 1)).toBe(0);
    // b has no such connection: its relay hands each call to a
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 2 === 0) sent.push(b.send('lp', { host: '0.0.0.0', port: 1 }, encode(`m${i}`), { connectionId: id }));
      else b.write(id, encode(`m${i}`));
    }
    const infos = await Promise.all(sent);
    expect((infos[0] as ConnectionInfo).id).toBe(id);
    await until(() => got.messages.length === 50);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    expect(calls.filter((c) => c.startsWith('send 1')).length).toBe(25);
    expect(b.close(id, 'Closed by MI')).toBe(true);
    await until(() => a.connections().length === 0);
    // an id nobody has: the relay declines and the engine answers as before
    await expect(b.send('lp', { host: '127.0.0.1', port: 1 }, encode('x'), { connectionId: id + 1 })).rejects.toMatchObject({ code: 'ERR_CONN_NOT_FOUND' });
    expect(() => b.write(id + 1, encode('x'))).toThrow(/not found/);
    expect(b.close(id + 1)).toBe(false);
  });

  it('a send by address reuses the other engine\'s connection; with no owner it connects locally, once', async () => {
    const { a, b } = pair();
    const peer = lpEngine();
    const la = await a.listen('lp:127.0.0.1:0');
    const lpeer = await peer.listen('lp:127.0.0.1:0');
    const got = collect(peer);
    // nobody has a connection to peer: b connects itself (the relay's `local`), and reuses it after
    const first = await b.send('lp', lpeer.address, encode('1'));
    const second = await b.send('lp', lpeer.address, encode('2'));
    expect(second!.id).toBe(first!.id);
    expect(connectionIdShard(first!.id, 1)).toBe(1);
    expect(a.connections()).toHaveLength(0);
    // a has none to peer's address: it goes through b's
    const third = await a.send('lp', lpeer.address, encode('3'));
    expect(third!.id).toBe(first!.id);
    await until(() => got.messages.length === 3);
    expect(got.messages.map((m) => (m.message as Buffer).toString())).toEqual(['1', '2', '3']);
    expect(new Set(got.messages.map((m) => m.conn.id)).size).toBe(1);
    expect(la.id).toBe(1);
  });
});
