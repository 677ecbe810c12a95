import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsDomainConfig } from '../src/engine/types.js';
import { X509Certificate } from 'node:crypto';
import { collect, lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { makePki, type TestPki } from './certs.js';
import { encode, lpSpec } from './lp-proto.js';
import { stuckPeer } from '../src/testing/peers.js';

let pki: TestPki;
let dir: string;
beforeAll(async () => {
  pki = await makePki();
  dir = await mkdtemp(join(tmpdir(), 'core-conn-tls-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(stopAll);

const lps = () => lpSpec({ name: 'lps', transport: 'tls' });

function tlsEngine(domains: TlsDomainConfig[], tlsHandshakeTimeout = 3000) {
  return lpEngine({ tlsDomains: domains, tlsHandshakeTimeout }, lps());
}

function cnOf(pem: unknown): string {
  const raw = (pem as { raw?: Buffer }).raw;
  return raw ? new X509Certificate(raw).subject : '';
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('TLS domains', () => {
  it('exchanges messages over TLS with server and client domains (PEM text and file paths)', async () => {
    const certFile = join(dir, 'a.pem');
    const keyFile = join(dir, 'a.key');
    await writeFile(certFile, pki.a.cert);
    await writeFile(keyFile, pki.a.key);
    const server = tlsEngine([{ name: 'srv', side: 'server', certificate: certFile, privateKey: keyFile, requireCert: false, verifyCert: false }]);
    const client = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert, verifyCert: true }]);
    const l = await server.listen('lps:127.0.0.1:0');
    const got = collect(server);
    server.on('message', (ev) => void server.send('lps', ev.conn.remote, encode('pong'), { connectionId: ev.conn.id }));
    const back = collect(client);
    const c = await client.send('lps', l.address, encode('ping'));
    expect(c!.tls?.domain).toBe('cli');
    expect(c!.tls?.authorized).toBe(true);
    expect(cnOf(c!.tls?.peerCertificate)).toContain('a.example');
    // our own certificate: none on this client (it sent none); the server's is its domain's
    expect(c!.tls?.localCertificate).toBeUndefined();
    await until(() => back.messages.length === 1);
    expect(got.accepts[0]!.tls?.domain).toBe('srv');
    expect(cnOf(got.accepts[0]!.tls?.localCertificate)).toContain('a.example');
    expect(Object.keys(got.accepts[0]!.tls!)).not.toContain('localCertificate'); // a lazy getter, not copied by spreads or JSON
    expect(got.messages[0]!.conn.transport).toBe('tls');
    expect((back.messages[0]!.message as Buffer).toString()).toBe('pong');
  });

  it('picks the server domain by listener ip:port, then SNI, with "*" as fallback', async () => {
    const port = await freePort();
    const server = tlsEngine([
      { name: 'fallback', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false },
      { name: 'byName', side: 'server', certificate: pki.b.cert, privateKey: pki.b.key, requireCert: false, matchSipDomain: ['*.example'] },
      { name: 'byAddr', side: 'server', certificate: pki.b.cert, privateKey: pki.b.key, requireCert: false, matchIpAddress: [`127.0.0.1:${port}`], matchSipDomain: ['b.example'] },
    ]);
    const lAddr = await server.listen(`lps:127.0.0.1:${port}`);
    const lOther = await server.listen('lps:127.0.0.1:0');
    const got = collect(server);
    const client = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert }]);
    await client.send('lps', lOther.address, encode('1'));
    await client.send('lps', lOther.address, encode('2'), { servername: 'b.example' });
    await client.send('lps', lAddr.address, encode('3'), { servername: 'b.example' });
    await until(() => got.accepts.length === 3);
    const byPort = (p: number, sn?: string) => got.accepts.find((a) => a.listener!.address.port === p && a.tls?.servername === sn);
    expect(byPort(lOther.address.port)!.tls!.domain).toBe('fallback');
    expect(byPort(lOther.address.port, 'b.example')!.tls!.domain).toBe('byName');
    expect(byPort(port, 'b.example')!.tls!.domain).toBe('byAddr');
    // the client reused nothing across servernames: three connections
    expect(client.connections()).toHaveLength(3);
    // ...but the same TLS identity (servername, destination) reuses its connection
    const again = await client.send('lps', lOther.address, encode('4'), { servername: 'b.example' });
    expect(again!.tls?.servername).toBe('b.example');
    await until(() => got.messages.length === 4);
    expect(client.connections()).toHaveLength(3);
    expect(got.accepts).toHaveLength(3);
  });

  it('client side: picks by explicit domain name and by destination; verify_cert rejects an unknown CA', async () => {
    const server = tlsEngine([{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false }]);
    const l = await server.listen('lps:127.0.0.1:0');
    const client = tlsEngine([
      { name: 'strict', side: 'client', verifyCert: true },
      { name: 'trusting', side: 'client', caList: pki.ca.cert, matchIpAddress: [`127.0.0.1:${l.address.port}`] },
    ]);
    const c = await client.send('lps', l.address, encode('x'));
    expect(c!.tls!.domain).toBe('trusting');
    await expect(client.send('lps', l.address, encode('y'), { tlsDomain: 'strict' })).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_FAILED' });
    await expect(client.send('lps', l.address, encode('y'), { tlsDomain: 'nope' })).rejects.toMatchObject({ code: 'ERR_CONN_CONNECT_FAILED' });
  });

  it('require_cert: refuses a client without a certificate, accepts and verifies one signed by the CA', async () => {
    const server = tlsEngine([{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, caList: pki.ca.cert, requireCert: true, verifyCert: true }]);
    const l = await server.listen('lps:127.0.0.1:0');
    const got = collect(server);
    const anon = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert }]);
    const closed = waitFor(server, 'close');
    await anon.send('lps', l.address, encode('x')).catch(() => undefined);
    const ev = await closed;
    expect(ev.reason).toBe('TLS handshake failed');
    expect(got.accepts).toHaveLength(0);

    const rogue = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert, certificate: pki.other.cert, privateKey: pki.other.key }]);
    const closed2 = waitFor(server, 'close');
    await rogue.send('lps', l.address, encode('x')).catch(() => undefined);
    expect((await closed2).reason).toBe('TLS handshake failed');

    const good = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert, certificate: pki.client.cert, privateKey: pki.client.key }]);
    await good.send('lps', l.address, encode('hello'));
    await until(() => got.messages.length === 1);
    expect(got.accepts[0]!.tls!.authorized).toBe(true);
    expect(cnOf(got.accepts[0]!.tls!.peerCertificate)).toContain('client.example');
    expect(cnOf(got.accepts[0]!.tls!.localCertificate)).toContain('a.example');
    const out = good.connections('lps')[0]!;
    expect(cnOf(out.tls!.localCertificate)).toContain('client.example');
    expect(cnOf(out.tls!.peerCertificate)).toContain('a.example');
  });

  it('the peer certificate is read from the socket when conn.tls.peerCertificate is first asked for, not held by every connection', async () => {
    const server = tlsEngine([{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, caList: pki.ca.cert, requireCert: true, verifyCert: true }]);
    const l = await server.listen('lps:127.0.0.1:0');
    const got = collect(server);
    const proto = TLSSocket.prototype as unknown as { getPeerCertificate: (...a: unknown[]) => unknown };
    const orig = proto.getPeerCertificate;
    let calls = 0;
    // the server side's calls (node's client calls it itself in its handshake)
    proto.getPeerCertificate = function (this: TLSSocket, ...a: unknown[]) {
      if ((this as unknown as { _tlsOptions?: { isServer?: boolean } })._tlsOptions?.isServer) calls++;
      return orig.apply(this, a);
    };
    try {
      const good = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert, certificate: pki.client.cert, privateKey: pki.client.key }]);
      await good.send('lps', l.address, encode('hello'));
      await until(() => got.messages.length === 1);
      const tls = got.accepts[0]!.tls!;
      expect(tls.authorized).toBe(true);
      // verified and accepted without building the certificate's JS object (neither side)
      expect(calls).toBe(0);
      expect(cnOf(tls.peerCertificate)).toContain('client.example');
      expect(cnOf(tls.peerCertificate)).toContain('client.example');
      expect(calls).toBe(1);
      // the client side's view of the server certificate
      expect(cnOf(good.connections()[0]!.tls!.peerCertificate)).toContain('a.example');
      expect(JSON.parse(JSON.stringify(tls))).toMatchObject({ domain: 'srv', authorized: true, peerCertificate: { subject: { CN: expect.stringContaining('client') } } });
    } finally {
      proto.getPeerCertificate = orig;
    }
  });

  it('session tickets: a domain that asks for client certificates issues no resumable (stateless) ticket, unless sessionTickets is set', async () => {
    // With SSL_OP_NO_TICKET, OpenSSL's TLS 1.3 tickets are stateful (an id into a server cache the
    // engine does not keep): nothing per ticket is held, and a resumption falls back to a full handshake.
    const resumed = async (sessionTickets: boolean | undefined): Promise<boolean> => {
      const server = tlsEngine([{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, caList: pki.ca.cert, requireCert: true, verifyCert: true, ...(sessionTickets !== undefined ? { sessionTickets } : {}) }]);
      server.on('message', (ev) => server.write(ev.conn.id, encode('re')));
      const l = await server.listen('lps:127.0.0.1:0');
      const once = (session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> => {
        const sock = tlsConnect({ host: '127.0.0.1', port: l.address.port, ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
        let last: Buffer | undefined;
        sock.on('session', (s: Buffer) => (last = s));
        sock.on('error', () => {});
        // tickets follow the handshake, before any application data: once the reply is here, all came
        return new Promise((resolve, reject) => {
          sock.once('secureConnect', () => sock.write(encode('x')));
          sock.once('data', () => {
            const reused = sock.isSessionReused();
            sock.destroy();
            resolve({ reused, session: last });
          });
          sock.once('close', () => reject(new Error('closed before the reply')));
        });
      };
      const first = await once();
      expect(first.session).toBeDefined();
      return (await once(first.session)).reused;
    };
    expect(await resumed(undefined)).toBe(false);
    // with tickets, the resumption succeeds (the domain has a session id context: OpenSSL refuses
    // to resume a session of a client asked for a certificate without one)
    expect(await resumed(true)).toBe(true);
  });

  it('closes a connection that does not finish the handshake in time (ERR_CONN_TLS_HANDSHAKE_TIMEOUT)', async () => {
    const server = tlsEngine([{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false }], 100);
    const l = await server.listen('lps:127.0.0.1:0');
    const closed = waitFor(server, 'close');
    const sock = await rawClient(l);
    const t0 = Date.now();
    const ev = await closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(80);
    expect(ev.reason).toBe('TLS handshake failed');
    expect(ev.error).toMatchObject({ code: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT' });
    sock.destroy();
  });

  it('client side: a server that never answers the handshake fails the send with ERR_CONN_TLS_HANDSHAKE_TIMEOUT', async () => {
    const peer = await stuckPeer();
    const client = tlsEngine([{ name: 'cli', side: 'client', caList: pki.ca.cert }], 100);
    const closed = waitFor(client, 'close');
    await expect(client.send('lps', peer.address, encode('x'))).rejects.toMatchObject({ code: 'ERR_CONN_TLS_HANDSHAKE_TIMEOUT' });
    expect((await closed).reason).toBe('TLS handshake failed');
    expect(client.connections()).toHaveLength(0);
    await peer.close();
  });

  it('validates domains: server needs cert and key, unreadable files and bad methods are ConfigErrors', async () => {
    expect(() => tlsEngine([{ name: 's', side: 'server' }])).toThrow(/needs a certificate/);
    expect(() => tlsEngine([{ name: 's', side: 'server', certificate: join(dir, 'missing.pem'), privateKey: pki.a.key }])).toThrow(/cannot read certificate/);
    expect(() => tlsEngine([{ name: 'c', side: 'client', tlsMethod: 'TLSv9' }])).toThrow(/tls_method/);
    expect(() => tlsEngine([{ name: 'c', side: 'client' }, { name: 'c', side: 'client' }])).toThrow(/twice/);
    await expect(lpEngine({}, lps()).listen('lps:127.0.0.1:0')).rejects.toThrow(/no TLS server domain/);
  });
});
