import { randomBytes } from 'node:crypto';

/** This package's fixed-port range for interop peers (brief: 12000-13999 on 127.0.0.1). */
export const RANGE_A: [number, number] = [12000, 12999];
export const RANGE_B: [number, number] = [13000, 13999];

export function optionsRequest(target: { host: string; port: number }, local: { host: string; port: number }, callId: string, cseq = 1): string {
  const branch = `z9hG4bK-${randomBytes(6).toString('hex')}`;
  return (
    `OPTIONS sip:ping@${target.host}:${target.port};transport=tcp SIP/2.0\r\n` +
    `Via: SIP/2.0/TCP ${local.host}:${local.port};branch=${branch};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:x@${local.host}:${local.port}>;tag=${randomBytes(4).toString('hex')}\r\n` +
    `To: <sip:ping@${target.host}:${target.port}>\r\n` +
    `Call-ID: ${callId}\r\n` +
    `CSeq: ${cseq} OPTIONS\r\n` +
    `Contact: <sip:x@${local.host}:${local.port};transport=tcp>\r\n` +
    `Content-Length: 0\r\n\r\n`
  );
}

export function newCallId(tag: string, i: number): string {
  return `${tag}-${i}-${randomBytes(6).toString('hex')}@127.0.0.1`;
}
