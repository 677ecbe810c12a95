import fc from 'fast-check';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../engine/types.js';
import { createStatsRegistry } from '../stats.js';
import type { StatsRegistry } from '../module/contract.js';
import type { CloseEvent, Framer, FramerSink, ListenerInfo, ProtocolSpec } from '../types.js';
import { createTestEngine, fakeConnection, rawConnect, waitForEvent, waitUntil } from './engine.js';

export interface FramerComplianceOptions<M> {
  /** suite title, e.g. 'proto-tcp SIP framer' */
  name: string;
  /** the protocol spec; its createFramer is used, and it is registered on a real engine (as plain tcp) */
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
}

function isProtocolError(e: unknown): boolean {
  // by name, so two copies of core-conn in one tree still agree
  return e instanceof Error && e.name === 'ProtocolError' && typeof (e as { code?: unknown }).code === 'string';
}

function defaultEquals<M>(a: M, b: M): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  expect(a).toEqual(b);
  return true;
}

class Collect<M> implements FramerSink<M> {
  readonly messages: M[] = [];
  keepalives = 0;
  message(m: M): void {
    this.messages.push(m);
  }
  keepalive(): void {
    this.keepalives++;
  }
  reply(): void {}
}

function pushAt<M>(framer: Framer<M>, bytes: Buffer, cuts: number[], sink: FramerSink<M>): void {
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const o of [...offsets, bytes.length]) {
    if (o > prev) {
      // a private copy per read, as a socket gives
      framer.push(Buffer.from(bytes.subarray(prev, o)), sink);
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
export function framerChecks<M>(opts: Pick<FramerComplianceOptions<M>, 'spec' | 'encode' | 'arbitraryMessage' | 'equals' | 'garbage' | 'numRuns'>): {
  splitAnywhere(): void;
  byteByByte(): void;
  garbage(): void;
  garbageAfterValid(): void;
} {
  const { spec, encode, arbitraryMessage } = opts;
  const equals = opts.equals ?? defaultEquals;
  const numRuns = opts.numRuns ?? 200;
  const newFramer = (): Framer<M> => spec.createFramer!(fakeConnection(spec));
  return {
    splitAnywhere() {
      fc.assert(
        fc.property(fc.array(arbitraryMessage, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, cuts) => {
          const sink = new Collect<M>();
          const framer = newFramer();
          pushAt(framer, Buffer.concat(msgs.map(encode)), cuts, sink);
          expect(sink.messages.length).toBe(msgs.length);
          for (let i = 0; i < msgs.length; i++) expect(equals(sink.messages[i]!, msgs[i]!)).toBe(true);
          expect(framer.pendingBytes).toBe(0);
        }),
        { numRuns },
      );
    },
    byteByByte() {
      fc.assert(
        fc.property(fc.array(arbitraryMessage, { minLength: 1, maxLength: 3 }), (msgs) => {
          const bytes = Buffer.concat(msgs.map(encode));
          const sink = new Collect<M>();
          const framer = newFramer();
          for (let i = 0; i < bytes.length; i++) framer.push(bytes.subarray(i, i + 1), sink);
          expect(sink.messages.length).toBe(msgs.length);
          for (let i = 0; i < msgs.length; i++) expect(equals(sink.messages[i]!, msgs[i]!)).toBe(true);
          expect(framer.pendingBytes).toBe(0);
        }),
        { numRuns: Math.max(10, Math.floor(numRuns / 10)) },
      );
    },
    garbage() {
      fc.assert(
        fc.property(opts.garbage ?? fc.uint8Array({ maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 20 }), (junk, cuts) => {
          const framer = newFramer();
          try {
            pushAt(framer, Buffer.from(junk), cuts, new Collect<M>());
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
          const sink = new Collect<M>();
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

function describeEngine<M>(opts: FramerComplianceOptions<M>): void {
  const { encode } = opts;
  const MAX_CHUNKS = 3;
  let engine: Engine | undefined;
  const sockets: Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await engine?.shutdown({ deadlineMs: 100 });
    engine = undefined;
  });

  async function setup(over: Partial<ProtocolSpec<M>>): Promise<{ engine: Engine; l: ListenerInfo; stats: StatsRegistry; healthy: Healthy }> {
    const stats = createStatsRegistry();
    const spec = { ...opts.spec, transport: 'tcp' as const, ...over } as ProtocolSpec<unknown>;
    engine = createTestEngine([spec], { stats, defaultProfile: { msgReadTimeout: 0.25 } });
    const e = engine;
    e.on('message', (ev) => {
      void e.send(spec.name, ev.conn.remote, encode(ev.message as M), { connectionId: ev.conn.id }).catch(() => undefined);
    });
    const l = await e.listen({ proto: spec.name, host: '127.0.0.1', port: 0 });
    const healthy = await startHealthy(l, fc.sample(opts.arbitraryMessage, { numRuns: 5, seed: 7 }).map(encode));
    sockets.push(healthy.sock);
    return { engine: e, l, stats, healthy };
  }

  async function expectClose(e: Engine, sock: Socket, code: string, reason: CloseEvent['reason'], send: () => Promise<void>, healthy: Healthy): Promise<void> {
    const closed = waitForEvent(e, 'close', (ev) => ev.conn.remote.port === sock.localPort, 5000);
    await send();
    const ev = await closed;
    expect(ev.reason).toBe(reason);
    expect((ev.error as { code?: string } | undefined)?.code).toBe(code);
    await healthy.check();
  }

  const incomplete = pickIncomplete(opts);

  it(`closes a connection whose message needs more than max_msg_chunks (${MAX_CHUNKS}) reads (ERR_CONN_MAX_CHUNKS)`, async () => {
    if (incomplete.length < MAX_CHUNKS + 1) throw new Error('the incomplete message is too short for the chunk test; pass `incomplete`');
    const { engine: e, l, stats, healthy } = await setup({ maxMsgChunks: MAX_CHUNKS });
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
    const { engine: e, l, healthy } = await setup({ maxMsgBytes: Math.max(1, Math.floor(incomplete.length / 2)), maxMsgChunks: 0 });
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
}

interface Healthy {
  sock: Socket;
  /** sends one message and waits for its echo */
  exchange(): Promise<void>;
  keepTalking(everyMs: number): () => void;
  /** every message sent so far was echoed back, byte for byte, and the socket is open */
  check(): Promise<void>;
}

async function startHealthy(l: ListenerInfo, samples: Buffer[]): Promise<Healthy> {
  const sock = await rawConnect(l);
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
    await waitUntil(() => received.length >= expected(), 5000, 'the healthy connection to get its echoes');
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
