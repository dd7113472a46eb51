// The TCP transport's mutual handshake, run on every new connection before any call frame. Both
// sides send a hello (node id, Ed25519 public key, 32 random bytes) at once, check the other's key
// against the cluster config, then sign the transcript (context, both nonces, both keys, both ids)
// with their node key and verify the other's signature. This proves who holds each end when the
// connection opens; it does not encrypt or MAC the traffic after it (the transport is for trusted
// networks: on-path attackers are out of scope, as with Ceph msgr2's crc mode).
import { createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { Packr } from 'msgpackr';
import { isTesseraError, TesseraError } from '../util/errors.js';
import type { NodeIdentity } from './identity.js';
import { FrameType, framePayload, type Frame, type FramedSocket } from './tcp-frames.js';

/** Domain separation for the signatures: a signature made here means nothing anywhere else. */
const context = Buffer.from('tessera tcp transport v1');
const protocolName = 'tessera-tcp';
const protocolVersion = 1;
const nonceBytes = 32;
const publicKeyRawBytes = 32;
const signatureBytes = 64;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** What a hello claims. */
export interface Hello {
  nodeId: string;
  /** base64url of the raw 32-byte Ed25519 public key. */
  publicKey: string;
  publicKeyRaw: Buffer;
  nonce: Buffer;
}

export type Role = 'dialer' | 'acceptor';

/**
 * Decides whether the peer's hello is acceptable before any proof is exchanged: returns the peer's
 * node id, or throws PeerNotAuthorized (an unlisted key, not the key of the node dialed).
 */
export type HelloCheck = (hello: Hello) => string;

/**
 * Runs the handshake on a fresh `connection` as `role`; resolves with the peer's node id once its
 * signature verified (call frames that came right behind the proof wait queued until then). Throws PeerNotAuthorized (the
 * check refused the hello, or the signature does not verify), BadFrame (a malformed hello or
 * proof), PeerUnreachable (the connection broke, or `timeoutMs` passed). On any failure the
 * connection is destroyed. The acceptor never reads a call frame of an unproven peer.
 */
export async function handshake(connection: FramedSocket, identity: NodeIdentity, nodeId: string, role: Role, check: HelloCheck, timeoutMs: number): Promise<string> {
  const timer = setTimeout(() => connection.destroy(new TesseraError('PeerUnreachable', `handshake with ${connection.peerName} took longer than ${timeoutMs} ms`)), timeoutMs);
  try {
    const mine: Hello = { nodeId, publicKey: identity.publicKey, publicKeyRaw: identity.publicKeyRaw, nonce: randomBytes(nonceBytes) };
    connection.send(FrameType.Hello, packr.pack({ p: protocolName, v: protocolVersion, id: mine.nodeId, k: mine.publicKeyRaw, n: mine.nonce }));
    const theirs = parseHello(await expect(connection, FrameType.Hello));
    const peerId = check(theirs);
    connection.peerName = `node ${peerId}`;
    const transcript = role === 'dialer' ? transcriptOf(mine, theirs) : transcriptOf(theirs, mine);
    connection.send(FrameType.Proof, sign(null, signedBytes(role, transcript), identity.privateKey));
    const proof = framePayload(await expect(connection, FrameType.Proof));
    const otherRole: Role = role === 'dialer' ? 'acceptor' : 'dialer';
    if (proof.length !== signatureBytes || !verify(null, signedBytes(otherRole, transcript), publicKeyObject(theirs.publicKey), proof)) {
      throw new TesseraError('PeerNotAuthorized', `${connection.peerName} did not prove it holds key ${theirs.publicKey}: its handshake signature does not verify`);
    }
    return peerId;
  } catch (err) {
    const error = isTesseraError(err) ? err : new TesseraError('PeerUnreachable', `handshake with ${connection.peerName} failed: ${(err as Error).message}`, {}, { cause: err });
    connection.destroy(error);
    throw connection.failed ?? error;
  } finally {
    clearTimeout(timer);
  }
}

async function expect(connection: FramedSocket, type: FrameType): Promise<Frame> {
  const frame = await connection.next();
  if (frame.type !== type) throw new TesseraError('BadFrame', `${connection.peerName} sent frame type ${frame.type} during the handshake, expected ${type}`);
  return frame;
}

function parseHello(frame: Frame): Hello {
  let value: unknown;
  try {
    value = packr.unpack(framePayload(frame));
  } catch (err) {
    throw new TesseraError('BadFrame', `hello does not decode: ${(err as Error).message}`);
  }
  const { p, v, id, k, n } = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (p !== protocolName || v !== protocolVersion) throw new TesseraError('BadFrame', `hello of another protocol: ${String(p)} version ${String(v)}`);
  if (typeof id !== 'string' || !(k instanceof Uint8Array) || k.length !== publicKeyRawBytes || !(n instanceof Uint8Array) || n.length !== nonceBytes) {
    throw new TesseraError('BadFrame', 'hello lacks a node id, a 32-byte key or a 32-byte nonce');
  }
  const publicKeyRaw = Buffer.from(k);
  return { nodeId: id, publicKey: publicKeyRaw.toString('base64url'), publicKeyRaw, nonce: Buffer.from(n) };
}

/** Both nonces, both keys, both node ids (each id length-prefixed), dialer's first. */
function transcriptOf(dialer: Hello, acceptor: Hello): Buffer {
  const id = (hello: Hello): Buffer => {
    const bytes = Buffer.from(hello.nodeId);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length, 0);
    return Buffer.concat([length, bytes]);
  };
  return Buffer.concat([dialer.nonce, acceptor.nonce, dialer.publicKeyRaw, acceptor.publicKeyRaw, id(dialer), id(acceptor)]);
}

/** What `role` signs: the context, a role byte (a dialer's signature cannot stand for an acceptor's), the transcript. */
function signedBytes(role: Role, transcript: Buffer): Buffer {
  return Buffer.concat([context, Buffer.from([0, role === 'dialer' ? 1 : 2]), transcript]);
}

/** Public key objects of checked keys (the configured peers' only, so the cache stays small). */
const keyObjects = new Map<string, KeyObject>();

function publicKeyObject(publicKey: string): KeyObject {
  let key = keyObjects.get(publicKey);
  if (key === undefined) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    keyObjects.set(publicKey, key);
  }
  return key;
}
