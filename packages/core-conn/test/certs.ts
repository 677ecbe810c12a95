import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}
export interface TestPki {
  ca: Pem;
  a: Pem;
  b: Pem;
  client: Pem;
  other: Pem;
}

async function leaf(cn: string, ca: Pem | undefined, client = false): Promise<Pem> {
  const r = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ...(ca ? { ca: { key: ca.key, cert: ca.cert } } : {}),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: !client, clientAuth: client },
      { name: 'subjectAltName', altNames: [{ type: 2, value: cn }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: r.cert, key: r.private };
}

/** A CA, two server certs (a.example, b.example) and a client cert it signed, plus an unrelated self-signed one. */
export async function makePki(): Promise<TestPki> {
  const caR = await generate([{ name: 'commonName', value: 'x test CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  const ca = { cert: caR.cert, key: caR.private };
  const [a, b, client, other] = await Promise.all([leaf('a.example', ca), leaf('b.example', ca), leaf('client.example', ca, true), leaf('rogue.example', undefined, true)]);
  return { ca, a, b, client, other };
}
