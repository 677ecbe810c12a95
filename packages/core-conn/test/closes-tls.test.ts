// Failed TLS handshakes are visible: counted as `tls_handshake` and logged at warn with the
// reason, on the accepting side (plaintext, a missing client certificate) and on the connecting
// side (an untrusted server certificate).
import { connect } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../src/module/contract.js';
import { makePki, type TestPki } from './certs.js';
import { lpEngine, stopAll, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki();
});
afterEach(stopAll);

type Line = { level: string; obj: Record<string, unknown>; msg?: string };
function capture(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, ...(msg !== undefined ? { msg } : {}) });
  const log: Logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => log };
  return { log, lines };
}

const lps = () => lpSpec({ name: 'lps', transport: 'tls' });
const tlsCount = (e: ReturnType<typeof lpEngine>): number => e.closeCounts().find((c) => c.proto === 'lps' && c.reason === 'tls_handshake')?.count ?? 0;

describe('failed TLS handshakes are counted and logged', () => {
  it('server side: plaintext on a TLS port, and a client without the required certificate', async () => {
    const { log, lines } = capture();
    const server = lpEngine({ logger: log, tlsHandshakeTimeout: 5000, tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, caList: pki.ca.cert, requireCert: true, verifyCert: true }] }, lps());
    const l = await server.listen('lps:127.0.0.1:0');

    const plainClosed = waitFor(server, 'close');
    const plain = connect(l.address.port, '127.0.0.1', () => plain.write('OPTIONS sip:x SIP/2.0\r\n\r\n'));
    plain.on('error', () => {});
    expect((await plainClosed).reason).toBe('TLS handshake failed');
    plain.destroy();

    const anon = lpEngine({ tlsDomains: [{ name: 'cli', side: 'client', caList: pki.ca.cert }] }, lps());
    const anonClosed = waitFor(server, 'close');
    await anon.send('lps', l.address, encode('x')).catch(() => undefined);
    expect((await anonClosed).reason).toBe('TLS handshake failed');

    expect(tlsCount(server)).toBe(2);
    const logged = lines.filter((x) => x.msg === 'connection closed: TLS handshake failed');
    expect(logged).toHaveLength(2);
    for (const x of logged) expect(x).toMatchObject({ level: 'warn', obj: { proto: 'lps', reason: 'tls_handshake', accepted: true } });
    expect(logged.some((x) => /requires a client certificate/.test(String(x.obj.error)))).toBe(true);
  });

  it('client side: a server certificate the client does not trust', async () => {
    const server = lpEngine({ tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.other.cert, privateKey: pki.other.key, requireCert: false, verifyCert: false }] }, lps());
    const l = await server.listen('lps:127.0.0.1:0');
    const { log, lines } = capture();
    const client = lpEngine({ logger: log, tlsDomains: [{ name: 'cli', side: 'client', caList: pki.ca.cert, verifyCert: true }] }, lps());
    await expect(client.send('lps', l.address, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_FAILED' });
    expect(tlsCount(client)).toBe(1);
    expect(lines.find((x) => x.obj.reason === 'tls_handshake')).toMatchObject({ level: 'warn', msg: 'connection closed: TLS handshake failed', obj: { accepted: false } });
  });
});
