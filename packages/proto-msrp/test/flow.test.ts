// msrp_relay's flow control (core-conn's pause / resume / drained): a fast sender relayed into
// a reader that stops reading is paused once the relay's queue toward the reader passes the
// high-water mark, so the relay holds a bounded amount; when the reader reads again, the
// sender is resumed and every byte arrives, in order.
import { afterEach, describe, expect, it } from 'vitest';
import { attachMsrp, attachRelay, encodeHeadText, type MsrpRelay, type MsrpRelayParams } from '../src/index.js';
import { Client } from './client.js';
import { node, stop, waitUntil, type Node } from './helpers.js';

const HIGH = 64 << 10;
const LOW = 16 << 10;
const PARAMS: MsrpRelayParams = {
  my_uri: [], auth_route: 'msrp_auth', auth_expires: 1800, auth_min_expires: 0, auth_max_expires: 0,
  calculate_ha1: true, cleanup_interval: 60, nonce_expire: 30, hash_size: 10,
};

let relayNode: Node | undefined;
let relay: MsrpRelay | undefined;
let clients: Client[] = [];
afterEach(async () => {
  relay?.close();
  await stop(relayNode, ...clients.map((c) => c.n));
  relayNode = undefined;
  clients = [];
});

/** A relay with small flow-control marks, alice and bob AUTHed; returns their paths. */
async function setup(): Promise<{ a: Client; b: Client; to: string[]; from: string; aliceIn: () => { paused: boolean } }> {
  // a long send_timeout: bob stops reading on purpose, for as long as the test needs
  relayNode = await node({ listen: true, sendTimeout: 60_000, maxMsgChunks: 0, api: { flowControl: { highWater: HIGH, lowWater: LOW } } });
  const port = relayNode.listener!.address.port;
  const uri = `msrp://127.0.0.1:${port};tcp`;
  relay = attachRelay(relayNode.api, { ...PARAMS, my_uri: [uri] }, { auth: () => 'pw' });
  // alice's writes stall while the relay does not read her: her send_timeout must outlast that
  const a = await new Client('alice').start(relayNode.listener!.address, {}, { sendTimeout: 60_000 });
  // bob receives a 16 MiB message: every read of it counts against max_msg_chunks
  const b = await new Client('bob').start(relayNode.listener!.address, {}, { maxMsgChunks: 0 });
  clients.push(a, b);
  const ua = (await a.auth(uri, { username: 'alice', password: 'pw' })).headers.find((h) => h.name === 'Use-Path')!.value;
  const ub = (await b.auth(uri, { username: 'bob', password: 'pw' })).headers.find((h) => h.name === 'Use-Path')!.value;
  const aPort = a.n.engine.connection(a.connId)!.local.port;
  const aliceIn = (): { paused: boolean } => relayNode!.engine.connections('msrp').find((c) => c.remote.port === aPort)!;
  return { a, b, to: [ub, b.url], from: `${ua} ${a.url}`, aliceIn };
}

function toBob(): number {
  const bobConns = relayNode!.engine.connections('msrp');
  return Math.max(...bobConns.map((c) => c.queuedBytes));
}

describe('msrp_relay flow control', () => {
  it('a 16 MiB streamed SEND into a reader that stops: alice is paused, the relay holds a bounded queue; on resume all of it arrives', async () => {
    const { a, b, to, from, aliceIn } = await setup();
    b.n.engine.pause(b.connId);
    const body = Buffer.alloc(16 << 20);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
    const head = encodeHeadText({
      kind: 'request', method: 'SEND', tid: 'big1', continuation: '$',
      headers: [
        { name: 'To-Path', value: to.join(' ') }, { name: 'From-Path', value: from }, { name: 'Message-ID', value: 'm1' },
        { name: 'Byte-Range', value: `1-${body.length}/${body.length}` }, { name: 'Failure-Report', value: 'no' }, { name: 'Content-Type', value: 'application/octet-stream' },
      ],
    });
    a.n.engine.write(a.connId, Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), body, Buffer.from('\r\n-------big1$\r\n', 'latin1')]));
    await waitUntil(() => aliceIn().paused, 30_000, 'the relay to pause alice');
    expect(relayNode!.api.stats.pauses).toBeGreaterThanOrEqual(1);
    // paused: what the relay queued toward bob passed the low-water mark (else alice would be
    // read again) and stays within the high one plus about a read
    const held = toBob();
    expect(held).toBeGreaterThan(LOW);
    expect(held).toBeLessThan(HIGH + (256 << 10));
    b.n.engine.resume(b.connId);
    await waitUntil(() => b.streams[0]?.flag !== undefined, 60_000, 'the whole body at bob');
    expect(Buffer.concat(b.streams[0]!.pieces).equals(body)).toBe(true);
    expect(b.streams[0]!.flag).toBe('$');
    expect(aliceIn().paused).toBe(false);
  }, 120_000);

  it('8000 small SENDs into a reader that stops: alice is paused at the mark; on resume every SEND arrives, in order', async () => {
    const { a, b, to, from, aliceIn } = await setup();
    b.answer = 0;
    b.n.engine.pause(b.connId);
    const N = 8000;
    const text = Buffer.alloc(900, 0x78);
    const sends: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      const tid = `s${i}`;
      const head = encodeHeadText({
        kind: 'request', method: 'SEND', tid, continuation: '$',
        headers: [
          { name: 'To-Path', value: to.join(' ') }, { name: 'From-Path', value: from }, { name: 'Message-ID', value: `m${i}` },
          { name: 'Byte-Range', value: `1-${text.length}/${text.length}` }, { name: 'Failure-Report', value: 'no' }, { name: 'Content-Type', value: 'text/plain' },
        ],
      });
      sends.push(Buffer.from(`${head}\r\n`, 'latin1'), text, Buffer.from(`\r\n-------${tid}$\r\n`, 'latin1'));
    }
    a.n.engine.write(a.connId, Buffer.concat(sends));
    // the kernel's socket buffers take a few MB before the relay's own queue grows
    await waitUntil(() => aliceIn().paused, 30_000, 'the relay to pause alice');
    expect(toBob()).toBeLessThan(HIGH + (256 << 10));
    b.n.engine.resume(b.connId);
    await waitUntil(() => b.got.length === N, 60_000, 'every SEND at bob');
    expect(b.got.map((r) => r.msg.headers.find((h) => h.name === 'Message-ID')!.value)).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
    expect(aliceIn().paused).toBe(false);
  }, 120_000);
});

describe('sendRequest with a streamed body', () => {
  it('a 3 MiB body from an async generator goes out in pieces, flow-controlled, and arrives whole through the relay', async () => {
    const { a, b, to, from } = await setup();
    const piece = (i: number): Buffer => Buffer.alloc(64 << 10, i & 0xff);
    async function* gen(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 48; i++) yield piece(i);
    }
    const rpl = await a.n.api.sendRequest({
      method: 'SEND', to, from, connectionId: a.connId, contentType: 'application/octet-stream', body: gen(),
      headers: [{ name: 'Message-ID', value: 'gen1' }, { name: 'Byte-Range', value: `1-${48 << 16}/${48 << 16}` }],
    });
    expect(rpl!.msg.status).toBe(200);
    await waitUntil(() => b.streams[0]?.flag !== undefined, 30_000, 'the streamed body at bob');
    expect(b.streams[0]!.flag).toBe('$');
    expect(Buffer.concat(b.streams[0]!.pieces).equals(Buffer.concat(Array.from({ length: 48 }, (_, i) => piece(i))))).toBe(true);
  }, 60_000);

  it('a streamed body that holds CRLF + "-------" across pieces is aborted (the pieces before the one completing it are sent) with "#" and the send rejects ERR_MSRP_INVALID', async () => {
    const { a, b, to, from } = await setup();
    const pieces = [Buffer.alloc(100_000, 0x61), Buffer.from('x\r\n---'), Buffer.from('-'), Buffer.from('---more')];
    await expect(
      a.n.api.sendRequest({
        method: 'SEND', to, from, connectionId: a.connId, contentType: 'text/plain', body: pieces,
        headers: [{ name: 'Message-ID', value: 'bad1' }, { name: 'Byte-Range', value: '1-*/*' }],
      }),
    ).rejects.toMatchObject({ code: 'ERR_MSRP_INVALID' });
    await waitUntil(() => b.streams[0]?.flag !== undefined, 30_000, 'the aborted message at bob');
    expect(b.streams[0]!.flag).toBe('#');
    expect(Buffer.concat(b.streams[0]!.pieces).toString('latin1')).toBe(`${'a'.repeat(100_000)}x\r\n----`);
  }, 60_000);
});

describe('flowControl options', () => {
  it('are validated: 0 <= lowWater <= highWater (ERR_INVALID_OPTION)', async () => {
    const n = await node({});
    try {
      expect(() => attachMsrp(n.engine, { flowControl: { highWater: 10, lowWater: 20 } })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }) as Error);
      expect(() => attachMsrp(n.engine, { flowControl: { highWater: -1 } })).toThrow(/lowWater <= highWater/);
    } finally {
      await stop(n);
    }
  });
});
