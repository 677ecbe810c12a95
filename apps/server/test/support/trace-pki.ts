// Certificates for the TLS tracing tests (msrps, bins): two CAs, so that a handshake event's four
// names are all different. The server's certificate is signed by one CA, the client's by the
// other; each side trusts the other's CA. OpenSSL's one-line names are what the events carry.
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

export interface TracePki {
  serverCa: Pem;
  clientCa: Pem;
  server: Pem;
  client: Pem;
  /** the one-line names the handshake events carry */
  names: { server: string; serverCa: string; client: string; clientCa: string };
}

async function ca(cn: string): Promise<Pem> {
  const r = await generate([{ name: 'countryName', value: 'RO' }, { name: 'organizationName', value: 'x tests' }, { name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  return { cert: r.cert, key: r.private };
}

async function leaf(cn: string, signer: Pem): Promise<Pem> {
  const r = await generate([{ name: 'organizationName', value: 'x tests' }, { name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: signer.key, cert: signer.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: cn }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: r.cert, key: r.private };
}

export async function tracePki(): Promise<TracePki> {
  const [serverCa, clientCa] = await Promise.all([ca('x trace server CA'), ca('x trace client CA')]);
  const [server, client] = await Promise.all([leaf('server.x.test', serverCa), leaf('client.x.test', clientCa)]);
  return {
    serverCa,
    clientCa,
    server,
    client,
    names: {
      server: '/O=x tests/CN=server.x.test',
      serverCa: '/C=RO/O=x tests/CN=x trace server CA',
      client: '/O=x tests/CN=client.x.test',
      clientCa: '/C=RO/O=x tests/CN=x trace client CA',
    },
  };
}

/** tls_mgm lines of x-server: one server domain (requires and verifies a client certificate), files in the cfg's folder */
export const TLS_MGM_SERVER = [
  'loadmodule "tls_mgm.so"',
  'modparam("tls_mgm", "server_domain", "srv")',
  'modparam("tls_mgm", "certificate", "[srv]./server.pem")',
  'modparam("tls_mgm", "private_key", "[srv]./server.key")',
  'modparam("tls_mgm", "ca_list", "[srv]./client-ca.pem")',
  'modparam("tls_mgm", "require_cert", "[srv]1")',
  'modparam("tls_mgm", "verify_cert", "[srv]1")',
];

/** the files TLS_MGM_SERVER names */
export function serverTlsFiles(p: TracePki): Record<string, string> {
  return { 'server.pem': p.server.cert, 'server.key': p.server.key, 'client-ca.pem': p.clientCa.cert };
}

/** a core-conn client domain for the test's peer engine: presents the client certificate, trusts the server CA */
export function clientDomain(p: TracePki) {
  return { name: 'cli', side: 'client' as const, certificate: p.client.cert, privateKey: p.client.key, caList: p.serverCa.cert, verifyCert: true };
}
