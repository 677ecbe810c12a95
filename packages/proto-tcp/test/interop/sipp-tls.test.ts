// sipp over TLS against proto_tls, both ways. Debian's sipp is built without OpenSSL (`-t l1`
// refuses: "To use a TLS transport you must compile SIPp with OpenSSL"), so sipp speaks TCP
// (`-t t1`) and socat's OpenSSL end carries it over TLS: sipp's scenarios and counters, an
// independent TLS stack (OpenSSL, verifying our certificate) on the wire to us.
//   (a) sipp UAC -> socat TCP-LISTEN -> OPENSSL (verify on) -> x proto_tls server
//   (b) x proto_tls client (verify on, CA = the test cert) -> socat OPENSSL-LISTEN -> TCP -> sipp UAS
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, requireBinary, runBounded, runSipp, startProcess, startSippUas, type PeerProcess } from '@x/test-peers';
import type { SipMessage, SipTls } from '../../src/index.js';
import { RANGE_A, TLS_CERT_PATH, TLS_KEY_PATH, newCallId, startTestSipTls } from './helpers.js';

const HOST = '127.0.0.1';
const UAC_CALLS = 100;
const UAS_CALLS = 20;

let sip: SipTls;
const requests: SipMessage[] = [];
const responses: SipMessage[] = [];

describe('sipp over TLS (socat/OpenSSL) <-> proto_tls', () => {
  const peers: PeerProcess[] = [];

  beforeAll(async () => {
    requireBinary('sipp');
    requireBinary('socat');
    sip = await startTestSipTls(true);
    sip.on('request', (m) => {
      requests.push(m);
      m.replyNow(200, 'x over TLS');
    });
    sip.on('response', (m) => responses.push(m));
  }, 60_000);

  afterAll(async () => {
    await sip?.close();
    for (const p of peers) await p.stop();
  });

  it(`(a) ${UAC_CALLS} OPTIONS from sipp reach us over one verified TLS connection and all get 200`, async () => {
    const xPort = sip.listeners[0]!.address.port;
    const front = await freePort(RANGE_A);
    // fork: the readiness probe takes a connection of its own; sipp -t t1 opens exactly one
    const socat = await startProcess(
      'socat',
      [`TCP-LISTEN:${front},bind=${HOST},reuseaddr,fork`, `OPENSSL:${HOST}:${xPort},cafile=${TLS_CERT_PATH},verify=1,commonname=${HOST}`],
      { timeoutSec: 120, readyPort: { port: front, proto: 'tcp' } },
    );
    peers.push(socat);
    const r = await runSipp({ transport: 't1', target: `${HOST}:${front}`, rate: 100, calls: UAC_CALLS });
    expect({ exit: r.exitCode, ok: r.successful, failed: r.failed }, r.output).toEqual({ exit: 0, ok: UAC_CALLS, failed: 0 });
    const fromSipp = requests.filter((m) => m.header('subject') === 'x interop');
    expect(fromSipp).toHaveLength(UAC_CALLS);
    // every one came over TLS, on one connection, in the server domain
    expect(new Set(fromSipp.map((m) => m.conn.id)).size).toBe(1);
    expect(fromSipp.every((m) => m.conn.proto === 'tls' && m.conn.tls?.domain === 'srv')).toBe(true);
  });

  it(`(b) ${UAS_CALLS} OPTIONS we send over TLS (certificate verified) are answered by sipp`, async () => {
    const sippPort = await freePort(RANGE_A);
    const uas = await startSippUas({ port: sippPort, transport: 't1', timeoutSec: 90 });
    peers.push(uas);
    const tlsFront = await freePort(RANGE_A);
    const socat = await startProcess(
      'socat',
      [`OPENSSL-LISTEN:${tlsFront},bind=${HOST},reuseaddr,fork,cert=${TLS_CERT_PATH},key=${TLS_KEY_PATH},verify=0`, `TCP:${HOST}:${sippPort}`],
      { timeoutSec: 120, readyPort: { port: tlsFront, proto: 'tcp' } },
    );
    peers.push(socat);
    const local = sip.listeners[0]!.address;
    const ids: string[] = [];
    let connId: string | number | undefined;
    for (let i = 0; i < UAS_CALLS; i++) {
      const callId = newCallId('sipp-tls-out', i);
      ids.push(callId);
      const conn = await sip.send(
        `sips:uas@${HOST}:${tlsFront}`,
        `OPTIONS sip:uas@${HOST}:${tlsFront};transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS ${local.host}:${local.port};branch=z9hG4bK-stls-${i};rport\r\nMax-Forwards: 70\r\n` +
          `From: <sip:x@${HOST}>;tag=s${i}\r\nTo: <sip:uas@${HOST}>\r\nCall-ID: ${callId}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      );
      expect(conn.proto).toBe('tls');
      expect(conn.tls?.domain).toBe('cli');
      connId ??= conn.id;
      expect(conn.id).toBe(connId); // reused: one TLS connection for all
    }
    await allAnswered(ids, 30_000, () => `socat: ${socat.log()}; sipp: ${uas.log().slice(-1000)}`);
    for (const id of ids) {
      const r = responses.find((m) => m.callId === id)!;
      expect(r.status).toBe(200);
      expect(r.conn.id).toBe(connId);
    }
  });

  it('a TLS peer whose certificate our CA did not sign is refused (tls_mgm verifies the chain)', async () => {
    const tlsFront = await freePort(RANGE_A);
    const sink = await freePort(RANGE_A);
    // another self-signed certificate for the same names, made by openssl for this test
    const dir = makeTempDir('x-sipp-tls-');
    const other = { cert: join(dir, 'other.pem'), key: join(dir, 'other.key') };
    const gen = await runBounded('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', other.key, '-out', other.cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], 60, dir);
    expect(gen.code, gen.stderr).toBe(0);
    const socat = await startProcess(
      'socat',
      [`OPENSSL-LISTEN:${tlsFront},bind=${HOST},reuseaddr,fork,cert=${other.cert},key=${other.key},verify=0`, `TCP:${HOST}:${sink}`],
      { timeoutSec: 60, readyPort: { port: tlsFront, proto: 'tcp' } },
    );
    peers.push(socat);
    const closed = new Promise<{ reason: string; error?: Error }>((resolve) => {
      const on = (ev: { conn: { remote: { host: string; port: number } }; reason: string; error?: Error }): void => {
        if (ev.conn.remote.port !== tlsFront) return;
        sip.engine.off('close', on);
        resolve(ev);
      };
      sip.engine.on('close', on);
    });
    // async mode: the send is queued behind the handshake, which fails verification
    const sent = sip.send(`sips:uas@${HOST}:${tlsFront}`, `OPTIONS sip:uas@${HOST} SIP/2.0\r\nContent-Length: 0\r\n\r\n`).then(
      () => undefined,
      (e: Error) => e,
    );
    const ev = await closed;
    expect(`${ev.reason} ${ev.error?.message ?? ''}`).toMatch(/^TLS handshake failed .*self[- ]signed certificate/i);
    await sent;
  });
});

/** resolves when every Call-ID has a response (event-driven: checked on each response) */
function allAnswered(ids: string[], ms: number, why: () => string): Promise<void> {
  const done = (): boolean => ids.every((id) => responses.some((m) => m.callId === id));
  return new Promise((resolve, reject) => {
    if (done()) return resolve();
    const t = setTimeout(() => {
      sip.off('response', on);
      reject(new Error(`${ids.filter((id) => !responses.some((m) => m.callId === id)).length} of ${ids.length} unanswered after ${ms} ms: ${why()}`));
    }, ms);
    const on = (): void => {
      if (!done()) return;
      clearTimeout(t);
      sip.off('response', on);
      resolve();
    };
    sip.on('response', on);
  });
}
