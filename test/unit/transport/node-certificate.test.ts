// The node certificate: an X.509 v3 certificate self-signed with the node's Ed25519 identity key,
// whose public key is exactly the key the cluster config lists for the node.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nodeCertificate, nodeCertificateBackdateMs, nodeCertificateValidityDays } from '../../../src/transport/node-certificate.js';
import { publicKeyString } from '../../../src/transport/identity.js';
import { newIdentity } from './transport-contract.js';

describe('nodeCertificate', () => {
  it('carries the identity public key and verifies with it', async () => {
    const identity = newIdentity();
    const { certPem, keyPem } = await nodeCertificate(identity, 'node-1');
    const certificate = new X509Certificate(certPem);
    expect(certificate.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(publicKeyString(certificate.publicKey)).toBe(identity.publicKey);
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(publicKeyString(createPrivateKey(keyPem))).toBe(identity.publicKey);
  });

  it('names the node, is no CA, allows TLS client and server use, and is valid now', async () => {
    const now = Date.UTC(2030, 0, 1);
    const { certPem } = await nodeCertificate(newIdentity(), 'node-7', now);
    const certificate = new X509Certificate(certPem);
    expect(certificate.subject).toBe('CN=node-7');
    expect(certificate.issuer).toBe('CN=node-7');
    expect(certificate.ca).toBe(false);
    expect(certificate.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(Date.parse(certificate.validFrom)).toBe(Math.floor((now - nodeCertificateBackdateMs) / 1000) * 1000);
    expect(Date.parse(certificate.validTo)).toBe(now + nodeCertificateValidityDays * 86_400_000);
  });

  it('uses a fresh positive serial each time', async () => {
    const identity = newIdentity();
    const [first, second] = await Promise.all([nodeCertificate(identity, 'n'), nodeCertificate(identity, 'n')]);
    const serials = [first, second].map(({ certPem }) => new X509Certificate(certPem).serialNumber);
    expect(serials[0]).not.toBe(serials[1]);
    for (const serial of serials) expect(BigInt(`0x${serial}`) < 1n << 127n).toBe(true); // positive in 16 DER bytes
  });
});
