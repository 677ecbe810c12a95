/**
 * Codec figures. Run with `corepack pnpm --filter @x/proto-bins bench`.
 * Packets/s of decode / encode of the capture's 46-byte clusterer PING and its 238-byte usrloc
 * packet, the typed clusterer reader and builder, and the framer over a stream of both.
 * There is no JavaScript BIN peer to race: a plain Buffer copy of the same bytes is printed as
 * the floor (the ratio says how far each operation is from a memcpy).
 */
import { Bench } from 'tinybench';
import type { FramerSink } from '@x/core-conn';
import { BinFramer, decode, decodeClustererInternal, encode, encodeClustererInternal, encodeGenericMsg, type BinPacket } from '../src/index.js';

const PING = Buffer.from('5034434b2e00000001001200636c75737465726572' + '2d696e7465726e616c00000000010000000100000001000000', 'hex');
const UL = encodeGenericMsg({ reqLike: 1, tag: 'usrloc', message: 'sip:alice@127.0.0.1:39283;transport=udp'.repeat(4), clusterId: 1, sourceId: 1, destId: 2 });
const pingPkt = decode(PING);
const ulPkt = decode(UL);
const STREAM = Buffer.concat(Array.from({ length: 100 }, (_, i) => (i % 2 ? UL : PING)));

class Count implements FramerSink<BinPacket> {
  n = 0;
  message(): void {
    this.n++;
  }
  keepalive(): void {}
  reply(): void {}
}

async function main(): Promise<void> {
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  let sink = 0;
  const BATCH = 100;
  const count = new Count();
  bench
    .add('Buffer copy 46 B (floor)', () => {
      for (let i = 0; i < BATCH; i++) sink += Buffer.from(PING).length;
    })
    .add('decode PING 46 B', () => {
      for (let i = 0; i < BATCH; i++) sink += decode(PING).type;
    })
    .add('encode PING 46 B', () => {
      for (let i = 0; i < BATCH; i++) sink += encode(pingPkt).length;
    })
    .add('decode GENERIC_MSG', () => {
      for (let i = 0; i < BATCH; i++) sink += decode(UL).body.length;
    })
    .add('encode GENERIC_MSG', () => {
      for (let i = 0; i < BATCH; i++) sink += encode(ulPkt).length;
    })
    .add('typed PING read', () => {
      for (let i = 0; i < BATCH; i++) sink += decodeClustererInternal(decode(PING)).sourceId;
    })
    .add('typed PING build', () => {
      for (let i = 0; i < BATCH; i++) sink += encodeClustererInternal({ type: 0, clusterId: 1, sourceId: 1, reqNodeList: 1 }).length;
    })
    .add('framer, 100-packet stream', () => {
      new BinFramer().push(STREAM, count);
    });
  await bench.run();
  const hz: Record<string, number> = {};
  for (const t of bench.tasks) {
    const r = t.result as { throughput?: { mean: number }; hz?: number } | undefined;
    hz[t.name] = (r?.throughput?.mean ?? r?.hz ?? 0) * (t.name.startsWith('framer') ? 100 : BATCH);
    console.log(`${t.name.padEnd(28)} ${Math.round(hz[t.name] ?? 0).toLocaleString('en-US').padStart(14)} packets/s`);
  }
  const floor = hz['Buffer copy 46 B (floor)']!;
  console.log(`decode PING: ${(hz['decode PING 46 B']! / 1e6).toFixed(2)} M/s (aim >= 1M/s), ${(hz['decode PING 46 B']! / floor).toFixed(2)}x a Buffer copy`);
  console.log(`encode PING: ${(hz['encode PING 46 B']! / 1e6).toFixed(2)} M/s (aim >= 1M/s), ${(hz['encode PING 46 B']! / floor).toFixed(2)}x a Buffer copy`);
  console.log(`(GENERIC_MSG ${UL.length} bytes; sink ${sink > 0}, framed ${count.n > 0})`);
}

await main();
