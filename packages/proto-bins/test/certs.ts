// Test PKI for bins: a CA, node certificates it signed (server and client use, SAN 127.0.0.1),
// and an unrelated CA with its own node certificate.
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

async function ca(cn: string): Promise<Pem> {
  const r = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  return { cert: r.cert, key: r.private };
}

async function nodeCert(cn: string, signer: Pem): Promise<Pem> {
  const r = await generate([{ name: 'commonName', value: cn }], {
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

export interface BinsPki {
  ca: Pem;
  node1: Pem;
  node2: Pem;
  rogueCa: Pem;
  rogue: Pem;
}

export async function makePki(): Promise<BinsPki> {
  const [c, rc] = await Promise.all([ca('x bins test CA'), ca('rogue CA')]);
  const [node1, node2, rogue] = await Promise.all([nodeCert('node1.example', c), nodeCert('node2.example', c), nodeCert('rogue.example', rc)]);
  return { ca: c, node1, node2, rogueCa: rc, rogue };
}

/** tls_mgm-style domains of one node: a server domain for its listener, a client domain for its connections */
export function nodeDomains(me: Pem, trust: Pem) {
  return [
    { name: 'srv', side: 'server' as const, certificate: me.cert, privateKey: me.key, caList: trust.cert, verifyCert: true, requireCert: true },
    { name: 'cli', side: 'client' as const, certificate: me.cert, privateKey: me.key, caList: trust.cert, verifyCert: true },
  ];
}
