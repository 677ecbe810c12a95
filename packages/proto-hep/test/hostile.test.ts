// Issue 5 "Hostile": every bad peer at once, on real sockets, while a good connection streams.
// Each bad connection is closed with its typed error; the good one loses nothing.
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createStatsRegistry, type CloseEvent, type Engine } from '@x/core-conn';
import { createTestEngine, rawConnect, waitForEvent, waitUntil } from '@x/core-conn/testing';
import { attachHep, encodeChunks, hepTcpSpec, hepUdpSpec, packHep, PROTO_HEP_DEFAULTS, type HepApi, type HepReceived } from '../src/index.js';

let engine: Engine | undefined;
let hep: HepApi | undefined;
const sockets: Socket[] = [];
let udpPeer: DgramSocket | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  udpPeer?.close();
  udpPeer = undefined;
  hep?.close();
  hep = undefined;
  await engine?.shutdown({ deadlineMs: 100 });
  engine = undefined;
});

const from = { host: '10.0.0.1', port: 5060 };
const to = { host: '10.0.0.2', port: 5070 };
const sip = (n: number) => `OPTIONS sip:${n}@example.com SIP/2.0\r\nCall-ID: good-${n}\r\n\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** header + announced total, then `body` */
const v3Header = (total: number, body: Buffer = Buffer.alloc(0)) => {
  const h = Buffer.from('HEP3\0\0', 'latin1');
  h.writeUInt16BE(total, 4);
  return Buffer.concat([h, body]);
};

/** 10k chunks of 6 bytes (no data) and a payload: a valid 60 kB packet */
const tenKEmpty = encodeChunks([
  ...Array.from({ length: 10_000 }, () => ({ vendor: 0, type: 0x99, data: Buffer.alloc(0) })),
  { vendor: 0, type: 0x0f, data: Buffer.from(sip(-1)) },
]);
/** 10k chunk headers whose length word is 0 */
const tenKZeroLength = (() => {
  const b = Buffer.alloc(6 + 10_000 * 6);
  b.write('HEP3', 0, 'latin1');
  b.writeUInt16BE(b.length, 4);
  for (let o = 6; o < b.length; o += 6) b.writeUInt16BE(0x99, o + 2);
  return b;
})();
const chunkPastEnd = (() => {
  const b = packHep(from, to, 'udp', sip(0));
  b.writeUInt16BE(0xfff0, 6 + 4);
  return b;
})();
/** 65535 announced and sent in full, but the first chunk claims more than is left */
const full65535Garbage = (() => {
  const b = Buffer.alloc(65535, 0x5a);
  b.write('HEP3', 0, 'latin1');
  b.writeUInt16BE(65535, 4);
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(0x0f, 8);
  b.writeUInt16BE(65535, 10);
  return b;
})();

interface Bad {
  what: string;
  /** writes its bytes; resolves when done writing */
  run(s: Socket): Promise<void>;
  /** the close error code expected, or 'open' when the bytes are a valid packet */
  code: string;
}

const whole = (b: Buffer) => (s: Socket) => new Promise<void>((r) => s.write(b, () => r()));
const bad: Bad[] = [
  { what: 'length word 0', run: whole(v3Header(0, Buffer.alloc(40))), code: 'ERR_HEP_LENGTH' },
  { what: 'length word 5', run: whole(v3Header(5, Buffer.alloc(40))), code: 'ERR_HEP_LENGTH' },
  { what: 'length word 65535, then silence', run: whole(v3Header(65535, Buffer.alloc(100))), code: 'ERR_CONN_READ_TIMEOUT' },
  { what: 'length word 65535, 65535 bytes, chunk past the end', run: whole(full65535Garbage), code: 'ERR_HEP_CHUNK_LENGTH' },
  { what: 'chunk length past the end', run: whole(chunkPastEnd), code: 'ERR_HEP_CHUNK_LENGTH' },
  { what: '10k chunks with length word 0', run: whole(tenKZeroLength), code: 'ERR_HEP_CHUNK_LENGTH' },
  { what: 'HEPv1', run: whole(packHep(from, to, 'udp', sip(0), { version: 1 })), code: 'ERR_HEP_MAGIC' },
  { what: 'HEPv2', run: whole(packHep(from, to, 'udp', sip(0), { version: 2 })), code: 'ERR_HEP_MAGIC' },
  { what: 'HEP2 magic', run: whole(Buffer.from('HEP2\0\x30', 'latin1')), code: 'ERR_HEP_VERSION' },
  { what: 'SIP text on the HEP port', run: whole(Buffer.from(sip(0))), code: 'ERR_HEP_MAGIC' },
  {
    what: '1 byte at a time',
    run: async (s) => {
      s.setNoDelay(true);
      const b = packHep(from, to, 'tcp', sip(0));
      for (let i = 0; i < b.length && !s.destroyed; i++) {
        s.write(b.subarray(i, i + 1));
        await sleep(4);
      }
    },
    code: 'ERR_CONN_MAX_CHUNKS',
  },
  { what: '10k zero-data chunks (valid)', run: whole(tenKEmpty), code: 'open' },
];

describe('hostile HEP peers', () => {
  it('hep_tcp: each bad connection closes with its typed error; a streaming good connection loses nothing', async () => {
    const stats = createStatsRegistry();
    const p = { ...PROTO_HEP_DEFAULTS, hep_max_msg_chunks: 16 };
    engine = createTestEngine([hepUdpSpec(p) as never, hepTcpSpec(p) as never], { stats, defaultProfile: { msgReadTimeout: 0.4 } });
    hep = attachHep(engine, p, { stats });
    const tcp = await engine.listen('hep_tcp:127.0.0.1:0');
    const got: HepReceived[] = [];
    hep.registerHepCallback((r) => void got.push(r));

    const good = await rawConnect(tcp);
    sockets.push(good);
    const N = 400;
    const streaming = (async () => {
      // small irregular slices, so packets are split and merged across reads during the attack
      const stream = Buffer.concat(Array.from({ length: N }, (_, i) => packHep(from, to, 'tcp', sip(i), { captureId: 7 })));
      for (let i = 0, k = 0; i < stream.length; k++) {
        const n = 1 + ((k * 7919) % 301);
        good.write(stream.subarray(i, i + n));
        i += n;
        if (k % 8 === 0) await sleep(1);
      }
    })();

    const results = await Promise.all(
      bad.map(async (b) => {
        const s = await rawConnect(tcp);
        sockets.push(s);
        s.on('error', () => undefined);
        const port = s.localPort;
        const closed = waitForEvent(engine!, 'close', (ev: CloseEvent) => ev.conn.remote.port === port, 10_000);
        if (b.code === 'open') {
          void closed.catch(() => undefined);
          await b.run(s);
          await waitUntil(() => got.some((g) => g.packet.vendorChunks?.length === 10_000), 5000, b.what);
          return [b.what, engine!.connections('hep_tcp').some((c) => c.remote.port === port) ? 'open' : 'closed'];
        }
        await b.run(s);
        const ev = await closed;
        return [b.what, (ev.error as { code?: string } | undefined)?.code ?? ev.reason];
      }),
    );
    expect(Object.fromEntries(results)).toEqual(Object.fromEntries(bad.map((b) => [b.what, b.code])));

    await streaming;
    const goods = () => got.filter((g) => g.packet.captureId === 7);
    await waitUntil(() => goods().length === N, 10_000, `${N} good packets`);
    expect(goods().map((g) => g.payload.toString())).toEqual(Array.from({ length: N }, (_, i) => sip(i)));
    expect(engine.connections('hep_tcp').some((c) => c.remote.port === good.localPort)).toBe(true);
    // one more after everything: the good connection is still served
    good.write(packHep(from, to, 'tcp', sip(N), { captureId: 7 }));
    await waitUntil(() => goods().length === N + 1, 3000, 'the last good packet');
    expect(hep.counts()).toMatchObject({ received: N + 2, dropped: 0 });
  });

  it('hep_udp: bad datagrams are counted as protocol errors; good ones from the same and other peers all arrive', async () => {
    const stats = createStatsRegistry();
    engine = createTestEngine([hepUdpSpec() as never, hepTcpSpec() as never], { stats });
    hep = attachHep(engine, {}, { stats });
    const udp = await engine.listen('hep_udp:127.0.0.1:0');
    const got: HepReceived[] = [];
    hep.registerHepCallback((r) => void got.push(r));
    const errors: string[] = [];
    engine.on('error', (ev) => errors.push((ev.error as { code?: string }).code ?? '?'));

    const hostile = [
      v3Header(0, Buffer.alloc(40)), v3Header(5, Buffer.alloc(40)), v3Header(65535, Buffer.alloc(100)), full65535Garbage.subarray(0, 60_000),
      chunkPastEnd, tenKZeroLength, Buffer.from('HEP2 is not a thing at all'), Buffer.from(sip(0)),
      encodeChunks([{ vendor: 0, type: 1, data: Buffer.from([2]) }, { vendor: 0, type: 3, data: Buffer.from([10, 0, 0, 1]) }, { vendor: 0, type: 4, data: Buffer.from([10, 0, 0, 2]) }]),
    ];
    const expected = ['ERR_HEP_LENGTH', 'ERR_HEP_LENGTH', 'ERR_HEP_TRUNCATED', 'ERR_HEP_TRUNCATED', 'ERR_HEP_CHUNK_LENGTH', 'ERR_HEP_CHUNK_LENGTH', 'ERR_HEP_VERSION', 'ERR_HEP_MAGIC', 'ERR_HEP_NO_PAYLOAD'];
    const s = (udpPeer = createSocket('udp4'));
    const send = (b: Buffer) => new Promise<void>((r, j) => s.send(b, udp.address.port, '127.0.0.1', (e) => (e ? j(e) : r())));
    for (let i = 0; i < hostile.length; i++) {
      await send(packHep(from, to, 'udp', sip(i), { version: (1 + (i % 3)) as 1 | 2 | 3 }));
      await send(hostile[i]!);
      await waitUntil(() => errors.length === i + 1 && got.length === i + 1, 3000, `datagram pair ${i}`);
    }
    await send(tenKEmpty);
    await waitUntil(() => got.length === hostile.length + 1, 3000, 'the 10k-chunk packet');
    expect(errors).toEqual(expected);
    expect(got.slice(0, hostile.length).map((g) => g.payload.toString())).toEqual(hostile.map((_, i) => sip(i)));
    expect(got[hostile.length]!.packet.vendorChunks).toHaveLength(10_000);
    expect(stats.get('hep_udp:proto_errors')!.value()).toBe(hostile.length);
  });
});
