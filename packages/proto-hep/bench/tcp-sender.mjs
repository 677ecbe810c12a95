// A HEP-over-TCP load generator, run as its own process by the ingest bench.
// argv: port count packetBase64. Writes `count` packets back to back on one connection as
// fast as the connection takes them (writes of 1000 packets, waiting for 'drain'), then ends.
// Prints one JSON line: { sent, secs }.
import { connect } from 'node:net';

const [port, count] = process.argv.slice(2, 4).map(Number);
const pkt = Buffer.from(process.argv[4], 'base64');
const block = Buffer.concat(Array.from({ length: 1000 }, () => pkt));
const c = connect(port, '127.0.0.1');
await new Promise((r) => c.once('connect', r));
const t0 = performance.now();
let sent = 0;
while (sent < count) {
  const n = Math.min(1000, count - sent);
  const ok = c.write(n === 1000 ? block : block.subarray(0, n * pkt.length));
  sent += n;
  if (!ok) await new Promise((r) => c.once('drain', r));
}
await new Promise((r) => c.end(r));
process.stdout.write(`${JSON.stringify({ sent, secs: (performance.now() - t0) / 1000 })}\n`);
c.destroy();
