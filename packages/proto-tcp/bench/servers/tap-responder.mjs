// The proto-tcp OPTIONS responder of bench/tap.mjs: the same as proto-tcp.mjs, loaded from a
// given package directory (the current build, or a baseline build of older code), optionally
// with one subscriber on every core-conn tap channel that copies each event's bytes.
// argv: port, package dir (holding dist/index.js), "sub" or "nosub".
import diagnostics_channel from 'node:diagnostics_channel';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [portArg, pkgDir, mode] = process.argv.slice(2);
const { createSipTcp } = await import(pathToFileURL(join(pkgDir, 'dist', 'index.js')).href);
let copied = 0;
if (mode === 'sub') {
  const copy = (ev) => {
    if (ev.bytes) copied += Buffer.from(ev.bytes).length;
  };
  for (const name of ['x:conn:open', 'x:conn:accept', 'x:conn:connect', 'x:conn:close', 'x:message:in', 'x:message:out']) {
    diagnostics_channel.subscribe(name, copy);
  }
}
const sip = await createSipTcp({
  listen: [`tcp:127.0.0.1:${portArg}`],
  engineOptions: { maxConnections: 16384, socketBacklog: 1024 },
});
sip.on('request', (msg) => {
  if (msg.method === 'ACK') return;
  try {
    msg.replyNow(200, 'OK');
  } catch {
    /* the load generator counts the loss */
  }
});
process.on('SIGTERM', () => {
  if (mode === 'sub' && copied === 0) process.stderr.write('tap subscriber saw no bytes\n');
  void Promise.resolve(sip.close?.()).then(() => process.exit(copied === 0 && mode === 'sub' ? 3 : 0));
});
