/** A relay process for bench/relay.bench.ts: `x` (msrp_relay on proto_msrp) or `pipe` (raw node:net / node:tls). */
import { createServer as netServer, type Socket } from 'node:net';
import { createServer as tlsServer } from 'node:tls';
import { createEngine } from '@x/core-conn';
import { attachMsrp, attachRelay, msrpSpec, msrpsSpec } from '../src/index.js';

const [mode, tcpPort, tlsPort] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const cert = Buffer.from(process.env.BENCH_CERT!, 'base64').toString();
const key = Buffer.from(process.env.BENCH_KEY!, 'base64').toString();

if (mode === 'x') {
  const p = { send_timeout: 2000, max_msg_chunks: 0, tls_handshake_timeout: 2000, cert_check_on_conn_reusage: false, trace_on: false };
  const engine = createEngine({
    tlsDomains: [
      { name: 'srv', side: 'server', certificate: cert, privateKey: key, verifyCert: false, requireCert: false },
      { name: 'cli', side: 'client', verifyCert: false },
    ],
    tlsHandshakeTimeout: 2000,
  });
  engine.registerProtocol(msrpSpec(p) as never);
  engine.registerProtocol(msrpsSpec(p) as never);
  const api = attachMsrp(engine);
  await engine.listen(`msrp:127.0.0.1:${tcpPort}`);
  await engine.listen(`msrps:127.0.0.1:${tlsPort}`);
  attachRelay(
    api,
    { my_uri: [`msrp://127.0.0.1:${tcpPort};tcp`, `msrps://127.0.0.1:${tlsPort};tcp`], auth_route: 'msrp_auth', auth_expires: 3600, auth_min_expires: 0, auth_max_expires: 0, calculate_ha1: true, cleanup_interval: 60, nonce_expire: 60, hash_size: 10 },
    { auth: () => 'pw' },
  );
} else {
  // pipe: the first connection is the receiver, every later one is piped to it
  let sink: Socket | undefined;
  const onConn = (s: Socket): void => {
    s.on('error', () => {});
    if (!sink) sink = s;
    else s.pipe(sink);
  };
  netServer(onConn).listen(tcpPort, '127.0.0.1');
  tlsServer({ cert, key }, onConn).listen(tlsPort, '127.0.0.1');
}
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
// a clean exit on SIGTERM (the bench's kill), so that --cpu-prof (MSRP_BENCH_PROF) writes its profile
process.on('SIGTERM', () => process.exit(0));
