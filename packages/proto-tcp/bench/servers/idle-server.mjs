// The server side of bench/idle.mjs: holds idle connections and reports its memory over IPC.
// argv: kind (proto-tcp | naive), transport (tcp | tls), port, package dir (proto-tcp: the
// build to load). TLS certificate and key in X_IDLE_CERT / X_IDLE_KEY (PEM).
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [kind, transport, portArg, pkgDir] = process.argv.slice(2);
const port = Number(portArg);
const cert = process.env.X_IDLE_CERT;
const key = process.env.X_IDLE_KEY;
// clients present a certificate (X_IDLE_CLIENT_CERT=1): the server asks for one and keeps it
const clientCert = process.env.X_IDLE_CLIENT_CERT === '1';
let count = () => 0;
let stop = async () => {};

if (kind === 'proto-tcp') {
  const m = await import(pathToFileURL(join(pkgDir, 'dist', 'index.js')).href);
  const engineOptions = {
    maxConnections: 200_000,
    socketBacklog: 4096,
    tlsHandshakeTimeout: 60_000,
    tlsDomains: transport === 'tls' ? [{ name: 'srv', side: 'server', certificate: cert, privateKey: key, verifyCert: false, requireCert: clientCert }] : [],
  };
  const sip = transport === 'tls'
    ? await m.createSipTls({ listen: [`tls:127.0.0.1:${port}`], engineOptions, params: { tls_handshake_timeout: 60_000 } })
    : await m.createSipTcp({ listen: [`tcp:127.0.0.1:${port}`], engineOptions });
  count = () => sip.engine.connections().length;
  stop = () => sip.close();
} else {
  // naive: node's own servers, nothing per connection but an error listener
  const socks = new Set();
  const onConn = (s) => {
    socks.add(s);
    s.on('error', () => {});
    s.on('close', () => socks.delete(s));
  };
  const server = transport === 'tls' ? tls.createServer({ cert, key, requestCert: clientCert, rejectUnauthorized: false }, onConn) : net.createServer(onConn);
  server.on('tlsClientError', () => {});
  await new Promise((r) => server.listen({ port, host: '127.0.0.1', backlog: 4096 }, r));
  count = () => socks.size;
  stop = () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(() => r()); });
}

const settle = async () => {
  for (let i = 0; i < 4; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
};
process.on('message', async (m) => {
  if (m === 'mem') {
    await settle();
    const u = process.memoryUsage();
    process.send({ rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers, conns: count() });
  } else if (m === 'stop') {
    await stop();
    process.exit(0);
  }
});
process.send('ready');
