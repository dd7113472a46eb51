// rclone (Go, aws-sdk-go) against a real s3d over HTTPS with its default multipart settings: a
// copy above its 200 MiB multipart cutoff and an rcat stream (streams always go multipart), then
// `rclone check` and a SHA-256 of what comes back. Go's encoding/xml writes the part ETags in
// CompleteMultipartUpload as `&#34;...&#34;`, so these uploads need character references decoded.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { diagnostics, missingClient, rclone, rcloneSetup, s3Client, type RcloneSetup } from '../helpers/clients.js';
import { MiB, sha256File, writeRandomFile } from '../helpers/files.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'rclone-e2e';
/** Above rclone's default --s3-upload-cutoff (200 MiB), so `rclone copy` uses multipart upload. */
const copySizeBytes = 250 * MiB;
/** Above --streaming-upload-cutoff (100 KiB): rcat uploads it as multipart in 5 MiB chunks; not a chunk multiple. */
const streamSizeBytes = 60 * MiB + 12_345;
/** Bound on one rclone command moving the 250 MiB file (the machine is shared; this is not a speed test). */
const bigCommandTimeoutMs = 600_000;
const smallCommandTimeoutMs = 120_000;
/** One try per rclone command: a refused Complete is the answer to see, not one to repeat three times. */
const oneTry = ['--retries', '1', '-v'];

const skipReason = missingClient('rclone', 'version');

describe.skipIf(skipReason !== undefined)('rclone (default multipart settings, HTTPS)', () => {
  let server: S3dServer;
  let setup: RcloneSetup;
  let work: string;

  beforeAll(async () => {
    server = await startServer();
    setup = rcloneSetup(server);
    work = makeTempDir('rclone-files');
    const mkdir = await rclone(['mkdir', `${setup.remote}:${bucket}`, ...oneTry], setup, server, { timeoutMs: smallCommandTimeoutMs });
    expect(mkdir.code, diagnostics('rclone mkdir', mkdir, server)).toBe(0);
  });
  afterAll(async () => {
    await server?.dispose();
    setup?.dispose();
    if (work !== undefined) removeTempDir(work);
  });

  /** The stored object's ETag, read with the JS SDK (a multipart ETag ends in -<parts>). */
  async function storedEtag(key: string): Promise<string> {
    const client = s3Client(server);
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return head.ETag ?? '';
    } finally {
      client.destroy();
    }
  }

  it('rclone copy of a 250 MiB file (multipart), rclone check, copy back: SHA-256 equal', async () => {
    const source = join(work, 'copy-src');
    const back = join(work, 'copy-back');
    mkdirSync(source);
    const expected = await writeRandomFile(join(source, 'big.bin'), copySizeBytes);
    const remoteDir = `${setup.remote}:${bucket}/copy`;

    const copy = await rclone(['copy', source, remoteDir, ...oneTry], setup, server, { timeoutMs: bigCommandTimeoutMs });
    expect(copy.code, diagnostics('rclone copy (upload)', copy, server)).toBe(0);
    // A multipart ETag, or this test did not exercise CompleteMultipartUpload.
    expect(await storedEtag('copy/big.bin')).toMatch(/^"[0-9a-f]{32}-\d+"$/);

    const check = await rclone(['check', source, remoteDir, ...oneTry], setup, server, { timeoutMs: bigCommandTimeoutMs });
    expect(check.code, diagnostics('rclone check', check, server)).toBe(0);
    expect(check.stderr).toMatch(/0 differences found/);

    const download = await rclone(['copy', remoteDir, back, ...oneTry], setup, server, { timeoutMs: bigCommandTimeoutMs });
    expect(download.code, diagnostics('rclone copy (download)', download, server)).toBe(0);
    expect(await sha256File(join(back, 'big.bin'))).toBe(expected);
    removeTempDir(source);
    removeTempDir(back);
  }, 1_800_000);

  it('rclone rcat of a ~60 MiB stream (multipart), rclone check --download, copy back: SHA-256 equal', async () => {
    const source = join(work, 'stream-src');
    const back = join(work, 'stream-back');
    mkdirSync(source);
    const file = join(source, 'stream.bin');
    const expected = await writeRandomFile(file, streamSizeBytes);
    const remoteDir = `${setup.remote}:${bucket}/stream`;

    const rcat = await rclone(['rcat', `${remoteDir}/stream.bin`, ...oneTry], setup, server, { inputFile: file, timeoutMs: smallCommandTimeoutMs * 3 });
    expect(rcat.code, diagnostics('rclone rcat', rcat, server)).toBe(0);
    expect(await storedEtag('stream/stream.bin')).toMatch(/^"[0-9a-f]{32}-\d+"$/);

    // A streamed upload has no MD5 to compare, so check the content itself.
    const check = await rclone(['check', '--download', source, remoteDir, ...oneTry], setup, server, { timeoutMs: smallCommandTimeoutMs * 3 });
    expect(check.code, diagnostics('rclone check --download', check, server)).toBe(0);
    expect(check.stderr).toMatch(/0 differences found/);

    const download = await rclone(['copyto', `${remoteDir}/stream.bin`, join(back, 'stream.bin'), ...oneTry], setup, server, { timeoutMs: smallCommandTimeoutMs * 3 });
    expect(download.code, diagnostics('rclone copyto (download)', download, server)).toBe(0);
    expect(await sha256File(join(back, 'stream.bin'))).toBe(expected);
    removeTempDir(source);
    removeTempDir(back);
  }, 900_000);
});
