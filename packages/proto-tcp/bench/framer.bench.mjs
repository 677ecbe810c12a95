// Micro-benchmark (tinybench): framing a stream of OPTIONS with the package's SipFramer (as
// published, from dist/) versus the naive Content-Length regex splitter of servers/naive.mjs.
// Run: node bench/framer.bench.mjs (after a build). Chunkings: one 64 KiB read, MSS-sized
// segments, and 7-byte dribbles (the hostile case, bounded here by maxMsgBytes per message).
import { Bench } from 'tinybench';
import { options, Splitter } from './lib/sip.mjs';

const mod = await import('@x/proto-tcp');
const SipFramer = mod.SipFramer ?? mod.createSipFramer;
if (!SipFramer) {
  console.error('@x/proto-tcp exports no SipFramer; nothing to compare');
  process.exit(1);
}
const make = () => (mod.SipFramer ? new mod.SipFramer() : mod.createSipFramer());

const N = 400;
const stream = Buffer.from(Array.from({ length: N }, (_, i) => options(5060, 'b', i + 1)).join(''), 'latin1');
const chunked = (size) => {
  const out = [];
  for (let o = 0; o < stream.length; o += size) out.push(stream.subarray(o, o + size));
  return out;
};
const chunkings = { '64KiB reads': chunked(65536), '1460 B segments': chunked(1460), '7 B dribble': chunked(7) };

const bench = new Bench({ time: 400, warmupTime: 100 });
for (const [label, chunks] of Object.entries(chunkings)) {
  bench.add(`SipFramer      ${label}`, () => {
    let n = 0;
    const f = make();
    const sink = { message: () => { n++; }, keepalive: () => {}, reply: () => {} };
    for (const c of chunks) f.push(c, sink);
    if (n !== N) throw new Error(`framed ${n} of ${N}`);
  });
  bench.add(`naive splitter ${label}`, () => {
    let n = 0;
    const s = new Splitter(() => { n++; });
    for (const c of chunks) s.push(c);
    if (n !== N) throw new Error(`framed ${n} of ${N}`);
  });
}
await bench.run();
console.log(`messages/s (stream of ${N} OPTIONS, ${stream.length} bytes):`);
for (const t of bench.tasks) {
  const hz = t.result?.throughput?.mean ?? t.result?.hz;
  console.log(`  ${t.name.padEnd(34)} ${hz ? (hz * N).toFixed(0).padStart(12) : 'n/a'}`);
}
