// Starts and stops the bench's peer server, s3rver, so the same load can be run against it as against
// s3d: fresh work dir, free port, HTTPS with the same kind of self-signed certificate s3d generates.
//
// What s3rver is, so its numbers are read correctly: a small S3 server for tests, written in Node
// (Koa), one process, one event loop. Each object is one plain file under its data dir, plus an .md5 and
// a metadata.json file beside it: no erasure coding, no bitrot checks, no replication, and no fsync
// anywhere (a 200 means the bytes reached the page cache). Bodies are streamed, never held whole in
// memory. A PUT writes into the final path in place (no temp file + rename), so an interrupted PUT
// leaves a partial object that GET, HEAD and listings then serve (over an existing key: the new partial
// bytes with the old ETag). SigV4 signatures are not verified: only the access key id must be "S3RVER"
// and x-amz-date within 15 minutes; unsigned requests are served too. ListObjects walks the directory
// tree with synchronous fs calls. So its figures bound from above what "a Node S3 front end writing
// files to one local filesystem" can do; they are not those of a durable, erasure-coded store.

import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCertificate } from '../src/cluster/tls-certificate.js';
import { peerReadyMessage } from './peer-s3rver.js';
import { freePort, logTail, spawnLogged, waitForReady } from './server-process.js';
import type { SigV4Credentials } from './sigv4-sign.js';

/** Name of the peer in reports. */
export const peerName = 's3rver';
/** How long the child may take to print its ready line (s3rver starts in well under a second). */
export const peerReadyTimeoutMs = 30_000;
/**
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only offers in
 * its legacy provider: without this flag every truncated listing is a 500 InternalError on Node 20.
 */
const peerNodeOptions = '--openssl-legacy-provider';
/**
 * The only key pair s3rver 3.7.1 knows (lib/models/account.js, DUMMY_ACCOUNT). It checks the access key
 * id of a SigV4 request but never the signature, so the secret only has to be well-formed.
 */
export const peerCredentials: Readonly<SigV4Credentials> = Object.freeze({ accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1' });

/** A peer server the bench started; stop() it exactly once. Shaped like server-process.ts's SpawnedServer. */
export interface SpawnedPeer {
  /** The pid of the node process running s3rver (sample it with sampleProcess / ProcessWatcher). */
  pid: number;
  /** https://127.0.0.1:<port> (path-style requests: /bucket/key). */
  endpoint: URL;
  /** PEM of the peer's self-signed certificate (workDir/tls/cert.pem); SANs include IP 127.0.0.1. */
  ca: Buffer;
  /** What to sign with: peerCredentials. */
  credentials: SigV4Credentials;
  /** Fresh temp dir holding data/, tls/ and peer.log. */
  workDir: string;
  /** <workDir>/data, s3rver's `directory`: one subdirectory per bucket. */
  dataDir: string;
  /** Where the child's stdout and stderr go. */
  logPath: string;
  /** SIGTERM, then SIGKILL after server-process.ts's serverStopTimeoutMs; resolves with "exit 0", a code or the signal. */
  stop: () => Promise<string>;
}

/** Options for startPeer. */
export interface StartPeerOptions {
  /** Parent of the fresh work dir; default os.tmpdir(). */
  dataDirParent: string | undefined;
}

/** The version of the installed s3rver package (node_modules/s3rver/package.json), e.g. "3.7.1". */
export function peerVersion(): string {
  const packagePath = createRequire(import.meta.url).resolve('s3rver/package.json');
  return (JSON.parse(readFileSync(packagePath, 'utf8')) as { version: string }).version;
}

/**
 * Spawns `node peer-s3rver.js` on a free port of 127.0.0.1 and resolves once it prints its ready line.
 * Throws Error with the log tail when it exits first or is not ready within peerReadyTimeoutMs.
 */
export async function startPeer(options: StartPeerOptions): Promise<SpawnedPeer> {
  const workDir = await mkdtemp(join(options.dataDirParent ?? tmpdir(), 'tessera-bench-peer-'));
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir);
  // The certificate s3d would generate for itself (ECDSA P-256, SAN 127.0.0.1), so both pay the same TLS cost.
  const { certFile, keyFile } = await ensureCertificate(workDir, []);
  const port = await freePort();
  const logPath = join(workDir, 'peer.log');
  const entryPath = fileURLToPath(new URL('./peer-s3rver.js', import.meta.url));
  const args = ['--directory', dataDir, '--port', String(port), '--cert-file', certFile, '--key-file', keyFile];
  const nodeOptions = `${process.env['NODE_OPTIONS'] ?? ''} ${peerNodeOptions}`.trim();
  const child = spawnLogged(entryPath, args, { NODE_OPTIONS: nodeOptions }, logPath);
  try {
    await waitForReady(logPath, child.exitedHow, peerReadyTimeoutMs, peerReadyMessage);
  } catch (err) {
    await child.kill();
    throw new Error(`${(err as Error).message}; peer log ${logPath}:\n${logTail(logPath)}`);
  }
  const ca = await readFile(certFile);
  const credentials = { ...peerCredentials };
  return { pid: child.pid, endpoint: new URL(`https://127.0.0.1:${port}`), ca, credentials, workDir, dataDir, logPath, stop: child.stop };
}
