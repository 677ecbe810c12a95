import fc from 'fast-check';
import { runFramerCompliance } from '@x/core-conn/testing';
import { PROTO_TCP_DEFAULTS, tcpProtocolSpec } from '../src/index.js';

const latin1 = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));

const sipMessage = fc
  .record({
    method: fc.constantFrom('OPTIONS', 'INVITE', 'MESSAGE', 'BYE'),
    n: fc.nat(1e9),
    body: fc.string({ unit: latin1, maxLength: 400 }),
    cl: fc.constantFrom('Content-Length', 'l', 'Content_Length'),
  })
  .map(({ method, n, body, cl }) =>
    Buffer.from(
      `${method} sip:u@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK${n}\r\nFrom: <sip:a@x>;tag=${n}\r\n` +
        `To: <sip:b@x>\r\nCall-ID: ${n}@x\r\nCSeq: 1 ${method}\r\n${cl}: ${body.length}\r\n\r\n${body}`,
      'latin1',
    ),
  );

runFramerCompliance<Buffer>({
  name: 'proto-tcp SIP framer',
  spec: tcpProtocolSpec({ ...PROTO_TCP_DEFAULTS }),
  encode: (m) => m,
  arbitraryMessage: sipMessage,
  numRuns: 150,
});
