// Writes made while one read is handled leave in one socket write per connection written, not
// only for replies on the connection being read: a relay forwarding the messages of one read to
// other connections (accepted or outbound, by write or send) writes each of them once, with the
// order per connection, the counters and the sync/async semantics of single writes.
import { createServer, Socket, type Server, type Socket as NetSocket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { lpEngine, rawClient, stopAll, until } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';

/** Counts the socket-level writes (one per write or writev call) of the sockets `pick` selects. */
function countWrites(pick: (s: NetSocket) => boolean): { readonly n: number; restore(): void } {
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', (...a: unknown[]) => unknown>;
  const write = proto._write;
  const writev = proto._writev;
  const state = { n: 0 };
  proto._write = function (this: NetSocket, ...a: unknown[]) {
    if (pick(this)) state.n++;
    return write.apply(this, a);
  };
  proto._writev = function (this: NetSocket, ...a: unknown[]) {
    if (pick(this)) state.n++;
    return writev.apply(this, a);
  };
  return {
    get n() {
      return state.n;
    },
    restore() {
      proto._write = write;
      proto._writev = writev;
    },
  };
}

function frames(data: Buffer): string[] {
  const out: string[] = [];
  let off = 0;
  while (data.length - off >= 4) {
    const len = data.readUInt32BE(off);
    if (data.length - off - 4 < len) break;
    out.push(data.toString('latin1', off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await stopAll();
});

/** A raw TCP sink on 127.0.0.1 that records what each connection receives. */
async function sink(): Promise<{ server: Server; port: number; got: () => Buffer }> {
  let got = Buffer.alloc(0);
  const socks: NetSocket[] = [];
  const server = createServer((s) => {
    socks.push(s);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => {
    for (const s of socks) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { server, port: (server.address() as { port: number }).port, got: () => got };
}

describe('write batching per read, across connections', () => {
  it('messages of one read forwarded to two other accepted connections: one socket write each, order kept', async () => {
    const stats = createStatsRegistry();
    const engine = lpEngine({ stats });
    const l = await engine.listen('lp:127.0.0.1:0');
    const src = await rawClient(l);
    const b = await rawClient(l);
    const c = await rawClient(l);
    await until(() => engine.connections().length === 3, 3000, '3 accepted');
    const idOf = (s: NetSocket): number => engine.connections().find((x) => x.remote.port === s.localPort)!.id;
    const [srcId, bId, cId] = [idOf(src), idOf(b), idOf(c)];
    // even messages to b, odd ones to c, one reply to the source per 10
    engine.on('message', (ev) => {
      if (ev.conn.id !== srcId) return;
      const m = (ev.message as Buffer).toString();
      const n = Number(m.slice(1));
      engine.write(n % 2 === 0 ? bId : cId, encode(`fw:${m}`));
      if (n % 10 === 9) engine.write(srcId, encode(`ack:${m}`));
    });
    const gotB: Buffer[] = [];
    const gotC: Buffer[] = [];
    b.on('data', (d: Buffer) => gotB.push(d));
    c.on('data', (d: Buffer) => gotC.push(d));
    const writesB = countWrites((s) => s.remotePort === b.localPort && s.localPort === l.address.port);
    cleanups.push(() => writesB.restore());
    const writesC = countWrites((s) => s.remotePort === c.localPort && s.localPort === l.address.port);
    cleanups.push(() => writesC.restore());
    const N = 40;
    const wire = Buffer.concat(Array.from({ length: N }, (_, i) => encode(`m${i}`)));
    const readsBefore = stats.get('lp:rcv_bytes')!.value();
    src.write(wire);
    const wantB = Array.from({ length: N / 2 }, (_, i) => `fw:m${2 * i}`);
    const wantC = Array.from({ length: N / 2 }, (_, i) => `fw:m${2 * i + 1}`);
    await until(() => frames(Buffer.concat(gotB)).length === wantB.length && frames(Buffer.concat(gotC)).length === wantC.length, 5000, 'forwarded');
    expect(frames(Buffer.concat(gotB))).toEqual(wantB);
    expect(frames(Buffer.concat(gotC))).toEqual(wantC);
    expect(stats.get('lp:rcv_bytes')!.value() - readsBefore).toBe(wire.length);
    // 20 messages each; one write per read of the source (it arrives in one read, or a few)
    expect(writesB.n).toBeGreaterThan(0);
    expect(writesB.n).toBeLessThan(5);
    expect(writesC.n).toBeLessThan(5);
    expect(stats.get('lp:snd_msgs')!.value()).toBe(N + N / 10);
    for (const x of engine.connections()) expect(x.queuedChunks).toBe(0);
    for (const s of [src, b, c]) s.destroy();
  });

  it('sends to an outbound connection (by address) during a read leave in one write; sync sends resolve in order', async () => {
    const engine = lpEngine({}, lpSpec({}, { async: false, sendTimeout: 2000 }));
    const l = await engine.listen('lp:127.0.0.1:0');
    const dst = await sink();
    // open the outbound connection first
    await engine.send('lp', { host: '127.0.0.1', port: dst.port }, encode('hello'));
    const out = engine.connections().find((x) => !x.accepted)!;
    const writes = countWrites((s) => s.remotePort === dst.port && s.localPort === out.local.port);
    cleanups.push(() => writes.restore());
    const resolved: string[] = [];
    engine.on('message', (ev) => {
      if (!ev.conn.accepted) return;
      const m = (ev.message as Buffer).toString();
      void engine.send('lp', { host: '127.0.0.1', port: dst.port }, encode(`fw:${m}`)).then(() => resolved.push(m));
    });
    const src = await rawClient(l);
    const N = 30;
    src.write(Buffer.concat(Array.from({ length: N }, (_, i) => encode(`r${i}`))));
    const want = ['hello', ...Array.from({ length: N }, (_, i) => `fw:r${i}`)];
    await until(() => frames(dst.got()).length === want.length && resolved.length === N, 5000, 'forwarded and resolved');
    expect(frames(dst.got())).toEqual(want);
    expect(resolved).toEqual(Array.from({ length: N }, (_, i) => `r${i}`));
    expect(writes.n).toBeGreaterThan(0);
    expect(writes.n).toBeLessThan(5);
    src.destroy();
  });

  it('outside a read (a timer), writes are not held back: each is handed to the socket at once', async () => {
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    const b = await rawClient(l);
    await until(() => engine.connections().length === 1, 3000, 'accepted');
    const id = engine.connections()[0]!.id;
    const writes = countWrites((s) => s.remotePort === b.localPort && s.localPort === l.address.port);
    cleanups.push(() => writes.restore());
    let got = Buffer.alloc(0);
    b.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    await new Promise<void>((r) =>
      setTimeout(() => {
        engine.write(id, encode('x1'));
        engine.write(id, encode('x2'));
        // handed to the socket now: both writes were made (the socket coalesces the second if the first is pending)
        expect(engine.connections()[0]!.queuedChunks).toBeLessThanOrEqual(1);
        r();
      }, 1),
    );
    await until(() => frames(got).length === 2, 3000, 'both');
    expect(frames(got)).toEqual(['x1', 'x2']);
    expect(writes.n).toBeGreaterThanOrEqual(1);
    b.destroy();
  });

  it('a forwarding target that closes during the read gets nothing more; the others get everything, in order', async () => {
    const engine = lpEngine();
    const l = await engine.listen('lp:127.0.0.1:0');
    const src = await rawClient(l);
    const b = await rawClient(l);
    const c = await rawClient(l);
    await until(() => engine.connections().length === 3, 3000, '3 accepted');
    const idOf = (s: NetSocket): number => engine.connections().find((x) => x.remote.port === s.localPort)!.id;
    const [srcId, bId, cId] = [idOf(src), idOf(b), idOf(c)];
    const refused: string[] = [];
    engine.on('message', (ev) => {
      if (ev.conn.id !== srcId) return;
      const m = (ev.message as Buffer).toString();
      if (m === 'close-b') {
        engine.close(bId);
        return;
      }
      for (const id of [bId, cId]) {
        try {
          engine.write(id, encode(m));
        } catch (err) {
          refused.push(`${id === bId ? 'b' : 'c'}:${m}:${(err as { code?: string }).code}`);
        }
      }
    });
    let gotB = Buffer.alloc(0);
    let gotC = Buffer.alloc(0);
    b.on('data', (d: Buffer) => (gotB = Buffer.concat([gotB, d])));
    b.on('error', () => {});
    c.on('data', (d: Buffer) => (gotC = Buffer.concat([gotC, d])));
    const bClosed = new Promise<void>((r) => b.on('close', () => r()));
    src.write(Buffer.concat([encode('a1'), encode('a2'), encode('close-b'), encode('a3')]));
    await until(() => frames(gotC).length === 3, 3000, 'c got all');
    await bClosed;
    expect(frames(gotC)).toEqual(['a1', 'a2', 'a3']);
    // what was gathered for b before its close was handed to the kernel, as single writes would be
    expect(frames(gotB)).toEqual(['a1', 'a2']);
    expect(refused).toEqual(['b:a3:ERR_CONN_NOT_FOUND']);
    src.destroy();
    c.destroy();
  });
});
