// Test PKI for bins: a CA, node certificates it signed (server and client use, SAN 127.0.0.1),
// and an unrelated CA with its own node certificate.
import { testCa, testCert, type Pem } from '@x/test-peers';

export type { Pem };

export interface BinsPki {
  ca: Pem;
  node1: Pem;
  node2: Pem;
  rogueCa: Pem;
  rogue: Pem;
}

export async function makePki(): Promise<BinsPki> {
  const [c, rc] = await Promise.all([testCa({ CN: 'x bins test CA' }), testCa({ CN: 'rogue CA' })]);
  const [node1, node2, rogue] = await Promise.all([testCert({ CN: 'node1.example' }, c), testCert({ CN: 'node2.example' }, c), testCert({ CN: 'rogue.example' }, rc)]);
  return { ca: c, node1, node2, rogueCa: rc, rogue };
}

/** tls_mgm-style domains of one node: a server domain for its listener, a client domain for its connections */
export function nodeDomains(me: Pem, trust: Pem) {
  return [
    { name: 'srv', side: 'server' as const, certificate: me.cert, privateKey: me.key, caList: trust.cert, verifyCert: true, requireCert: true },
    { name: 'cli', side: 'client' as const, certificate: me.cert, privateKey: me.key, caList: trust.cert, verifyCert: true },
  ];
}
