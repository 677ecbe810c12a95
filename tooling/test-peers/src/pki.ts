// Test certificates (selfsigned): an EC P-256 / SHA-256 CA, and certificates it signs for a test
// node (server and client use, SAN: DNS = its CN unless left out, IP 127.0.0.1). The tests that trace TLS events
// check the certificates' subject and issuer names, so the names are the caller's.
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

/** A certificate subject, written in this order: countryName, organizationName, commonName. */
export interface CertSubject {
  C?: string;
  O?: string;
  CN: string;
}

function attrs(s: CertSubject): Array<{ name: string; value: string }> {
  if (!s.CN) throw new Error('a test certificate needs a CN');
  return [
    ...(s.C !== undefined ? [{ name: 'countryName', value: s.C }] : []),
    ...(s.O !== undefined ? [{ name: 'organizationName', value: s.O }] : []),
    { name: 'commonName', value: s.CN },
  ];
}

/** A self-signed CA (basicConstraints cA, critical; keyCertSign, cRLSign, digitalSignature). */
export async function testCa(subject: CertSubject): Promise<Pem> {
  const r = await generate(attrs(subject), {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true },
    ],
  });
  return { cert: r.cert, key: r.private };
}

export interface TestCertOptions {
  /** also name the CN as a DNS subjectAltName (default true); IP 127.0.0.1 is always one */
  dnsSan?: boolean;
}

/** A node's certificate signed by `signer`: serverAuth and clientAuth, SAN DNS = the CN (unless `dnsSan: false`) and IP 127.0.0.1. */
export async function testCert(subject: CertSubject, signer: Pem, { dnsSan = true }: TestCertOptions = {}): Promise<Pem> {
  const r = await generate(attrs(subject), {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: signer.key, cert: signer.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      { name: 'subjectAltName', altNames: [...(dnsSan ? [{ type: 2 as const, value: subject.CN }] : []), { type: 7 as const, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: r.cert, key: r.private };
}
