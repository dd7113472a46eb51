// A node's identity is an Ed25519 key pair. The private key stays in the node's key file (PKCS#8
// PEM, mode 0600); the public key, as base64url of its raw 32 bytes (RFC 8032 encoding), is what
// the cluster config lists for every node and what both transports check on every connection.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { TesseraError } from '../util/errors.js';

/** A node's own key pair, loaded. */
export interface NodeIdentity {
  privateKey: KeyObject;
  /** RFC 8032 private key seed, 32 bytes. */
  seed: Buffer;
  /** RFC 8032 public key, 32 bytes. */
  publicKeyRaw: Buffer;
  /** base64url of publicKeyRaw (43 characters). */
  publicKey: string;
}

/** A new key pair: the PKCS#8 PEM to save and the public key string for the config. */
export function generateNodeKey(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const identity = identityOf(privateKey);
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: identity.publicKey };
}

/** The identity held by a PKCS#8 PEM Ed25519 private key. Throws InvalidConfig for other keys. */
export function identityFromPem(pem: string | Buffer, source = 'key'): NodeIdentity {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new TesseraError('InvalidConfig', `${source}: not a PEM private key (${(err as Error).message})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TesseraError('InvalidConfig', `${source}: an Ed25519 key is required, found ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return identityOf(key);
}

/** Loads a node key file. Throws InvalidConfig (unreadable, not Ed25519). */
export async function loadNodeIdentity(keyFile: string): Promise<NodeIdentity> {
  const pem = await readFile(keyFile).catch((err: Error) => {
    throw new TesseraError('InvalidConfig', `config field "cluster.keyFile": cannot read ${keyFile}: ${err.message}`);
  });
  return identityFromPem(pem, `config field "cluster.keyFile" (${keyFile})`);
}

/** The raw 32-byte public key of a base64url string; throws InvalidConfig when malformed. */
export function publicKeyBytes(publicKey: string): Buffer {
  const raw = Buffer.from(publicKey, 'base64url');
  if (raw.length !== 32 || raw.toString('base64url') !== publicKey) {
    throw new TesseraError('InvalidConfig', `public key "${publicKey}" is not base64url of 32 bytes`);
  }
  return raw;
}

/** The base64url public key of an Ed25519 public KeyObject (from a peer's certificate). */
export function publicKeyString(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  if (key.asymmetricKeyType !== 'ed25519' || typeof jwk.x !== 'string') {
    throw new TesseraError('PeerNotAuthorized', `peer key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  return jwk.x;
}

function identityOf(privateKey: KeyObject): NodeIdentity {
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new TesseraError('InvalidConfig', 'Ed25519 key without seed or public part');
  const publicKeyRaw = Buffer.from(jwk.x, 'base64url');
  createPublicKey(privateKey); // asserts the key is usable
  return { privateKey, seed: Buffer.from(jwk.d, 'base64url'), publicKeyRaw, publicKey: jwk.x };
}
