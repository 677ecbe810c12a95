/* global process */
// The @x/proto-tcp OPTIONS responder, built on the package's public API only (the built dist,
// via the package's own name), in its own process so its CPU time is attributable.
import { createSipTcp } from '@x/proto-tcp';

const port = Number(process.argv[2]);
const sip = await createSipTcp({
  listen: [`tcp:127.0.0.1:${port}`],
  // Every limit on, at OpenSIPS defaults (see the package README for each).
  params: JSON.parse(process.env.X_BENCH_PARAMS ?? '{}'),
});
sip.on('request', (msg) => {
  if (msg.method !== 'ACK') msg.reply(200, 'OK');
});
const stop = async () => {
  await sip.close?.();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
