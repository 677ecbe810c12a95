// Throughput of the engine's read path against the raw primitive: the same length-prefixed
// framer fed straight from a node:net socket. Prints messages/s for both and the ratio.
// Needs a build first (pnpm --filter @x/core-conn build); `pnpm bench` does that via turbo.
import { connect, createServer } from 'node:net';
import { createEngine } from '../dist/index.js';

const N = Number(process.env.N ?? 300_000);
const SIZE = 100;

class LpFramer {
  buf = null;
  pendingBytes = 0;
  push(chunk, sink) {
    const data = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (data.length - off >= 4) {
      const len = data.readUInt32BE(off);
      if (data.length - off - 4 < len) break;
      sink.message(data.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    this.buf = off < data.length ? data.subarray(off) : null;
    this.pendingBytes = this.buf ? this.buf.length : 0;
  }
}

const frame = Buffer.alloc(4 + SIZE, 0x61);
frame.writeUInt32BE(SIZE, 0);
const payload = Buffer.concat(Array.from({ length: 1000 }, () => frame));

function blast(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      let sent = 0;
      const pump = () => {
        while (sent < N) {
          sent += 1000;
          if (!s.write(payload)) return void s.once('drain', pump);
        }
        resolve(s);
      };
      pump();
    });
  });
}

async function raw() {
  let got = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const sink = { message: () => { if (++got === N) done(); }, keepalive() {}, reply() {} };
  const srv = createServer((s) => {
    const f = new LpFramer();
    s.on('data', (c) => f.push(c, sink));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const t0 = performance.now();
  const c = await blast(srv.address().port);
  await finished;
  const ms = performance.now() - t0;
  c.destroy();
  srv.close();
  return (N / ms) * 1000;
}

async function engine() {
  const e = createEngine();
  e.registerProtocol({
    name: 'lp', transport: 'tcp', defaultPort: null, createFramer: () => new LpFramer(),
    maxMsgChunks: 0, maxMsgBytes: 65535,
    write: { async: true, sendTimeout: 100, maxPostponedChunks: 32, localConnectTimeout: 100, localWriteTimeout: 10 },
  });
  let got = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  e.on('message', () => { if (++got === N) done(); });
  const l = await e.listen('lp:127.0.0.1:0');
  const t0 = performance.now();
  const c = await blast(l.address.port);
  await finished;
  const ms = performance.now() - t0;
  c.destroy();
  await e.shutdown();
  return (N / ms) * 1000;
}

/** Echo: every message goes back, per message, by socket.write (raw) or engine.send by connection id. */
async function echo(useEngine) {
  let srvClose;
  let port;
  if (useEngine) {
    const e = createEngine();
    e.registerProtocol({
      name: 'lp', transport: 'tcp', defaultPort: null, createFramer: () => new LpFramer(),
      maxMsgChunks: 0, maxMsgBytes: 65535,
      write: { async: true, sendTimeout: 100, maxPostponedChunks: 1_000_000, localConnectTimeout: 100, localWriteTimeout: 10_000 },
    });
    e.on('message', (ev) => void e.send('lp', ev.conn.remote, frame, { connectionId: ev.conn.id }));
    port = (await e.listen('lp:127.0.0.1:0')).address.port;
    srvClose = () => e.shutdown();
  } else {
    const srv = createServer((s) => {
      const f = new LpFramer();
      const sink = { message: () => s.write(frame), keepalive() {}, reply() {} };
      s.on('data', (c) => f.push(c, sink));
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    port = srv.address().port;
    srvClose = () => new Promise((r) => srv.close(r));
  }
  let bytes = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const t0 = performance.now();
  const c = await blast(port);
  c.on('data', (d) => { bytes += d.length; if (bytes >= N * frame.length) done(); });
  await finished;
  const ms = performance.now() - t0;
  c.destroy();
  await srvClose();
  return (N / ms) * 1000;
}

const r = [];
for (let i = 0; i < 3; i++) r.push([await raw(), await engine()]);
const best = (k) => Math.max(...r.map((x) => x[k]));
console.log(`raw net + framer: ${Math.round(best(0))} msg/s`);
console.log(`core-conn engine: ${Math.round(best(1))} msg/s`);
console.log(`ratio engine/raw: ${(best(1) / best(0)).toFixed(2)}`);
const ec = [];
for (let i = 0; i < 3; i++) ec.push([await echo(false), await echo(true)]);
const bestE = (k) => Math.max(...ec.map((x) => x[k]));
console.log(`echo raw: ${Math.round(bestE(0))} msg/s, echo engine: ${Math.round(bestE(1))} msg/s, ratio ${(bestE(1) / bestE(0)).toFixed(2)}`);
