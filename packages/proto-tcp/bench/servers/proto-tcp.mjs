// The @x/proto-tcp OPTIONS responder, built on the package's public API only (the built dist,
// via the package's own name), in its own process so its CPU time is attributable.
import { createSipTcp } from '@x/proto-tcp';

const port = Number(process.argv[2]);
const sip = await createSipTcp({
  listen: [`tcp:127.0.0.1:${port}`],
  // Every proto_tcp limit on, at OpenSIPS defaults (see the package README for each).
  params: JSON.parse(process.env.X_BENCH_PARAMS ?? '{}'),
  // Sized like the Kamailio side (tcp_max_connections=16384, its listen backlog of 1024).
  // OpenSIPS's tcp_socket_backlog default of 10 drops SYNs under connection-per-request
  // load, which shows as ~1 s (SYN retransmit) RTTs: X_BENCH_BACKLOG=10 to see it.
  engineOptions: { maxConnections: 16384, socketBacklog: Number(process.env.X_BENCH_BACKLOG ?? 1024) },
});
let replyErrors = 0;
sip.on('request', (msg) => {
  if (msg.method === 'ACK') return;
  // replyNow: no promise per reply. It throws when the connection is already gone (the load
  // generator counts the loss).
  try {
    msg.replyNow(200, 'OK');
  } catch {
    replyErrors++;
  }
});
const stop = async () => {
  if (replyErrors) process.stderr.write(`proto-tcp responder: ${replyErrors} replies failed\n`);
  await sip.close?.();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
