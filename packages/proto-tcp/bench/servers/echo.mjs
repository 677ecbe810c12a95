// Raw node:net echo: the floor any Node SIP transport is compared with (same bytes, no framing).
import net from 'node:net';

const port = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (s) => {
  s.on('data', (c) => s.write(c));
  s.on('error', () => s.destroy());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
