// Part 4 of the seams: TLS handshake timeout per protocol, a reuse predicate in the send
// options, the real local address at accept, one profile resolver at a time.
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeProfile } from '../src/profile.js';
import type { ConnectionInfo, ProfileQuery } from '../src/types.js';
import { makePki, type TestPki } from './certs.js';
import { lpEngine, rawClient, stopAll, until, waitFor } from './helpers.js';
import { encode, lpSpec } from './lp-proto.js';

let pki: TestPki;
beforeAll(async () => {
  pki = await makePki();
});
afterEach(stopAll);

describe('TLS handshake timeout per protocol', () => {
  it("closes a silent TLS client after its protocol's timeout while another TLS protocol keeps the engine-wide one", async () => {
    const e = lpEngine(
      { tlsHandshakeTimeout: 60_000, tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false, verifyCert: false }] },
      lpSpec({ name: 'fast', transport: 'tls', tlsHandshakeTimeout: 150 }),
    );
    e.registerProtocol(lpSpec({ name: 'slow', transport: 'tls' }));
    const lf = await e.listen('fast:127.0.0.1:0');
    const ls = await e.listen('slow:127.0.0.1:0');
    const slow = await rawClient(ls); // says nothing: no ClientHello
    await until(() => e.connections('slow').length === 1);
    const closed = waitFor(e, 'close', (ev) => ev.conn.proto === 'fast', 10_000);
    const fast = await rawClient(lf);
    const ev = await closed;
    expect(ev.reason).toBe('TLS handshake failed');
    expect((ev.error as { code?: string }).code).toBe('ERR_CONN_TLS_HANDSHAKE_TIMEOUT');
    expect(ev.error!.message).toContain('150 ms');
    expect(e.connections('slow').length).toBe(1);
    slow.destroy();
    fast.destroy();
  });

  it('times the client side of a handshake with the protocol timeout too', async () => {
    // a TCP server that accepts and never answers the ClientHello
    const sink = lpEngine();
    const l = await sink.listen('lp:127.0.0.1:0');
    const e = lpEngine({ tlsHandshakeTimeout: 60_000, tlsDomains: [{ name: 'cli', side: 'client', verifyCert: false }] }, lpSpec({ name: 'fast', transport: 'tls', tlsHandshakeTimeout: 150 }, { localConnectTimeout: 60_000 }));
    const err = await e.send('fast', l.address, encode('x')).then(
      () => null,
      (x: unknown) => x as { code?: string; message: string },
    );
    expect(err?.code).toBe('ERR_CONN_TLS_HANDSHAKE_TIMEOUT');
  });

  it('refuses a bad tlsHandshakeTimeout at registration', () => {
    const e = lpEngine();
    expect(() => e.registerProtocol(lpSpec({ name: 'bad', transport: 'tls', tlsHandshakeTimeout: 0 }))).toThrow(/tlsHandshakeTimeout/);
  });
});

describe('reuse predicate', () => {
  it('opens a new connection when the predicate refuses the existing one, reuses it when accepted', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const client = lpEngine();
    const first = (await client.send('lp', l.address, encode('a')))!;
    const asked: ConnectionInfo[] = [];
    const again = (await client.send('lp', l.address, encode('b'), { reuse: (c) => (asked.push(c), true) }))!;
    expect(again.id).toBe(first.id);
    expect(asked.map((c) => c.id)).toEqual([first.id]);
    const fresh = (await client.send('lp', l.address, encode('c'), { reuse: (c) => c.id !== first.id }))!;
    expect(fresh.id).not.toBe(first.id);
    expect(client.connections('lp').length).toBe(2);
    await until(() => server.connections().length === 2);
    // the predicate is asked about each candidate in turn: the second is reused now
    const third = (await client.send('lp', l.address, encode('d'), { reuse: (c) => c.id !== first.id }))!;
    expect(third.id).toBe(fresh.id);
  });

  it('fails the send with the error a throwing predicate raised', async () => {
    const server = lpEngine();
    const l = await server.listen('lp:127.0.0.1:0');
    const client = lpEngine();
    await client.send('lp', l.address, encode('a'));
    await expect(
      client.send('lp', l.address, encode('b'), {
        reuse: () => {
          throw new Error('predicate failed');
        },
      }),
    ).rejects.toThrow('predicate failed');
  });

  it("hands the predicate the TLS peer certificate (node's PeerCertificate) to compare", async () => {
    const server = lpEngine({ tlsDomains: [{ name: 'srv', side: 'server', certificate: pki.a.cert, privateKey: pki.a.key, requireCert: false, verifyCert: false }] }, lpSpec({ name: 'lps', transport: 'tls' }));
    const l = await server.listen('lps:127.0.0.1:0');
    const client = lpEngine({ tlsHandshakeTimeout: 5000, tlsDomains: [{ name: 'cli', side: 'client', caList: pki.ca.cert, verifyCert: true }] }, lpSpec({ name: 'lps', transport: 'tls' }));
    const first = (await client.send('lps', l.address, encode('a')))!;
    const seen: string[] = [];
    const expectB = (c: ConnectionInfo): boolean => {
      const cert = c.tls?.peerCertificate;
      seen.push(String(cert?.subject.CN ?? ''));
      return cert !== undefined && new X509Certificate(cert.raw).subject.includes('CN=b.example');
    };
    const second = (await client.send('lps', l.address, encode('b'), { reuse: expectB }))!;
    expect(seen).toEqual(['a.example']);
    expect(second.id).not.toBe(first.id);
  });
});

describe('profile resolver', () => {
  it('gets the connection\'s real local address at accept on a wildcard listener', async () => {
    const server = lpEngine();
    const queries: ProfileQuery[] = [];
    server.setProfileResolver((q) => {
      queries.push(q);
      return { profile: makeProfile({ id: 9 }), matched: true };
    });
    const l = await server.listen('lp:0.0.0.0:0');
    const s = await rawClient({ ...l, address: { host: '127.0.0.1', port: l.address.port } });
    await until(() => server.connections().length === 1);
    expect(queries[0]!.local).toEqual({ host: '127.0.0.1', port: l.address.port });
    expect(server.connections()[0]!.local).toEqual(queries[0]!.local);
    s.destroy();
  });

  it('refuses a second resolver while one is set (ERR_CONN_RESOLVER_SET); null clears it', () => {
    const e = lpEngine();
    const r1 = () => ({ profile: e.defaultProfile, matched: false });
    e.setProfileResolver(r1);
    let err: unknown;
    try {
      e.setProfileResolver(() => ({ profile: e.defaultProfile, matched: false }));
    } catch (x) {
      err = x;
    }
    expect(err).toMatchObject({ name: 'ConfigError', code: 'ERR_CONN_RESOLVER_SET' });
    e.setProfileResolver(null);
    expect(() => e.setProfileResolver(r1)).not.toThrow();
  });
});
