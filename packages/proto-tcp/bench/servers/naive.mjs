// Naive node:net OPTIONS responder: frames on Content-Length, answers 200. No limits, no
// hostile-input handling: the "what a quick Node script does" baseline.
import net from 'node:net';
import { Splitter, reply200 } from '../lib/sip.mjs';

const port = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (s) => {
  const splitter = new Splitter((status, _cseq, head) => {
    if (status === 0 && !head.startsWith('ACK ')) out += reply200(head);
  });
  let out = '';
  s.on('data', (c) => {
    if (splitter.push(c)) { s.destroy(); return; }
    if (out) { s.write(out, 'latin1'); out = ''; }
  });
  s.on('error', () => s.destroy());
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
