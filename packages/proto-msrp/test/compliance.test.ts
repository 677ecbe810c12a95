// proto-msrp's framer against core-conn's compliance suite, over TCP and over TLS: any
// stream of messages split anywhere frames back exactly; garbage only ever throws a
// ProtocolError; on a real engine max_msg_chunks, maxMsgBytes and the read timeout close the
// offending connection while a healthy one goes on; a SEND larger than maxMsgBytes streams
// through whole (head/part/end), counted once in rcv_msgs, and an EOF, a stall or too many
// reads inside its body close the connection as for a buffered message.
import { runFramerCompliance } from '@x/core-conn/testing';
import { encode, msrpSpec, msrpsSpec, PROTO_MSRP_DEFAULTS, type MsrpMessage } from '../src/index.js';
import { messageArb } from './arbitraries.js';
import { selfSigned } from './helpers.js';

const body = Buffer.alloc(256 * 1024);
for (let i = 0; i < body.length; i++) body[i] = 0x61 + (i % 26);
const streamed: MsrpMessage = {
  kind: 'request', method: 'SEND', tid: 'big1', continuation: '+', body,
  headers: [
    { name: 'To-Path', value: 'msrp://127.0.0.1:2855/bob;tcp' },
    { name: 'From-Path', value: 'msrp://127.0.0.1:2856/alice;tcp' },
    { name: 'Message-ID', value: 'm1' },
    { name: 'Byte-Range', value: `1-${body.length}/*` },
    { name: 'Content-Type', value: 'application/octet-stream' },
  ],
};
// ends inside the head, which the framer buffers
const incomplete = Buffer.from('MSRP abcd SEND\r\nTo-Path: msrp://127.0.0.1:2855/bob;tcp\r\nFrom-Path: msrp://127.0.0.1:2856/al', 'latin1');

const common = {
  encode,
  arbitraryMessage: messageArb,
  assemble: (head: MsrpMessage, b: Buffer): MsrpMessage => ({ ...head, body: b }),
  // encode is exact both ways (codec.test.ts): equal bytes, equal messages; and far cheaper
  // than a deep compare of a 256 KiB body
  equals: (a: MsrpMessage, b: MsrpMessage): boolean => encode(a).equals(encode(b)),
  streamedMessage: streamed,
  incomplete,
  numRuns: 100,
};

runFramerCompliance({ name: 'proto-msrp framer over TCP', spec: msrpSpec(PROTO_MSRP_DEFAULTS) as never, transport: 'tcp', ...common });

const pem = await selfSigned();
runFramerCompliance({ name: 'proto-msrp framer over TLS', spec: msrpsSpec(PROTO_MSRP_DEFAULTS) as never, transport: 'tls', tls: { certificate: pem.cert, privateKey: pem.key }, ...common });
