// SIP bytes shared by the load generator and the naive responders. Kept deliberately small:
// the load generator must cost far less per request than any server it measures.

/** Builds one OPTIONS request; every request gets a unique branch and CSeq. */
export function options(port, conn, seq) {
  return (
    `OPTIONS sip:bench@127.0.0.1:${port} SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bK-${conn}-${seq}\r\n` +
    'Max-Forwards: 70\r\n' +
    `From: <sip:lg@127.0.0.1>;tag=lg${conn}\r\n` +
    'To: <sip:bench@127.0.0.1>\r\n' +
    `Call-ID: lg-${conn}@127.0.0.1\r\n` +
    `CSeq: ${seq} OPTIONS\r\n` +
    'Content-Length: 0\r\n\r\n'
  );
}

const CL_RE = /\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)/i;
const CSEQ_RE = /\r\ncseq[ \t]*:[ \t]*(\d+)/i;

/**
 * Incremental splitter over a byte stream of SIP messages framed by Content-Length.
 * Calls onMessage(statusCode | 0 for requests, cseq, text) for each complete message.
 * Returns an error string when the stream is not parseable (the caller counts a failure).
 */
export class Splitter {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buf = null;
  }

  push(chunk) {
    let buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const end = buf.indexOf('\r\n\r\n', off, 'latin1');
      if (end < 0) break;
      const head = buf.toString('latin1', off, end + 2);
      const m = CL_RE.exec(head);
      if (!m) return 'response without Content-Length';
      const total = end + 4 + Number(m[1]) - off;
      if (buf.length - off < total) break;
      const cseq = CSEQ_RE.exec(head);
      const status = head.startsWith('SIP/2.0 ') ? Number(head.slice(8, 11)) : 0;
      this.onMessage(status, cseq ? Number(cseq[1]) : -1, head);
      off += total;
    }
    this.buf = off < buf.length ? buf.subarray(off) : null;
    return null;
  }
}

/** Builds a 200 reply by copying the headers RFC 3261 §8.2.6 says a UAS must echo. */
export function reply200(head) {
  let out = 'SIP/2.0 200 OK\r\n';
  let start = head.indexOf('\r\n') + 2;
  while (start < head.length) {
    let end = head.indexOf('\r\n', start);
    if (end < 0) end = head.length;
    const line = head.slice(start, end);
    const c = line.charCodeAt(0) | 0x20;
    // v(ia) f(rom) t(o) c(all-id / cseq) i (compact call-id): cheap first-letter filter.
    if (c === 0x76 || c === 0x66 || c === 0x74 || c === 0x63 || c === 0x69) {
      const name = line.slice(0, line.indexOf(':')).trim().toLowerCase();
      if (name === 'via' || name === 'v' || name === 'from' || name === 'f' || name === 'to' ||
          name === 't' || name === 'call-id' || name === 'i' || name === 'cseq') {
        out += line + '\r\n';
      }
    }
    start = end + 2;
  }
  return out + 'Content-Length: 0\r\n\r\n';
}
