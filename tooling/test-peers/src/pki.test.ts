import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testCa, testCert } from './pki.js';

describe('testCa / testCert', () => {
  it('a CA and a certificate it signed: the names given, in order; serverAuth and clientAuth; SAN DNS = CN and 127.0.0.1', async () => {
    const ca = await testCa({ C: 'RO', O: 'x tests', CN: 'x test CA' });
    const leaf = await testCert({ O: 'x tests', CN: 'node.x.test' }, ca);
    const c = new X509Certificate(ca.cert);
    const l = new X509Certificate(leaf.cert);
    expect(c.ca).toBe(true);
    expect(c.subject).toBe('C=RO\nO=x tests\nCN=x test CA');
    expect(l.ca).toBe(false);
    expect(l.subject).toBe('O=x tests\nCN=node.x.test');
    expect(l.issuer).toBe(c.subject);
    expect(l.checkIssued(c)).toBe(true);
    expect(l.verify(c.publicKey)).toBe(true);
    expect(l.subjectAltName).toBe('DNS:node.x.test, IP Address:127.0.0.1');
    expect(l.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(l.publicKey.asymmetricKeyType).toBe('ec');
    expect(l.checkPrivateKey(createPrivateKey(leaf.key))).toBe(true);
  });

  it('dnsSan: false leaves only the IP; a CN is required', async () => {
    const ca = await testCa({ CN: 'only CN' });
    expect(new X509Certificate(ca.cert).subject).toBe('CN=only CN');
    const leaf = await testCert({ CN: 'node1' }, ca, { dnsSan: false });
    expect(new X509Certificate(leaf.cert).subjectAltName).toBe('IP Address:127.0.0.1');
    await expect(testCa({ CN: '' })).rejects.toThrow(/needs a CN/);
  });
});
