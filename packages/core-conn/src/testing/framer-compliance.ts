import fc from 'fast-check';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine/types.js';
import { ProtocolError } from '../errors.js';
import { createStatsRegistry } from '../stats.js';
import type { StatsRegistry } from '../module/contract.js';
import type { CloseEvent, ConnectionId, Framer, ListenerInfo, ProtocolSpec, StreamingSink } from '../types.js';
import { createTestEngine, fakeConnection, waitForEvent, waitUntil } from './engine.js';

export interface FramerComplianceOptions<M> {
  /** suite title, e.g. 'proto-tcp SIP framer' */
  name: string;
  /** the protocol spec; its createFramer is used, and it is registered on a real engine (over `transport`) */
  spec: ProtocolSpec<M>;
  /** serialises a message to the exact bytes a peer would send */
  encode: (m: M) => Buffer;
  /** messages to frame; fast-check shrinks failures */
  arbitraryMessage: fc.Arbitrary<M>;
  /** compares a framed message with the original (default: byte-equal for Buffers, deep equal otherwise) */
  equals?: (framed: M, original: M) => boolean;
  /** random hostile bytes (default: any bytes up to 4 KiB) */
  garbage?: fc.Arbitrary<Uint8Array>;
  /** the start of a message that is not complete yet, at least 8 bytes (default: the longest sampled message minus its last byte) */
  incomplete?: Buffer;
  /** fast-check runs per property (default 200) */
  numRuns?: number;
  /** skip the socket tests (framer properties only) */
  skipEngine?: boolean;
  /**
   * Streaming framers: rebuilds a whole message from what the framer reported with
   * `head(msg)`, the `part(bytes)` pieces (concatenated) and `end()`, for comparison with the
   * original. Without it a framer that calls `head` fails the suite.
   */
  assemble?: (head: M, body: Buffer) => M;
  /**
   * Streaming framers: a message the framer streams whose encoding is larger than
   * `spec.maxMsgBytes` and mostly body (the engine tests cut it at 3/4). With `assemble`, the
   * engine tests check that it crosses the engine whole and is counted once, and that an EOF,
   * a stall or too many reads inside its body close the connection as for a buffered message.
   */
  streamedMessage?: M;
  /** the transport of the engine tests (default 'tcp'); 'tls' needs `tls` */
  transport?: 'tcp' | 'tls';
  /** the server certificate and key (PEM) of the engine tests over TLS */
  tls?: { certificate: string; privateKey: string };
}

function isProtocolError(e: unknown): boolean {
  // ProtocolError's instanceof holds across two copies of core-conn in one tree (a Symbol.for brand)
  return e instanceof ProtocolError && typeof e.code === 'string';
}

function defaultEquals<M>(a: M, b: M): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  expect(a).toEqual(b);
  return true;
}

/** Collects what a framer reports; streamed messages are assembled (and must be well nested). */
class Collect<M> implements StreamingSink<M> {
  readonly messages: M[] = [];
  keepalives = 0;
  streamed = 0;
  private cur: { head: M; parts: Buffer[] } | null = null;
  constructor(private readonly assemble?: (head: M, body: Buffer) => M) {}
  get inMessage(): boolean {
    return this.cur !== null;
  }
  message(m: M): void {
    if (this.cur) throw new Error('framer contract: message() while a streamed message is in progress');
    this.messages.push(m);
  }
  keepalive(): void {
    this.keepalives++;
  }
  reply(): void {}
  head(m: M): void {
    if (!this.assemble) throw new Error('framer contract: the framer streamed a message (head()) but the suite was given no `assemble` option');
    if (this.cur) throw new Error('framer contract: head() while a streamed message is in progress');
    this.cur = { head: m, parts: [] };
  }
  part(b: Buffer): void {
    if (!this.cur) throw new Error('framer contract: part() outside a streamed message');
    this.cur.parts.push(Buffer.from(b));
  }
  end(): void {
    if (!this.cur) throw new Error('framer contract: end() outside a streamed message');
    this.messages.push(this.assemble!(this.cur.head, Buffer.concat(this.cur.parts)));
    this.cur = null;
    this.streamed++;
  }
}

function pushAt<M>(framer: Framer<M>, bytes: Buffer, cuts: number[], sink: StreamingSink<M>, after?: () => void): void {
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const o of [...offsets, bytes.length]) {
    if (o > prev) {
      // a private copy per read, as a socket gives
      framer.push(Buffer.from(bytes.subarray(prev, o)), sink);
      after?.();
      prev = o;
    }
  }
}

/**
 * Registers vitest blocks that hold a protocol's framer to the core-conn contract: messages
 * split at any offsets frame back in order, garbage only ever throws ProtocolError, and on a
 * real engine the chunk limit, the size cap and the read timeout close the offending
 * connection while a healthy one keeps exchanging messages.
 */
/**
 * The framer properties as plain functions that throw on failure (fast-check reports the
 * shrunk counter-example). `runFramerCompliance` wraps each in an `it`.
 */
export function framerChecks<M>(opts: Pick<FramerComplianceOptions<M>, 'spec' | 'encode' | 'arbitraryMessage' | 'equals' | 'garbage' | 'numRuns' | 'assemble' | 'streamedMessage'>): {
  splitAnywhere(): void;
  byteByByte(): void;
  garbage(): void;
  garbageAfterValid(): void;
  /** streaming: what the framer buffers stays within spec.maxMsgBytes at every split, while the streamed message passes whole */
  boundedBuffer(): void;
} {
  const { spec, encode, arbitraryMessage } = opts;
  const equals = opts.equals ?? defaultEquals;
  const numRuns = opts.numRuns ?? 200;
  const newFramer = (): Framer<M> => spec.createFramer!(fakeConnection(spec));
  return {
    splitAnywhere() {
      fc.assert(
        fc.property(fc.array(arbitraryMessage, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
          const sink = new Collect<M>(opts.assemble);
          const framer = newFramer();
          pushAt(framer, Buffer.concat(msgs.map(encode)), cuts, sink);
          expect(sink.messages.length).toBe(msgs.length);
          for (let i = 0; i < msgs.length; i++) expect(equals(sink.messages[i]!, msgs[i]!)).toBe(true);
          expect(framer.pendingBytes).toBe(0);
          expect(sink.inMessage).toBe(false);
        }),
        { numRuns },
      );
    },
    byteByByte() {
      fc.assert(
        fc.property(fc.array(arbitraryMessage, { minLength: 1, maxLength: 3 }), (msgs) => {
          const bytes = Buffer.concat(msgs.map(encode));
          const sink = new Collect<M>(opts.assemble);
          const framer = newFramer();
          for (let i = 0; i < bytes.length; i++) framer.push(bytes.subarray(i, i + 1), sink);
          expect(sink.messages.length).toBe(msgs.length);
          for (let i = 0; i < msgs.length; i++) expect(equals(sink.messages[i]!, msgs[i]!)).toBe(true);
          expect(framer.pendingBytes).toBe(0);
          expect(sink.inMessage).toBe(false);
        }),
        { numRuns: Math.max(10, Math.floor(numRuns / 10)) },
      );
    },
    garbage() {
      fc.assert(
        fc.property(opts.garbage ?? fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 20 }), (junk, cuts) => {
          const framer = newFramer();
          try {
            pushAt(framer, Buffer.from(junk), cuts, new Collect<M>(opts.assemble));
          } catch (e) {
            if (!isProtocolError(e)) throw e;
          }
        }),
        { numRuns },
      );
    },
    garbageAfterValid() {
      fc.assert(
        fc.property(fc.array(arbitraryMessage, { maxLength: 3 }), opts.garbage ?? fc.uint8Array({ maxLength: 512 }), (msgs, junk) => {
          const framer = newFramer();
          const sink = new Collect<M>(opts.assemble);
          try {
            framer.push(Buffer.concat([...msgs.map(encode), Buffer.from(junk)]), sink);
          } catch (e) {
            if (!isProtocolError(e)) throw e;
          }
          expect(sink.messages.length).toBeGreaterThanOrEqual(msgs.length);
        }),
        { numRuns },
      );
    },
    boundedBuffer() {
      const big = opts.streamedMessage;
      if (big === undefined || !opts.assemble) throw new Error('boundedBuffer needs `assemble` and `streamedMessage`');
      const bytes = encode(big);
      if (bytes.length <= spec.maxMsgBytes) throw new Error(`streamedMessage must encode to more than spec.maxMsgBytes (${spec.maxMsgBytes}) bytes, it has ${bytes.length}`);
      fc.assert(
        fc.property(fc.array(fc.nat(), { maxLength: 60 }), (cuts) => {
          const sink = new Collect<M>(opts.assemble);
          const framer = newFramer();
          let most = 0;
          pushAt(framer, bytes, cuts, sink, () => (most = Math.max(most, framer.pendingBytes)));
          expect(most).toBeLessThanOrEqual(spec.maxMsgBytes);
          expect(sink.streamed).toBe(1);
          expect(sink.messages.length).toBe(1);
          expect(equals(sink.messages[0]!, big)).toBe(true);
        }),
        { numRuns: Math.max(10, Math.floor(numRuns / 4)) },
      );
    },
  };
}

/**
 * Registers vitest blocks that hold a protocol's framer to the core-conn contract: messages
 * split at any offsets frame back in order, garbage only ever throws ProtocolError, and on a
 * real engine the chunk limit, the size cap and the read timeout close the offending
 * connection while a healthy one keeps exchanging messages.
 */
export function runFramerCompliance<M>(opts: FramerComplianceOptions<M>): void {
  const checks = framerChecks(opts);
  describe(`${opts.name}: framer compliance`, () => {
    it('frames any stream of messages split at any offsets, in order and exactly', () => checks.splitAnywhere());
    it('frames a stream fed one byte per read', () => checks.byteByByte());
    it('never throws anything but a ProtocolError on garbage, at any split', () => checks.garbage());
    it('never throws anything but a ProtocolError on garbage after valid messages', () => checks.garbageAfterValid());
    if (opts.assemble && opts.streamedMessage !== undefined) {
      it('streams a message larger than maxMsgBytes while buffering at most maxMsgBytes, at any split', () => checks.boundedBuffer());
    }
    if (opts.skipEngine) return;
    describeEngine(opts);
  });
}

function pickIncomplete<M>(opts: FramerComplianceOptions<M>): Buffer {
  if (opts.incomplete) return opts.incomplete;
  const samples = fc.sample(opts.arbitraryMessage, { numRuns: 60, seed: 42 }).map(opts.encode);
  samples.sort((a, b) => b.length - a.length);
  const longest = samples[0]!;
  return longest.subarray(0, longest.length - 1);
}

/** A client socket to a listener, plain or TLS (any server certificate), once connected / handshaken. */
function dial(l: ListenerInfo, transport: 'tcp' | 'tls'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s: Socket =
      transport === 'tls'
        ? tlsConnect({ host: l.address.host, port: l.address.port, rejectUnauthorized: false }, () => done())
        : netConnect({ host: l.address.host, port: l.address.port }, () => done());
    const done = (): void => {
      s.removeListener('error', reject);
      // the engine closes offending connections (a reset, for TLS often): the tests watch the
      // engine's close events, and an error here must not become an uncaught exception
      s.on('error', () => {});
      resolve(s);
    };
    s.once('error', reject);
  });
}

function describeEngine<M>(opts: FramerComplianceOptions<M>): void {
  const { encode } = opts;
  const MAX_CHUNKS = 3;
  const transport = opts.transport ?? 'tcp';
  if (transport === 'tls' && !opts.tls) throw new Error('runFramerCompliance: transport "tls" needs the `tls` option (certificate and privateKey)');
  if (opts.assemble && opts.incomplete === undefined) throw new Error('runFramerCompliance: a streaming framer (`assemble`) needs `incomplete`: the start of a message that ends inside what the framer buffers (its head)');
  const rawConnect = (l: ListenerInfo): Promise<Socket> => dial(l, transport);
  let engine: Engine | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await engine?.shutdown({ deadlineMs: 100 });
    engine = undefined;
  });

  /** `readTimeout`: msg_read_timeout in s (short for the timeout tests, long where a busy machine must not turn another limit into it) */
  async function setup(over: Partial<ProtocolSpec<M>>, readTimeout = 0.25): Promise<{ engine: Engine; l: ListenerInfo; stats: StatsRegistry; healthy: Healthy }> {
    const stats = createStatsRegistry();
    const spec = { ...opts.spec, transport, ...over } as ProtocolSpec<unknown>;
    const tlsDomains = opts.tls ? [{ name: 'compliance', side: 'server' as const, certificate: opts.tls.certificate, privateKey: opts.tls.privateKey, requireCert: false, verifyCert: false }] : [];
    engine = createTestEngine([spec], { stats, defaultProfile: { msgReadTimeout: readTimeout }, tlsDomains, tlsHandshakeTimeout: 10_000 });
    const e = engine;
    const echo = (id: ConnectionId, m: M): void => {
      try {
        e.write(id, encode(m));
      } catch {
        /* the connection is gone */
      }
    };
    e.on('message', (ev) => echo(ev.conn.id, ev.message as M));
    // streamed messages: assembled per connection, echoed whole at their end
    const streams = new Map<ConnectionId, { head: M; parts: Buffer[] }>();
    e.on('messageStart', (ev) => streams.set(ev.conn.id, { head: ev.message as M, parts: [] }));
    e.on('messagePart', (ev) => streams.get(ev.conn.id)?.parts.push(Buffer.from(ev.data)));
    e.on('messageEnd', (ev) => {
      const st = streams.get(ev.conn.id);
      streams.delete(ev.conn.id);
      if (st && opts.assemble) echo(ev.conn.id, opts.assemble(st.head, Buffer.concat(st.parts)));
    });
    e.on('close', (ev) => streams.delete(ev.conn.id));
    const l = await e.listen({ proto: spec.name, host: '127.0.0.1', port: 0 });
    const healthy = await startHealthy(l, fc.sample(opts.arbitraryMessage, { numRuns: 5, seed: 7 }).map(encode), rawConnect);
    sockets.push(healthy.sock);
    return { engine: e, l, stats, healthy };
  }

  async function expectClose(e: Engine, sock: Socket, code: string, reason: CloseEvent['reason'], send: () => Promise<void>, healthy: Healthy): Promise<void> {
    const closed = waitForEvent(e, 'close', (ev) => ev.conn.remote.port === sock.localPort, 15_000);
    await send();
    const ev = await closed;
    expect(ev.reason).toBe(reason);
    expect((ev.error as { code?: string } | undefined)?.code).toBe(code);
    await healthy.check();
  }

  const incomplete = pickIncomplete(opts);

  it(`closes a connection whose message needs more than max_msg_chunks (${MAX_CHUNKS}) reads (ERR_CONN_MAX_CHUNKS)`, async () => {
    if (incomplete.length < MAX_CHUNKS + 1) throw new Error('the incomplete message is too short for the chunk test; pass `incomplete`');
    const { engine: e, l, stats, healthy } = await setup({ maxMsgChunks: MAX_CHUNKS }, 30);
    const sock = await rawConnect(l);
    sockets.push(sock);
    const rcv = stats.get(`${opts.spec.name}:rcv_bytes`)!;
    await expectClose(e, sock, 'ERR_CONN_MAX_CHUNKS', 'Too many read chunks', async () => {
      for (let i = 0; i < MAX_CHUNKS; i++) {
        const before = rcv.value();
        sock.write(incomplete.subarray(i, i + 1));
        // one server read per piece
        await waitUntil(() => rcv.value() > before || sock.destroyed, 2000, 'the server to read a piece');
        await healthy.exchange();
      }
    }, healthy);
  });

  it('closes a connection whose pending message passes maxMsgBytes (ERR_CONN_MSG_TOO_BIG)', async () => {
    const { engine: e, l, healthy } = await setup({ maxMsgBytes: Math.max(1, Math.floor(incomplete.length / 2)), maxMsgChunks: 0 }, 30);
    const sock = await rawConnect(l);
    sockets.push(sock);
    await expectClose(e, sock, 'ERR_CONN_MSG_TOO_BIG', 'Message too big', async () => {
      sock.write(incomplete);
      await healthy.exchange();
    }, healthy);
  });

  it('closes a connection idle with a partial message past msg_read_timeout (ERR_CONN_READ_TIMEOUT)', async () => {
    const { engine: e, l, healthy } = await setup({ maxMsgChunks: 0 });
    const sock = await rawConnect(l);
    sockets.push(sock);
    const stop = healthy.keepTalking(25);
    try {
      await expectClose(e, sock, 'ERR_CONN_READ_TIMEOUT', 'Timeout waiting for a complete message', async () => {
        sock.write(incomplete);
      }, healthy);
    } finally {
      stop();
    }
    expect(e.connections().length).toBe(1);
  });

  const big = opts.streamedMessage;
  if (!opts.assemble || big === undefined) return;
  /** until the engine holds `sock`'s connection inside a streamed message */
  const streamStarted = (e: Engine, sock: Socket): Promise<void> =>
    waitUntil(() => e.connections().some((c) => c.remote.port === sock.localPort && c.inMessage), 15_000, 'the streamed message to start');
  const bigBytes = encode(big);
  const cut = Math.floor((bigBytes.length * 3) / 4);

  it('passes a streamed message larger than maxMsgBytes whole, counted once in rcv_msgs', async () => {
    const { engine: e, l, stats, healthy } = await setup({ maxMsgChunks: 0 }, 30);
    const sock = await rawConnect(l);
    sockets.push(sock);
    const rcvMsgs = stats.get(`${opts.spec.name}:rcv_msgs`)!;
    const before = rcvMsgs.value();
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.write(bigBytes.subarray(0, cut));
    await streamStarted(e, sock);
    sock.write(bigBytes.subarray(cut));
    await waitUntil(() => got.length >= bigBytes.length, 10_000, 'the streamed message to be echoed');
    expect(got.equals(bigBytes)).toBe(true);
    expect(rcvMsgs.value() - before).toBe(1);
    await healthy.check();
  });

  it('closes a connection that sends EOF inside a streamed message (ERR_CONN_EOF)', async () => {
    const { engine: e, l, healthy } = await setup({ maxMsgChunks: 0 }, 30);
    const sock = await rawConnect(l);
    sockets.push(sock);
    await expectClose(e, sock, 'ERR_CONN_EOF', 'EOF received', async () => {
      sock.write(bigBytes.subarray(0, cut));
      await streamStarted(e, sock);
      sock.end();
    }, healthy);
  });

  it('closes a connection that stalls inside a streamed message past msg_read_timeout (ERR_CONN_READ_TIMEOUT)', async () => {
    const { engine: e, l, healthy } = await setup({ maxMsgChunks: 0 });
    const sock = await rawConnect(l);
    sockets.push(sock);
    const stop = healthy.keepTalking(25);
    try {
      await expectClose(e, sock, 'ERR_CONN_READ_TIMEOUT', 'Timeout waiting for a complete message', async () => {
        sock.write(bigBytes.subarray(0, cut));
      }, healthy);
    } finally {
      stop();
    }
  });

  it(`counts the reads of a streamed message against max_msg_chunks (${MAX_CHUNKS}) (ERR_CONN_MAX_CHUNKS)`, async () => {
    const { engine: e, l, stats, healthy } = await setup({ maxMsgChunks: MAX_CHUNKS }, 30);
    const sock = await rawConnect(l);
    sockets.push(sock);
    const rcv = stats.get(`${opts.spec.name}:rcv_bytes`)!;
    const step = Math.max(1, Math.floor(cut / (MAX_CHUNKS + 1)));
    await expectClose(e, sock, 'ERR_CONN_MAX_CHUNKS', 'Too many read chunks', async () => {
      for (let i = 0; i < MAX_CHUNKS && !sock.destroyed; i++) {
        const before = rcv.value();
        sock.write(bigBytes.subarray(i * step, (i + 1) * step));
        await waitUntil(() => rcv.value() > before || sock.destroyed, 2000, 'the server to read a piece');
      }
    }, healthy);
  });
}

interface Healthy {
  sock: Socket;
  /** sends one message and waits for its echo */
  exchange(): Promise<void>;
  keepTalking(everyMs: number): () => void;
  /** every message sent so far was echoed back, byte for byte, and the socket is open */
  check(): Promise<void>;
}

async function startHealthy(l: ListenerInfo, samples: Buffer[], connect: (l: ListenerInfo) => Promise<Socket>): Promise<Healthy> {
  const sock = await connect(l);
  let received = Buffer.alloc(0);
  const sent: Buffer[] = [];
  sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
  let i = 0;
  const sendOne = (): void => {
    const m = samples[i++ % samples.length]!;
    sent.push(m);
    sock.write(m);
  };
  const expected = (): number => sent.reduce((n, b) => n + b.length, 0);
  const check = async (): Promise<void> => {
    await waitUntil(() => received.length >= expected(), 15_000, 'the healthy connection to get its echoes');
    expect(received.equals(Buffer.concat(sent))).toBe(true);
    expect(sock.destroyed).toBe(false);
  };
  return {
    sock,
    exchange: async () => {
      sendOne();
      await check();
    },
    keepTalking: (everyMs) => {
      const t = setInterval(sendOne, everyMs);
      return () => clearInterval(t);
    },
    check,
  };
}
