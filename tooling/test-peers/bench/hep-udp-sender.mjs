// A UDP load generator (HEP packets in the benches), run as its own process: proto-hep's ingest
// bench and the server's workers bench start it by path (import.meta.resolve('@x/test-peers/hep-udp-sender')).
// argv: port rate burst durationMs packetBase64
// Sends `burst` datagrams back to back every burst/rate seconds (a capture agent flushing a
// batch), for durationMs, from one connected socket. Never sends more than one burst per turn
// of its loop, so when it cannot keep up its achieved rate falls below the target (reported).
// Prints one JSON line: { sent, errors, secs, rate }.
import { createSocket } from 'node:dgram';

const [port, rate, burst, durationMs] = process.argv.slice(2, 6).map(Number);
const pkt = Buffer.from(process.argv[6], 'base64');
const total = Math.round((rate * durationMs) / 1000);
const s = createSocket('udp4');
await new Promise((r) => s.connect(port, '127.0.0.1', r));
let sent = 0;
let done = 0;
let errors = 0;
let finished;
const allDone = new Promise((r) => (finished = r));
const ack = (err) => {
  if (err) errors++;
  if (++done === total) finished();
};
const t0 = performance.now();
const end = t0 + durationMs * 1.5; // a sender that cannot keep up stops here
await new Promise((resolve) => {
  const tick = () => {
    const now = performance.now();
    const due = Math.min(total, (Math.floor((((now - t0) / 1000) * rate) / burst) + 1) * burst);
    if (sent < due) {
      const n = Math.min(burst, due - sent);
      for (let i = 0; i < n; i++) s.send(pkt, ack);
      sent += n;
    }
    if (sent < total && now < end) setImmediate(tick);
    else resolve();
  };
  tick();
});
if (sent < total) {
  // stopped early: wait for what was handed to the socket
  const want = sent;
  while (done < want) await new Promise((r) => setImmediate(r));
} else await allDone;
const secs = (performance.now() - t0) / 1000;
s.close();
process.stdout.write(`${JSON.stringify({ sent: sent - errors, errors, secs, rate: (sent - errors) / secs })}\n`);
