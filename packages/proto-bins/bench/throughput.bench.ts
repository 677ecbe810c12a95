/**
 * bins throughput, against a raw node:tls pipe of the same bytes. Run with
 * `corepack pnpm --filter @x/proto-bins bench` (it follows the codec figures).
 *
 * One node sends N BIN packets of S bytes to another over TLS on 127.0.0.1 (TLS 1.3, EC
 * certificates of one CA, verification on both sides), both ends in this process:
 *  - x: the sender calls `bin.send(packet, 'bins:127.0.0.1:port')` per packet (the clusterer's
 *    path: connection lookup by destination, the engine's async write queue); the receiver is
 *    proto_bins on the engine (BIN framer, packet decoded, capability handler called);
 *  - raw: a node:tls client `socket.write(packet)` per packet; a node:tls server cuts the stream
 *    by the BIN length field (uint32 LE at offset 4) and counts, nothing decoded or copied: the
 *    floor.
 * Both senders use the same flow control (stop above 1 MiB unflushed, go on below 256 KiB), and
 * the connection is up before the clock starts. Each size runs 3 times, x and raw alternating;
 * the median run is printed (packets/s, MB/s of BIN bytes) with the x / raw ratio.
 */
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { createTestEngine } from '@x/core-conn/testing';
import { attachBin, binsSpec, encodeGenericMsg, PROTO_BINS_DEFAULTS } from '../src/index.js';
import { makePki, nodeDomains, type BinsPki } from '../test/certs.js';

const HIGH = 1 << 20;
const LOW = 256 << 10;
const SIZES = [120, 1024, 16 * 1024, 60 * 1024];
const VOLUME = 64 << 20;
const MAX_PACKETS = 200_000;
const RUNS = 3;

/** a GENERIC_MSG (clusterer-extra) of `size` bytes in all, as route scripts and modules send */
function packetOf(size: number): Buffer {
  const msg = (n: number): Buffer => encodeGenericMsg({ reqLike: 1, tag: 'bench', message: 'x'.repeat(n), clusterId: 1, sourceId: 1, destId: 2 });
  const p = msg(size - msg(0).length);
  if (p.length !== size) throw new Error(`packet of ${p.length} bytes, wanted ${size}`);
  return p;
}

/** a packet counter the receiver bumps; `until(n)` resolves once it reaches n */
function counter(): { add(k?: number): void; reset(): void; until(n: number): Promise<void>; readonly n: number } {
  let n = 0;
  let want = Infinity;
  let done: (() => void) | null = null;
  return {
    add(k = 1) {
      n += k;
      if (n >= want && done) {
        const d = done;
        done = null;
        d();
      }
    },
    reset() {
      n = 0;
    },
    until(target) {
      if (n >= target) return Promise.resolve();
      want = target;
      return new Promise((r) => (done = r));
    },
    get n() {
      return n;
    },
  };
}

async function xRun(pki: BinsPki, pkt: Buffer, n: number): Promise<number> {
  // the stock bins params, with a write queue long enough for the sender's own flow control
  const spec = binsSpec({ ...PROTO_BINS_DEFAULTS, bins_async_max_postponed_chunks: 1 << 20, bins_async_local_connect_timeout: 5000, bins_handshake_timeout: 5000 });
  const rx = createTestEngine([spec] as never, { tlsDomains: nodeDomains(pki.node1, pki.ca) });
  const tx = createTestEngine([spec] as never, { tlsDomains: nodeDomains(pki.node2, pki.ca) });
  try {
    const l = await rx.listen('bins:127.0.0.1:0');
    const rxBin = attachBin(rx);
    const txBin = attachBin(tx);
    const got = counter();
    rxBin.registerCapability('clusterer-extra', () => got.add());
    const url = `bins:127.0.0.1:${l.address.port}`;
    const conn = await txBin.send(pkt, url);
    await got.until(1);
    got.reset();
    const id = conn!.id;
    let failed: Error | undefined;
    const fail = (err: Error): void => void (failed ??= err);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      void txBin.send(pkt, url).catch(fail);
      if ((i & 31) === 31 && tx.connection(id)!.queuedBytes > HIGH) await tx.drained(id, LOW);
      if (failed) throw failed;
    }
    await got.until(n);
    const ms = performance.now() - t0;
    if (got.n !== n) throw new Error(`x: received ${got.n} packets, sent ${n}`);
    return ms;
  } finally {
    await Promise.all([tx.shutdown({ deadlineMs: 50 }), rx.shutdown({ deadlineMs: 50 })]);
  }
}

async function rawRun(pki: BinsPki, pkt: Buffer, n: number): Promise<number> {
  const got = counter();
  const server = tlsServer({ cert: pki.node1.cert, key: pki.node1.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.on('error', () => undefined);
    // counts packets by their length fields without copying a byte: `need` bytes of the current
    // packet still to come, `hdr` the first bytes of a header split across reads
    let need = 0;
    const hdr = Buffer.alloc(8);
    let hdrHave = 0;
    s.on('data', (chunk: Buffer) => {
      let i = 0;
      let k = 0;
      while (i < chunk.length) {
        if (need > 0) {
          const take = Math.min(need, chunk.length - i);
          need -= take;
          i += take;
          if (need === 0) k++;
          continue;
        }
        if (hdrHave === 0 && chunk.length - i >= 8) {
          need = chunk.readUInt32LE(i + 4);
          continue;
        }
        const take = Math.min(8 - hdrHave, chunk.length - i);
        chunk.copy(hdr, hdrHave, i, i + take);
        hdrHave += take;
        i += take;
        if (hdrHave === 8) {
          need = hdr.readUInt32LE(4) - 8;
          hdrHave = 0;
          if (need === 0) k++;
        }
      }
      got.add(k);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const sock: TLSSocket = tlsConnect({ host: '127.0.0.1', port, cert: pki.node2.cert, key: pki.node2.key, ca: pki.ca.cert });
  try {
    await once(sock, 'secureConnect');
    sock.write(pkt);
    await got.until(1);
    got.reset();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      sock.write(pkt);
      if ((i & 31) === 31 && sock.writableLength > HIGH) while (sock.writableLength > LOW) await once(sock, 'drain');
    }
    await got.until(n);
    const ms = performance.now() - t0;
    if (got.n !== n) throw new Error(`raw: counted ${got.n} packets, sent ${n}`);
    return ms;
  } finally {
    sock.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

async function main(): Promise<void> {
  const pki = await makePki();
  console.log(`\n== bins throughput: x (engine + proto_bins) vs raw node:tls, same bytes, same run (node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}) ==`);
  const rows: Array<Record<string, string | number>> = [];
  for (const size of SIZES) {
    const pkt = packetOf(size);
    const n = Math.min(MAX_PACKETS, Math.floor(VOLUME / size));
    const xs: number[] = [];
    const raws: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      xs.push(await xRun(pki, pkt, n));
      raws.push(await rawRun(pki, pkt, n));
    }
    const med = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
    const x = med(xs);
    const raw = med(raws);
    rows.push({
      'packet bytes': size,
      packets: n,
      'x packets/s': Math.round((n / x) * 1000),
      'x MB/s': +((n * size) / x / 1000).toFixed(1),
      'raw tls packets/s': Math.round((n / raw) * 1000),
      'raw tls MB/s': +((n * size) / raw / 1000).toFixed(1),
      'x / raw': +(raw / x).toFixed(2),
    });
  }
  console.table(rows);
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (after)`);
}

await main();
