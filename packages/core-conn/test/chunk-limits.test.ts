import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry } from '../src/stats.js';
import { makeProfile } from '../src/profile.js';
import { collect, lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';

afterEach(stopAll);

/** Writes `pieces` one per server read: waits until the server counted each piece's bytes. */
async function writeInReads(sock: Socket, pieces: Buffer[], rcvBytes: () => number): Promise<void> {
  let total = rcvBytes();
  for (const p of pieces) {
    sock.write(p);
    total += p.length;
    const want = total;
    await until(() => rcvBytes() >= want || sock.destroyed, 2000, 'server read');
  }
}

function split(buf: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  const size = Math.ceil(buf.length / n);
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe('max_msg_chunks', () => {
  it('accepts a message in exactly max chunks and closes at the max-th incomplete read', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ stats });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const rcv = () => stats.get('lp:rcv_bytes')!.value();

    const ok = await rawClient(l);
    await writeInReads(ok, split(encode('x'.repeat(40)), 4), rcv);
    await until(() => got.messages.length === 1);
    expect(got.closes).toHaveLength(0);

    const bad = await rawClient(l);
    const closed = waitFor(server, 'close');
    await writeInReads(bad, split(encode('y'.repeat(40)), 5).slice(0, 4), rcv);
    const ev = await closed;
    expect(ev.reason).toBe('Too many read chunks');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_MAX_CHUNKS', name: 'LimitError' });
    expect(stats.get('lp:limit_closes')!.value()).toBe(1);
    // the healthy connection still works
    ok.write(encode('after'));
    await until(() => got.messages.length === 2);
    ok.destroy();
    bad.destroy();
  });

  it('resets the counter when a message completes inside a read', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ stats });
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const sock = await rawClient(l);
    const a = encode('a'.repeat(30));
    const b = encode('b'.repeat(30));
    // 3 incomplete reads of a, then a read completing a and starting b, then 3 more of b
    const pieces = [a.subarray(0, 5), a.subarray(5, 10), a.subarray(10, 15), Buffer.concat([a.subarray(15), b.subarray(0, 5)]), b.subarray(5, 10), b.subarray(10, 15), b.subarray(15)];
    await writeInReads(sock, pieces, () => stats.get('lp:rcv_bytes')!.value());
    await until(() => got.messages.length === 2);
    expect(got.closes).toHaveLength(0);
    sock.destroy();
  });

  it('profile attrs.maxMsgChunks overrides the protocol limit; 0 means unlimited', async () => {
    const stats = createStatsRegistry();
    const server = lpEngine({ stats }, lpSpec({ maxMsgChunks: 2 }));
    server.setProfileResolver((q) => ({ profile: makeProfile({ id: 7, attrs: { maxMsgChunks: 0 } }), matched: q.proto === 'lp' }));
    const l = await server.listen('lp:127.0.0.1:0');
    const got = collect(server);
    const sock = await rawClient(l);
    await writeInReads(sock, split(encode('z'.repeat(100)), 10), () => stats.get('lp:rcv_bytes')!.value());
    await until(() => got.messages.length === 1);
    expect(got.closes).toHaveLength(0);
    expect(server.connections()[0]!.profile.id).toBe(7);
    sock.destroy();
  });

  it('closes with ERR_CONN_MSG_TOO_BIG when a pending message passes maxMsgBytes', async () => {
    const server = lpEngine({}, lpSpec({ maxMsgBytes: 1000 }));
    const l = await server.listen('lp:127.0.0.1:0');
    const sock = await rawClient(l);
    const closed = waitFor(server, 'close');
    sock.write(encode('q'.repeat(5000)).subarray(0, 1200));
    const ev = await closed;
    expect(ev.reason).toBe('Message too big');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_MSG_TOO_BIG' });
    sock.destroy();
  });
});
