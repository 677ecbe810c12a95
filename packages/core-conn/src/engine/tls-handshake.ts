// The TLS handshakes of the engine: server side over an accepted socket (domain by listener
// address then SNI, client certificate checks as tls_mgm), client side timing; beside tls.ts,
// which builds and selects the domains.
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { ConnectionError, ErrorCodes } from '../errors.js';
import { formatAddress } from '../address.js';
import type { Address, ConnectionInfo } from '../types.js';
import type { Conn } from './connection.js';
import type { TlsDomain, TlsDomains } from './tls.js';

type TlsInfo = NonNullable<ConnectionInfo['tls']>;

/**
 * Chain verification of a client certificate. A TLSSocket wrapped by hand (rather than by
 * tls.Server) does not compute `authorized`; Node's own server does it with the handle's
 * verifyError(), which we use when present, else we check direct issuance by the domain CAs.
 */
function peerVerifyError(ts: TLSSocket, domain: TlsDomain): Error | null {
  const handle = (ts as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
  if (handle && typeof handle.verifyError === 'function') return handle.verifyError() ?? null;
  const peer = ts.getPeerX509Certificate();
  if (!peer || !domain.ca) return new Error('no CA to verify against');
  const blocks = domain.ca.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  for (const b of blocks) {
    const ca = new X509Certificate(b);
    if (peer.checkIssued(ca) && peer.verify(ca.publicKey)) return null;
  }
  return new Error('certificate not issued by a trusted CA');
}

function peerCert(ts: TLSSocket): PeerCertificate | undefined {
  const cert = ts.getPeerCertificate();
  return cert !== null && typeof cert === 'object' && Object.keys(cert).length > 0 ? cert : undefined;
}

/**
 * Server side: wraps an accepted socket, picks the domain by the listener's address (then
 * SNI), times the handshake (`timeoutMs`), checks the client certificate as the chosen domain
 * wants, records `conn.tls` and calls `onSecure`. Any failure closes the connection
 * ('TLS handshake failed'). `attach` wires the wrapped socket to the connection.
 */
export function acceptTls(domains: TlsDomains, listener: Address, conn: Conn, raw: Socket, timeoutMs: number, attach: (s: Socket) => void, onSecure: () => void): void {
  const first = domains.serverDefault(listener);
  if (!first) {
    conn.socket = raw;
    conn.close('TLS handshake failed', new ConnectionError(ErrorCodes.CONNECT_FAILED, `no TLS server domain matches ${formatAddress(listener)}`));
    return;
  }
  let chosen: TlsDomain = first;
  const ts = new TLSSocket(raw, {
    isServer: true,
    secureContext: first.context,
    requestCert: domains.anyServerWantsCert(),
    rejectUnauthorized: false,
    SNICallback: (name, cb) => {
      chosen = domains.serverDomain(listener, name) ?? first;
      cb(null, chosen.context);
    },
  });
  attach(ts);
  conn.armSetup('tls', timeoutMs);
  ts.once('secure', () => {
    if (conn.closed) return;
    conn.clearSetup();
    const cert = peerCert(ts);
    if (chosen.requireCert && !cert) {
      conn.close('TLS handshake failed', new ConnectionError(ErrorCodes.CONNECT_FAILED, `TLS domain "${chosen.name}" requires a client certificate`));
      return;
    }
    const verifyError = cert ? peerVerifyError(ts, chosen) : null;
    if (chosen.verifyCert && cert && verifyError) {
      conn.close('TLS handshake failed', new ConnectionError(ErrorCodes.CONNECT_FAILED, `client certificate rejected: ${verifyError.message}`));
      return;
    }
    const servername = typeof (ts as unknown as { servername?: unknown }).servername === 'string' ? (ts as unknown as { servername: string }).servername : undefined;
    conn.tls = { domain: chosen.name, authorized: cert !== undefined && !verifyError, ...(servername ? { servername } : {}), ...(cert ? { peerCertificate: cert } : {}) };
    onSecure();
  });
}

/** Client side: once TCP connects, the handshake must finish within `timeoutMs`. */
export function timeClientHandshake(conn: Conn, socket: Socket, timeoutMs: number): void {
  socket.once('connect', () => {
    if (conn.closed) return;
    conn.armSetup('tls', timeoutMs);
  });
}

/** Client side, after secureConnect: what `conn.tls` records. */
export function clientTlsInfo(socket: TLSSocket, domain: TlsDomain | undefined): TlsInfo {
  const cert = peerCert(socket);
  const servername = typeof socket.servername === 'string' ? socket.servername : undefined;
  return {
    domain: domain?.name,
    authorized: socket.authorized,
    ...(servername ? { servername } : {}),
    ...(cert ? { peerCertificate: cert } : {}),
  };
}
