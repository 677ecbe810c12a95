// The previous parseStartLine (string + regular expressions), kept as the reference the byte
// fast path must match (see start-line.test.ts).
import { SipErrorCodes, SipProtocolError } from '../src/codec/errors.js';

/** The previous parseStartLine (string + regular expressions), the reference of the byte fast path. */
export function parseStartLineReference(buf: Buffer): unknown {
  let eol = buf.indexOf(10);
  if (eol === -1) eol = buf.length;
  const line = buf.toString('latin1', 0, eol).replace(/\r$/, '');
  if (line.startsWith('SIP/2.0 ')) {
    const m = /^SIP\/2\.0 (\d{3})(?: (.*))?$/.exec(line);
    if (!m) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad status line: ${JSON.stringify(line.slice(0, 80))}`);
    return { isRequest: false, status: Number(m[1]), reason: m[2] ?? '' };
  }
  const m = /^([!-~]+) (\S+) SIP\/2\.0$/i.exec(line);
  if (!m) throw new SipProtocolError(SipErrorCodes.BAD_MESSAGE, `bad request line: ${JSON.stringify(line.slice(0, 80))}`);
  return { isRequest: true, method: m[1]!, uri: m[2]! };
}
