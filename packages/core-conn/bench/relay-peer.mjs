// The far ends of bench/relay.mjs, in their own process so the relay's RSS is the relay's
// alone: a sender that writes `bytes` of length-prefixed 16 KiB frames as fast as the relay
// takes them, and a reader that reads at most `rate` bytes/s. IPC: the parent sends
// { cmd: 'reader', tls, cert, key } (answer { port }), then { cmd: 'send', port, tls, bytes }
// (answer { done, ms } once the reader got every byte).
import { connect as netConnect, createServer as netServer } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';

const FRAME = 16 * 1024;
let reader = null;

function startReader({ tls, cert, key, rate }) {
  const state = { got: 0, want: Infinity, t0: 0, resolve: null };
  const onConn = (s) => {
    s.on('error', () => {});
    const pace = () => {
      const t = performance.now() - state.t0;
      const allowed = (rate * t) / 1000;
      if (state.got > allowed) {
        s.pause();
        setTimeout(() => s.resume(), Math.max(1, ((state.got - allowed) / rate) * 1000));
      }
    };
    s.on('data', (d) => {
      if (state.t0 === 0) state.t0 = performance.now();
      state.got += d.length;
      if (state.got >= state.want) state.resolve?.();
      else pace();
    });
  };
  const srv = tls ? tlsServer({ cert, key }, onConn) : netServer(onConn);
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r({ srv, state, port: srv.address().port })));
}

function send({ port, tls, bytes }) {
  const frame = Buffer.alloc(4 + FRAME, 0x61);
  frame.writeUInt32BE(FRAME, 0);
  const batch = Buffer.concat(Array.from({ length: 16 }, () => frame));
  const frames = Math.floor(bytes / (4 + FRAME) / 16) * 16;
  const total = frames * (4 + FRAME);
  reader.state.want = total;
  reader.state.got = 0;
  reader.state.t0 = 0;
  const t0 = performance.now();
  const done = new Promise((r) => (reader.state.resolve = r));
  const s = tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect({ host: '127.0.0.1', port });
  s.on('error', (err) => process.send({ error: String(err) }));
  let sent = 0;
  const pump = () => {
    while (sent < frames) {
      sent += 16;
      if (!s.write(batch)) return void s.once('drain', pump);
    }
  };
  s.once(tls ? 'secureConnect' : 'connect', pump);
  return done.then(() => {
    s.destroy();
    return { done: true, ms: performance.now() - t0, bytes: total };
  });
}

process.on('message', async (m) => {
  if (m.cmd === 'reader') {
    reader?.srv.close();
    reader = await startReader(m);
    process.send({ port: reader.port });
  } else if (m.cmd === 'send') {
    process.send(await send(m));
  } else if (m.cmd === 'exit') process.exit(0);
});
