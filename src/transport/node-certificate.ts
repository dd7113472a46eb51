// The X.509 certificate a node presents on node-to-node TLS: self-signed with the node's Ed25519
// identity key, made in memory at start. Peers never validate it as a chain; they only compare its
// public key with the cluster config, so the certificate is just a TLS-shaped wrapper for the key.
import { createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  X509CertificateGenerator,
} from '@peculiar/x509';
import type { NodeIdentity } from './identity.js';

/** Lifetime of a node certificate. It is regenerated on every start, and peers ignore the dates. */
export const nodeCertificateValidityDays = 365;
/** notBefore is back-dated by this much so that clock skew between nodes never matters. */
export const nodeCertificateBackdateMs = 60 * 60 * 1000;

/** PEM strings for `tls` options `cert` and `key`. */
export interface NodeCertificate {
  certPem: string;
  /** The identity's private key as PKCS#8 PEM. */
  keyPem: string;
}

const ed25519 = { name: 'Ed25519' } as const;

/**
 * A self-signed X.509 v3 certificate for `identity` (RFC 5280; Ed25519 signature per RFC 8410):
 * subject and issuer CN = `nodeId`, random positive 128-bit serial, not a CA, key usage
 * digitalSignature, extended key usage serverAuth + clientAuth. Pure function of its inputs except
 * the serial. Throws only on a broken identity (programmer error).
 */
export async function nodeCertificate(identity: NodeIdentity, nodeId: string, nowMs = Date.now()): Promise<NodeCertificate> {
  const pkcs8 = identity.privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(identity.privateKey).export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', pkcs8, ed25519, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', spki, ed25519, true, ['verify']),
  };
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // RFC 5280 4.1.2.2: serial numbers are positive
  const notBefore = new Date(nowMs - nodeCertificateBackdateMs);
  // @peculiar/x509 signs through globalThis.crypto, which is Node's webcrypto on Node >= 19.
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: [{ CN: [nodeId] }],
    notBefore,
    notAfter: new Date(nowMs + nodeCertificateValidityDays * 24 * 60 * 60 * 1000),
    signingAlgorithm: ed25519,
    keys,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth], false),
    ],
  });
  return {
    certPem: certificate.toString('pem'),
    keyPem: identity.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
