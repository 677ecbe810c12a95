import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSipTls, type SipTls } from '../../src/index.js';

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

/** The fixture certificate (CN and SAN 127.0.0.1, localhost; self-signed) and its key, as file paths. */
export const TLS_CERT_PATH = fileURLToPath(new URL('../fixtures/tls/cert.pem', import.meta.url));
export const TLS_KEY_PATH = fileURLToPath(new URL('../fixtures/tls/key.pem', import.meta.url));

/**
 * A proto_tls endpoint on 127.0.0.1 (port chosen by the system) with the fixture certificate:
 * server domain "srv" (asks no client certificate), client domain "cli", which verifies the
 * peer against the fixture certificate when `verifyPeer`. Handshakes are bounded generously
 * (10 s): the machine running the test may be loaded.
 */
export function startTestSipTls(verifyPeer: boolean): Promise<SipTls> {
  const cert = readFileSync(TLS_CERT_PATH, 'utf8');
  const key = readFileSync(TLS_KEY_PATH, 'utf8');
  return createSipTls({
    listen: ['tls:127.0.0.1:0'],
    params: { tls_handshake_timeout: 10_000 },
    engineOptions: {
      tlsDomains: [
        { name: 'srv', side: 'server', certificate: cert, privateKey: key, verifyCert: false, requireCert: false },
        verifyPeer ? { name: 'cli', side: 'client', caList: cert, verifyCert: true } : { name: 'cli', side: 'client', verifyCert: false },
      ],
    },
  });
}
