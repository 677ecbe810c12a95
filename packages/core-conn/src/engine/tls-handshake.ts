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
 * `conn.tls`: the peer certificate is read from the socket when first asked for (then kept),
 * not at the handshake: the object node:tls builds for it (names, raw DER, fingerprints, a few
 * KB) is not held by every idle connection. Read it while the connection is open (a handler,
 * a tap event, a reuse check); after the close it is there only if it was read before.
 */
class TlsInfoImpl implements TlsInfo {
  private sock: TLSSocket | null;
  private cert: PeerCertificate | null | undefined = undefined;
  private lsock: TLSSocket | null;
  private lcert: PeerCertificate | null | undefined = undefined;

  constructor(
    readonly domain: string | undefined,
    readonly authorized: boolean,
    readonly servername: string | undefined,
    sock: TLSSocket,
    hasCert: boolean,
  ) {
    this.sock = hasCert ? sock : null;
    if (!hasCert) this.cert = null;
    this.lsock = sock;
  }

  /** our own certificate as sent in the handshake (undefined when we sent none), read when first asked for */
  get localCertificate(): PeerCertificate | undefined {
    if (this.lcert === undefined) {
      const s = this.lsock;
      this.lsock = null;
      const c = s !== null && !s.destroyed ? s.getCertificate() : null;
      this.lcert = c !== null && typeof c === 'object' && Object.keys(c).length > 0 ? (c as PeerCertificate) : null;
    }
    return this.lcert ?? undefined;
  }

  get peerCertificate(): PeerCertificate | undefined {
    if (this.cert === undefined) {
      const s = this.sock;
      this.sock = null;
      this.cert = s !== null && !s.destroyed ? (peerCert(s) ?? null) : null;
    }
    return this.cert ?? undefined;
  }

  toJSON(): TlsInfo {
    const cert = this.peerCertificate;
    return { domain: this.domain, authorized: this.authorized, ...(this.servername !== undefined ? { servername: this.servername } : {}), ...(cert ? { peerCertificate: cert } : {}) };
  }
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
    // presence only: the certificate's JS object is made when conn.tls.peerCertificate is read
    const cert = ts.getPeerX509Certificate();
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
    conn.tls = new TlsInfoImpl(chosen.name, cert !== undefined && !verifyError, servername || undefined, ts, cert !== undefined);
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

/** Client side, after secureConnect: what `conn.tls` records (the server's certificate read when asked for). */
export function clientTlsInfo(socket: TLSSocket, domain: TlsDomain | undefined): TlsInfo {
  const servername = typeof socket.servername === 'string' && socket.servername !== '' ? socket.servername : undefined;
  return new TlsInfoImpl(domain?.name, socket.authorized, servername, socket, true);
}
