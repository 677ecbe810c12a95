// SIP over TLS (proto_tls) against Kamailio 5.6's tls module, both ways: Kamailio relays an
// OPTIONS to us over TLS (we are the TLS server) and answers ours (we are the TLS client).
// Debian's sipp is built without OpenSSL (`-t l1`: "you must compile SIPp with OpenSSL"), so
// Kamailio is the TLS peer here.
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, kamailioCore, makeTempDir, requireBinary, startKamailio, writeKamailioTlsConfig, type KamailioPeer } from '@x/test-peers';
import type { SipMessage, SipTls } from '../../src/index.js';
import { RANGE_A, TLS_CERT_PATH, TLS_KEY_PATH, newCallId, startTestSipTls } from './helpers.js';

const HOST = '127.0.0.1';

function kamailioTlsConfig(dir: string, tcpPort: number, tlsPort: number, xPort: number): string {
  const tlsCfg = writeKamailioTlsConfig(dir, { cert: readFileSync(TLS_CERT_PATH), key: readFileSync(TLS_KEY_PATH) });
  const core = kamailioCore({
    children: 2,
    globals: { enable_tls: 'yes', tcp_accept_no_cl: 'no' },
    listen: [`tcp:${HOST}:${tcpPort}`, `tls:${HOST}:${tlsPort}`],
    modules: ['sl', 'tls'],
  });
  return `${core}modparam("tls", "config", "${tlsCfg}")

request_route {
  if ($rm == "ACK") {
    exit;
  }
  if ($rU == "relay") {
    xlog("L_INFO", "relaying $ci to x over TLS\\n");
    $du = "sip:${HOST}:${xPort};transport=tls";
    forward();
    exit;
  }
  sl_send_reply("200", "Kamailio TLS $pr");
  exit;
}
`;
}

describe('proto_tls <-> Kamailio tls module', () => {
  let kam: KamailioPeer | undefined;
  let sip: SipTls;
  let kTcp: number;
  let kTls: number;
  const requests: SipMessage[] = [];
  const responses: SipMessage[] = [];

  beforeAll(async () => {
    requireBinary('kamailio');
    sip = await startTestSipTls(false);
    sip.on('request', (m) => {
      requests.push(m);
      m.replyNow(200, 'x over TLS');
    });
    sip.on('response', (m) => responses.push(m));
    kTcp = await freePort(RANGE_A);
    kTls = await freePort(RANGE_A);
    while (kTls === kTcp) kTls = await freePort(RANGE_A);
    const dir = makeTempDir('x-kam-tls-');
    kam = await startKamailio(kamailioTlsConfig(dir, kTcp, kTls, sip.listeners[0]!.address.port), { port: kTls, udp: false });
  }, 120_000);

  afterAll(async () => {
    await sip?.close();
    await kam?.stop();
  });

  it('answers an OPTIONS Kamailio relays over TLS; the reply goes back on that TLS connection', async () => {
    const callId = newCallId('kam-tls-in', 0);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(kTcp, HOST);
      let buf = '';
      const t = setTimeout(() => reject(new Error(`no reply within 30 s: ${buf}`)), 30_000);
      s.setEncoding('latin1');
      s.once('connect', () =>
        s.write(
          `OPTIONS sip:relay@${HOST}:${kTcp};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP ${HOST}:${s.localPort!};branch=z9hG4bK-tls-1;rport\r\nMax-Forwards: 70\r\n` +
            `From: <sip:t@${HOST}>;tag=a1\r\nTo: <sip:relay@${HOST}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
        ),
      );
      s.on('data', (d: string) => {
        buf += d;
        if (buf.includes('\r\n\r\n')) {
          clearTimeout(t);
          s.destroy();
          resolve(buf);
        }
      });
      s.once('error', reject);
    });
    expect(reply.startsWith('SIP/2.0 200 x over TLS\r\n')).toBe(true);
    expect(reply).toContain(`Call-ID: ${callId}\r\n`);
    const got = requests.find((m) => m.callId === callId)!;
    expect(got.conn.proto).toBe('tls');
    expect(got.conn.transport).toBe('tls');
    expect(got.conn.tls?.domain).toBe('srv');
    // Kamailio's own hop is the top Via, over TLS
    expect(got.header('via')).toMatch(/^SIP\/2\.0\/TLS 127\.0\.0\.1:\d+;branch=/);
  });

  it('sends an OPTIONS to Kamailio over TLS (client domain) and gets its reply on the same connection', async () => {
    const callId = newCallId('kam-tls-out', 0);
    const local = { host: HOST, port: sip.listeners[0]!.address.port };
    const conn = await sip.send(
      `sips:ping@${HOST}:${kTls}`,
      `OPTIONS sip:ping@${HOST}:${kTls};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS ${local.host}:${local.port};branch=z9hG4bK-tls-2;rport\r\nMax-Forwards: 70\r\n` +
        `From: <sip:x@${HOST}>;tag=b1\r\nTo: <sip:ping@${HOST}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    );
    expect(conn.proto).toBe('tls');
    expect(conn.tls?.domain).toBe('cli');
    const start = Date.now();
    while (!responses.some((m) => m.callId === callId) && Date.now() - start < 30_000) await new Promise((r) => setTimeout(r, 20));
    const r = responses.find((m) => m.callId === callId);
    expect(r?.status).toBe(200);
    expect(r?.reason).toBe('Kamailio TLS tls');
    expect(r?.conn.id).toBe(conn.id);
  });
});
