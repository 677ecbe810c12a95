import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseEvent, ConnectionInfo, ConnectionProfile } from '@x/core-conn';
import { createSipTcp, SipFramer, protoTcpModule, resolveParams, tcpProtocolSpec, PROTO_TCP_DEFAULTS, type ProtoTcpParams } from '../src/index.js';
import { blackholePeer, onCleanup, rawPeer, responder, sipReq, sleep, stopAll, stuckPeer, until } from './helpers.js';

afterEach(stopAll);

const BIG = sipReq('big', { method: 'MESSAGE', body: 'b'.repeat(60000) });

/** A sender SipTcp with these params; records its close events. */
async function sender(params: Partial<ProtoTcpParams>, connectTimeout = 5000, profile: Partial<ConnectionProfile> = {}) {
  // the async connect timeout (100 ms by default, as OpenSIPS) only where a test sets it: a busy
  // 2-core machine can hold a loopback connect's completion past 100 ms
  const { sip, stats } = await responder({ tcp_async_local_connect_timeout: connectTimeout, ...params }, { defaultProfile: { connectTimeout, ...profile } });
  const closes: CloseEvent[] = [];
  sip.on('close', (ev) => closes.push(ev));
  return { sip, closes, stats };
}

/** A SIP peer that accepts one connection without reading until resumed; frames what it reads. */
async function pausablePeer(): Promise<{ port: number; callIds: string[]; resume(): void }> {
  let sock: Socket | undefined;
  let resumed = false;
  const callIds: string[] = [];
  const server = createServer((s) => {
    sock = s;
    s.pause();
    s.on('error', () => {});
    const f = new SipFramer({ crlfPingpong: false });
    s.on('data', (d: Buffer) =>
      f.push(d, {
        message: (m) => callIds.push(/\r\nCall-ID: ([^\r]*)/.exec(m.toString('latin1'))![1]!),
        keepalive: () => {},
        reply: () => {},
      }),
    );
    if (resumed) s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onCleanup(() => new Promise<void>((r) => {
    sock?.destroy();
    server.close(() => r());
  }));
  return {
    port: (server.address() as { port: number }).port,
    callIds,
    resume: () => {
      resumed = true;
      sock?.resume();
    },
  };
}

/**
 * Sends BIG to a peer that never reads until a send fails or `max` sends; returns the count
 * accepted and the error. Async-mode sends resolve once queued, so each is awaited as is (no
 * timer, which a busy machine could outrun). A sync-mode send resolves only when written, which
 * to a stuck peer is never: pass `blocking` and the flood stops at the first send still pending
 * after it (no count is asserted on that path).
 */
async function flood(send: () => Promise<unknown>, max: number, blocking?: { stopAfterMs: number }): Promise<{ ok: number; err?: { code?: string } }> {
  let ok = 0;
  for (let i = 0; i < max; i++) {
    try {
      if (blocking) {
        const r = await Promise.race([send().then(() => true), sleep(blocking.stopAfterMs).then(() => false)]);
        if (!r) return { ok };
      } else {
        await send();
      }
      ok++;
    } catch (e) {
      return { ok, err: e as { code?: string } };
    }
  }
  return { ok };
}

describe('parameters: validation and defaults', () => {
  it('has the 9 transport params, tcp_parallel_handling (accepted, no effect) + 3 reserved trace params with OpenSIPS defaults', () => {
    expect(resolveParams(undefined)).toEqual(PROTO_TCP_DEFAULTS);
    expect(Object.keys(protoTcpModule.params).sort()).toEqual(
      [
        'tcp_port',
        'tcp_send_timeout',
        'tcp_max_msg_chunks',
        'tcp_crlf_pingpong',
        'tcp_crlf_drop',
        'tcp_async',
        'tcp_async_max_postponed_chunks',
        'tcp_async_local_connect_timeout',
        'tcp_async_local_write_timeout',
        'tcp_parallel_handling',
        'trace_destination',
        'trace_on',
        'trace_filter_route',
      ].sort(),
    );
    const spec = protoTcpModule.protocols!(resolveParams({}))[0]!;
    expect(spec).toMatchObject({ name: 'tcp', defaultPort: 5060, maxMsgChunks: 4, maxMsgBytes: 65535 });
    expect(spec.write).toEqual({ async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 });
  });

  it('rejects bad values with readable messages and stable codes', () => {
    expect(() => resolveParams({ tcp_port: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('"tcp_port"') }));
    expect(() => resolveParams({ tcp_crlf_drop: 2 as unknown as boolean })).toThrow(/expects 0 or 1/);
    expect(() => resolveParams({ tcp_max_msg_chunks: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    expect(() => resolveParams({ nope: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_PARAM' }));
    expect(resolveParams({ tcp_async: 0 as unknown as boolean, tcp_crlf_drop: '1' as unknown as boolean })).toMatchObject({ tcp_async: false, tcp_crlf_drop: true });
  });

  it('tcp_async_max_postponed_chunks is forced to >= 2 only when async', () => {
    expect(tcpProtocolSpec(resolveParams({ tcp_async_max_postponed_chunks: 1 })).write.maxPostponedChunks).toBe(2);
    expect(tcpProtocolSpec(resolveParams({ tcp_async_max_postponed_chunks: 1, tcp_async: false })).write.maxPostponedChunks).toBe(1);
  });
});

describe('parameters: each one changes behaviour on real sockets', () => {
  it('tcp_port is the default port of a socket spec and of a send target without one', async () => {
    // find a free port, then let tcp_port name it
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const free = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const sip = await createSipTcp({ listen: ['tcp:127.0.0.1'], params: { tcp_port: free } });
    try {
      expect(sip.listeners[0]!.address.port).toBe(free);
      const got = new Promise<string>((r) => sip.on('request', (m) => r(m.callId!)));
      const cli = await createSipTcp({ listen: ['tcp:127.0.0.1:0'], params: { tcp_port: free } });
      try {
        await cli.send('127.0.0.1', sipReq('port-default'));
        await cli.send('sip:svc@127.0.0.1;transport=tcp', sipReq('port-default-2'));
        expect(await got).toBe('port-default@x');
      } finally {
        await cli.close();
      }
    } finally {
      await sip.close();
    }
  });

  it('tcp_max_msg_chunks: a message in 6 reads is refused with 4, accepted with 8', async () => {
    const msg = Buffer.from(sipReq('chunks'));
    const outcome = async (chunks: number): Promise<{ replies: number; closes: CloseEvent[] }> => {
      const { sip, port, stats } = await responder({ tcp_max_msg_chunks: chunks });
      const closes: CloseEvent[] = [];
      sip.on('close', (ev) => closes.push(ev));
      const peer = await rawPeer(port);
      const rcv = stats.get('tcp:rcv_bytes')!;
      const step = Math.ceil(msg.length / 6);
      for (let i = 0; i < 6 && !peer.closed; i++) {
        const before = rcv.value();
        peer.sock.write(msg.subarray(i * step, (i + 1) * step));
        // one server read per piece
        await until(() => rcv.value() > before || peer.closed, 2000);
      }
      await until(() => peer.messages.length > 0 || peer.closed, 2000);
      return { replies: peer.messages.length, closes };
    };
    const four = await outcome(4);
    expect(four.replies).toBe(0);
    expect(four.closes[0]).toMatchObject({ reason: 'Too many read chunks', error: { code: 'ERR_CONN_MAX_CHUNKS' } });
    const eight = await outcome(8);
    expect(eight.replies).toBe(1);
    expect(eight.closes).toEqual([]);
  });

  it('tcp_crlf_pingpong: CRLF CRLF gets a CRLF pong with 1, nothing with 0', async () => {
    for (const pp of [true, false]) {
      const { port } = await responder({ tcp_crlf_pingpong: pp });
      const peer = await rawPeer(port);
      peer.sock.write('\r\n\r\n');
      peer.sock.write(sipReq(`pp-${pp}`));
      await until(() => peer.messages.length === 1);
      expect(peer.messages).toHaveLength(1);
      expect(peer.bytes().subarray(0, 2).toString()).toBe(pp ? '\r\n' : 'SI');
    }
  });

  it('tcp_crlf_drop: a lone CRLF keepalive times out the connection with 0, is dropped with 1', async () => {
    const run = async (drop: boolean): Promise<CloseEvent[]> => {
      const { sip, port } = await responder({ tcp_crlf_drop: drop }, { defaultProfile: { msgReadTimeout: 0.2 } });
      const closes: CloseEvent[] = [];
      sip.on('close', (ev) => closes.push(ev));
      const peer = await rawPeer(port);
      peer.sock.write('\r\n');
      await until(() => closes.length > 0, 800);
      peer.sock.destroy();
      return closes;
    };
    expect((await run(false))[0]).toMatchObject({ reason: 'Timeout waiting for a complete message', error: { code: 'ERR_CONN_READ_TIMEOUT' } });
    expect(await run(true)).toEqual([]);
  });

  it('tcp_async + tcp_send_timeout: sync writes to a stuck peer time out after tcp_send_timeout; async ones do not', async () => {
    const peer = await stuckPeer();
    const sync = await sender({ tcp_async: false, tcp_send_timeout: 50 });
    await flood(() => sync.sip.send({ host: '127.0.0.1', port: peer.port }, BIG), 2000, { stopAfterMs: 200 });
    expect(await until(() => sync.closes.length > 0, 3000)).toBe(true);
    expect(sync.closes[0]).toMatchObject({ reason: 'Write timeout', error: { code: 'ERR_CONN_WRITE_TIMEOUT' } });

    const syncLong = await sender({ tcp_async: false, tcp_send_timeout: 60000 });
    await flood(() => syncLong.sip.send({ host: '127.0.0.1', port: peer.port }, BIG), 2000, { stopAfterMs: 200 });
    await sleep(400);
    expect(syncLong.closes).toEqual([]);

    // async (local write timeout left at its 10 ms default): the send timeout is not used and the
    // stall does not close; only the queue limit and the lifetime bound a stuck peer
    const async = await sender({ tcp_async: true, tcp_send_timeout: 50, tcp_async_max_postponed_chunks: 100000 });
    const r = await flood(() => async.sip.send({ host: '127.0.0.1', port: peer.port }, BIG), 300);
    expect(r.ok).toBe(300); // every async send is accepted at once, though the peer reads nothing
    await sleep(400);
    expect(async.closes).toEqual([]);
  });

  it('tcp_async_max_postponed_chunks: a peer that never reads is cut off at the queue limit', async () => {
    const peer = await stuckPeer();
    const small = await sender({ tcp_async_max_postponed_chunks: 4 });
    const a = await flood(() => small.sip.send({ host: '127.0.0.1', port: peer.port }, BIG), 3000);
    expect(a.err?.code).toBe('ERR_CONN_QUEUE_FULL');
    expect(small.closes[0]).toMatchObject({ reason: 'Write queue full' });
    const large = await sender({ tcp_async_max_postponed_chunks: 200 });
    const b = await flood(() => large.sip.send({ host: '127.0.0.1', port: peer.port }, BIG), 3000);
    expect(b.err?.code).toBe('ERR_CONN_QUEUE_FULL');
    // the kernel absorbs about the same in both runs; the difference is the user-space queue
    expect(b.ok - a.ok).toBeGreaterThanOrEqual(150);
  });

  it('tcp_async_local_write_timeout: a stall longer than it postpones the queued chunks, the connection stays open, a peer that resumes gets everything', async () => {
    const peer = await pausablePeer();
    const { sip, closes, stats } = await sender({ tcp_async_local_write_timeout: 20, tcp_async_max_postponed_chunks: 100000 });
    const postponed = stats.get('tcp:postponed_writes')!;
    const dest = { host: '127.0.0.1', port: peer.port };
    let n = 0;
    const send = (): Promise<ConnectionInfo> => sip.send(dest, sipReq(`m${n++}`, { method: 'MESSAGE', body: 'b'.repeat(60000) }));
    // fill the kernel buffers until messages stay queued, then a few more
    let conn = await send();
    while (conn.queuedChunks === 0 && n < 3000) conn = await send();
    for (let i = 0; i < 4; i++) conn = await send();
    expect(conn.queuedChunks).toBeGreaterThan(0);
    expect(await until(() => postponed.value() > 0, 5000)).toBe(true);
    await sleep(200); // ten times the timeout, still not reading
    expect(closes).toEqual([]);
    expect(sip.engine.connection(conn.id)).toBeDefined();
    peer.resume();
    expect(await until(() => peer.callIds.length === n, 10000)).toBe(true);
    // none lost, duplicated or reordered
    expect(peer.callIds).toEqual(Array.from({ length: n }, (_, i) => `m${i}@x`));
    expect(closes).toEqual([]);
  });

  it('tcp_async: a peer that never reads, sent a few large messages (under the queue limit), is closed at the connection lifetime', async () => {
    const peer = await stuckPeer();
    const { sip, closes, stats } = await sender({ tcp_async_max_postponed_chunks: 100000 }, 5000, { conLifetime: 1 });
    const dest = { host: '127.0.0.1', port: peer.port };
    const r = await flood(() => sip.send(dest, BIG), 300);
    expect(r.ok).toBe(300);
    expect(await until(() => stats.get('tcp:postponed_writes')!.value() > 0, 5000)).toBe(true);
    expect(await until(() => closes.length > 0, 5000)).toBe(true);
    expect(closes[0]).toMatchObject({ reason: 'Timeout on no traffic', error: { code: 'ERR_CONN_LIFETIME' } });
  });

  it('tcp_async_local_connect_timeout bounds a connect that hangs', async () => {
    const hole = await blackholePeer();
    const fast = await sender({ tcp_async_local_connect_timeout: 50 });
    const t0 = Date.now();
    await expect(fast.sip.send({ host: '127.0.0.1', port: hole.port }, sipReq('c1'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(3000);
    const slow = await sender({ tcp_async_local_connect_timeout: 60000 });
    const settled = await Promise.race([slow.sip.send({ host: '127.0.0.1', port: hole.port }, sipReq('c2')).then(() => 'sent', () => 'failed'), sleep(500).then(() => 'pending')]);
    expect(settled).toBe('pending');
  });
});

describe('alias_mode of the connection profile', () => {
  const aliasesAfter = async (mode: 0 | 1 | 2, via: string, params: Partial<ProtoTcpParams> = {}): Promise<readonly number[]> => {
    const { sip, port } = await responder(params, { defaultProfile: { aliasMode: mode } });
    const peer = await rawPeer(port);
    peer.sock.write(sipReq(`alias-${mode}`, { via }));
    await until(() => peer.messages.length === 1);
    const conn = sip.engine.connections('tcp')[0]!;
    return conn.aliases.slice(1);
  };
  it('0 never, 1 only with ;alias, 2 always; the port is the top Via port or tcp_port', async () => {
    expect(await aliasesAfter(0, 'SIP/2.0/TCP 127.0.0.1:5999;alias;branch=z9hG4bK1')).toEqual([]);
    expect(await aliasesAfter(1, 'SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1')).toEqual([]);
    expect(await aliasesAfter(1, 'SIP/2.0/TCP 127.0.0.1:5999;alias;branch=z9hG4bK1')).toEqual([5999]);
    expect(await aliasesAfter(2, 'SIP/2.0/TCP 127.0.0.1:5998;branch=z9hG4bK1')).toEqual([5998]);
    expect(await aliasesAfter(2, 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1', { tcp_port: 5077 })).toEqual([5077]);
  });

  it('a reply routed by alias reuses the accepted connection', async () => {
    const { sip, port } = await responder({}, { defaultProfile: { aliasMode: 1 } });
    const peer = await rawPeer(port);
    peer.sock.write(sipReq('alias-reuse', { via: 'SIP/2.0/TCP 127.0.0.1:5996;alias;branch=z9hG4bK1' }));
    await until(() => peer.messages.length === 1);
    await sip.send('127.0.0.1:5996', sipReq('back'));
    await until(() => peer.messages.length === 2);
    expect(peer.messages[1]!.toString()).toContain('Call-ID: back@x');
    expect(sip.engine.connections('tcp')).toHaveLength(1);
  });
});

