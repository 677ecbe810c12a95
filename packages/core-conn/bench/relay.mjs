// Relay bench: 1 GiB (X_RELAY_BYTES) from a fast sender through a relay into a reader that
// reads 50 MB/s (X_RELAY_RATE), over TCP and TLS. The relay is either the engine (an lp
// protocol, every frame written on the outbound connection, flow control with pause / resume
// / drained) or a raw node:net / node:tls pipe() (Node's own backpressure), in this process,
// same run. Prints throughput and the relay's RSS growth (max RSS during the run minus RSS
// before it); the aim for the engine is under 64 MB. The sender and reader run in a child
// process (bench/relay-peer.mjs) so the RSS measured is the relay's.
import { fork } from 'node:child_process';
import { connect as netConnect, createServer as netServer } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { generate } from 'selfsigned';
import { createEngine } from '../dist/index.js';

const BYTES = Number(process.env.X_RELAY_BYTES ?? 2 ** 30);
const RATE = Number(process.env.X_RELAY_RATE ?? 50e6);
const HIGH = 1 << 20;
const LOW = 256 << 10;

const pems = await generate([{ name: 'commonName', value: 'relay.bench' }], { keyType: 'ec', algorithm: 'sha256' });
const cert = pems.cert;
const key = pems.private;

const peer = fork(new URL('./relay-peer.mjs', import.meta.url));
const ask = (m) => new Promise((resolve, reject) => {
  peer.once('message', (r) => (r.error ? reject(new Error(r.error)) : resolve(r)));
  peer.send(m);
});

/** The whole frame (header included) is the message: the relay writes it on as it came. */
class LpFramer {
  buf = null;
  pendingBytes = 0;
  push(chunk, sink) {
    const data = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 4) {
      const len = data.readUInt32BE(off);
      if (data.length - off - 4 < len) break;
      sink.message(data.subarray(off, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off < data.length ? data.subarray(off) : null;
    this.pendingBytes = this.buf ? this.buf.length : 0;
  }
}

async function engineRelay(tls, readerPort) {
  const e = createEngine({
    tlsHandshakeTimeout: 5000,
    tlsDomains: tls ? [{ name: 's', side: 'server', certificate: cert, privateKey: key, requireCert: false, verifyCert: false }, { name: 'c', side: 'client', verifyCert: false }] : [],
  });
  e.registerProtocol({
    name: 'lp', transport: tls ? 'tls' : 'tcp', defaultPort: null, createFramer: () => new LpFramer(),
    maxMsgChunks: 0, maxMsgBytes: 65535,
    write: { async: true, sendTimeout: 100, maxPostponedChunks: 0, localConnectTimeout: 5000, localWriteTimeout: 100_000, maxQueuedBytes: 16 << 20 },
  });
  const dest = { host: '127.0.0.1', port: readerPort };
  let out;
  let pauses = 0;
  let maxQueued = 0;
  e.on('message', (ev) => {
    if (!ev.conn.accepted) return;
    if (out === undefined) {
      void e.send('lp', dest, ev.message).then((c) => (out ??= c.id));
      return;
    }
    e.write(out, ev.message);
    const q = e.connection(out).queuedBytes;
    if (q > maxQueued) maxQueued = q;
    if (q > HIGH && !ev.conn.paused) {
      pauses++;
      const id = ev.conn.id;
      e.pause(id);
      e.drained(out, LOW).then(() => e.resume(id), () => e.close(id));
    }
  });
  e.on('close', (ev) => { if (ev.reason !== 'EOF received' && ev.reason !== 'Shutdown') console.error(`  relay closed ${ev.conn.id}: ${ev.reason}`); });
  const l = await e.listen('lp:127.0.0.1:0');
  return { port: l.address.port, stop: () => e.shutdown({ deadlineMs: 100 }), info: () => `pauses ${pauses}, max queue ${(maxQueued / 1024).toFixed(0)} KiB` };
}

async function rawRelay(tls, readerPort) {
  const socks = new Set();
  const onConn = (inb) => {
    const out = tls ? tlsConnect({ host: '127.0.0.1', port: readerPort, rejectUnauthorized: false }) : netConnect({ host: '127.0.0.1', port: readerPort });
    for (const s of [inb, out]) { socks.add(s); s.on('error', () => {}); }
    inb.pipe(out);
  };
  const srv = tls ? tlsServer({ cert, key }, onConn) : netServer(onConn);
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { port: srv.address().port, stop: () => new Promise((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }), info: () => 'pipe()' };
}

async function run(name, tls, make) {
  const { port: readerPort } = await ask({ cmd: 'reader', tls, cert, key, rate: RATE });
  global.gc?.();
  const rss0 = process.memoryUsage.rss();
  let rssMax = rss0;
  const t = setInterval(() => { const r = process.memoryUsage.rss(); if (r > rssMax) rssMax = r; }, 50);
  const relay = await make(tls, readerPort);
  const res = await ask({ cmd: 'send', port: relay.port, tls, bytes: BYTES });
  clearInterval(t);
  await relay.stop();
  const mbs = res.bytes / res.ms / 1000;
  const growth = (rssMax - rss0) / 2 ** 20;
  console.log(`  ${name.padEnd(22)} ${(res.bytes / 2 ** 20).toFixed(0)} MiB in ${(res.ms / 1000).toFixed(1)} s = ${mbs.toFixed(1)} MB/s   RSS growth ${growth.toFixed(1)} MiB   (${relay.info()})`);
  return { mbs, growth };
}

console.log(`relay: ${(BYTES / 2 ** 20).toFixed(0)} MiB, fast sender -> relay -> reader at ${(RATE / 1e6).toFixed(0)} MB/s`);
const r = {};
for (const tls of [false, true]) {
  const t = tls ? 'tls' : 'tcp';
  r[`raw-${t}`] = await run(`raw ${t} pipe()`, tls, rawRelay);
  r[`engine-${t}`] = await run(`engine ${t}`, tls, engineRelay);
}
for (const t of ['tcp', 'tls']) {
  const e = r[`engine-${t}`];
  const w = r[`raw-${t}`];
  console.log(`  ${t}: engine/raw throughput ${(e.mbs / w.mbs).toFixed(2)}, RSS growth engine ${e.growth.toFixed(1)} MiB vs raw ${w.growth.toFixed(1)} MiB (aim < 64 MiB)`);
}
peer.send({ cmd: 'exit' });
