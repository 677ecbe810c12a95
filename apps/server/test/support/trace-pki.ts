// Certificates for the TLS tracing tests (msrps, bins): two CAs, so that a handshake event's four
// names are all different. The server's certificate is signed by one CA, the client's by the
// other; each side trusts the other's CA. OpenSSL's one-line names are what the events carry.
import { testCa, testCert, type Pem } from '@x/test-peers';

export type { Pem };

export interface TracePki {
  serverCa: Pem;
  clientCa: Pem;
  server: Pem;
  client: Pem;
  /** the one-line names the handshake events carry */
  names: { server: string; serverCa: string; client: string; clientCa: string };
}

export async function tracePki(): Promise<TracePki> {
  const [serverCa, clientCa] = await Promise.all([
    testCa({ C: 'RO', O: 'x tests', CN: 'x trace server CA' }),
    testCa({ C: 'RO', O: 'x tests', CN: 'x trace client CA' }),
  ]);
  const [server, client] = await Promise.all([testCert({ O: 'x tests', CN: 'server.x.test' }, serverCa), testCert({ O: 'x tests', CN: 'client.x.test' }, clientCa)]);
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
