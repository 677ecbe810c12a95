// The client side of bench/idle.mjs: opens `n` connections (TCP or TLS) to 127.0.0.1:port from
// source addresses rotating over 127.0.0.2..(1 + sources), `par` handshakes at a time, and
// keeps them open and silent until told to close. Answers 'open' with the count held.
import net from 'node:net';
import tls from 'node:tls';

const socks = [];
process.on('message', async (m) => {
  if (m.cmd === 'open') {
    const { port, n, transport, sources = 10, par = 200, deadlineMs = 120_000, cert, key } = m;
    const end = Date.now() + deadlineMs;
    let next = 0;
    let failed = 0;
    const one = () => new Promise((resolve) => {
      const i = next++;
      const opts = { host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (i % sources)}` };
      const s = transport === 'tls' ? tls.connect({ ...opts, rejectUnauthorized: false, ...(cert ? { cert, key } : {}) }) : net.connect(opts);
      const done = (ok) => { if (!ok) { failed++; s.destroy(); } else socks.push(s); resolve(); };
      s.once(transport === 'tls' ? 'secureConnect' : 'connect', () => done(true));
      s.once('error', () => done(false));
      s.on('error', () => {});
    });
    const lane = async () => { while (next < n && Date.now() < end) await one(); };
    await Promise.all(Array.from({ length: par }, lane));
    process.send({ held: socks.length, failed });
  } else if (m.cmd === 'close') {
    for (const s of socks.splice(0)) s.destroy();
    process.send({ closed: true });
  }
});
process.on('disconnect', () => process.exit(0));
