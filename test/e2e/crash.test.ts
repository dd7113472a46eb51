// kill -9 of a real s3d in the middle of writes, then a restart on the same data dir: an object is
// either absent or whole (never partial), acknowledged writes survive, temp files are cleaned; a
// CompleteMultipartUpload that committed before the kill answers its retry 200 with the same ETag.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/clients.js';
import { MiB, describeTree, listFilesRecursive, sha256Hex } from '../helpers/files.js';
import { expectS3Error, objectPath, rawRequest, signRequest, signedRequestOptions, type SignedRequest } from '../helpers/raw-request.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'crash';
const tempSettleMs = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Files that look like in-progress temp data: under a tmp/temp/staging dir, or named *.tmp / *.partial. */
function tempLookingFiles(dataDir: string): string[] {
  return listFilesRecursive(dataDir).filter((rel) => {
    const segments = rel.split('/');
    const dirs = segments.slice(0, -1);
    const name = segments.at(-1) ?? '';
    return dirs.some((d) => /^\.?(tmp|temp|staging|incoming|partial|inflight)$/i.test(d)) || /\.(tmp|temp|partial)$/i.test(name) || /^\.?tmp[-_.]/i.test(name);
  });
}

function bytesUnder(dataDir: string): number {
  return listFilesRecursive(dataDir).reduce((total, rel) => total + statSync(join(dataDir, rel)).size, 0);
}

/** Sends a signed request and writes the body through `writeBody`; resolves with the outcome, never rejects. */
function openRequest(server: S3dServer, method: string, signed: SignedRequest) {
  const req = httpsRequest(signedRequestOptions(server, method, signed));
  const outcome = new Promise<string>((resolveOutcome) => {
    req.on('response', (res) => {
      res.resume();
      resolveOutcome(`response ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolveOutcome(`error ${err.code ?? err.message}`));
  });
  return { req, outcome };
}

describe('crash safety (kill -9 and restart)', () => {
  let server: S3dServer;
  let client: S3Client;

  const restartAfterKill = async (): Promise<void> => {
    client?.destroy();
    await server.restart();
    client = s3Client(server);
  };

  /** HEAD is 404 (and the key is not listed), or the object is complete with the expected sha256. */
  const expectAbsentOrWhole = async (key: string, size: number, sha256: string): Promise<'absent' | 'whole'> => {
    const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) });
    const list = await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: key } });
    const listed = list.body.toString().includes(`<Key>${key}</Key>`);
    if (head.status === 404) {
      expect(listed, `${key}: HEAD 404 but ListObjectsV2 lists it`).toBe(false);
      return 'absent';
    }
    expect(head.status, `${key}: HEAD must be 404 or 200`).toBe(200);
    expect(Number(head.headers['content-length']), `${key}: partial object visible`).toBe(size);
    const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
    expect(got.status).toBe(200);
    expect(got.body.length, `${key}: GET returned a partial body`).toBe(size);
    expect(sha256Hex(got.body), `${key}: GET returned different bytes`).toBe(sha256);
    expect(listed, `${key}: HEAD 200 but ListObjectsV2 does not list it`).toBe(true);
    return 'whole';
  };

  beforeAll(async () => {
    server = await startServer();
    client = s3Client(server);
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  it('SIGTERM shuts down gracefully (exit 0); data is there after restart', async () => {
    const data = randomBytes(300_000);
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'before-sigterm'), body: data })).status).toBe(200);
    const exit = await server.stop('SIGTERM');
    expect(exit, server.logs().slice(-3000)).toEqual({ code: 0, signal: null });
    await restartAfterKill();
    const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'before-sigterm') });
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
  });

  it('acknowledged writes survive kill -9', async () => {
    const objects = Array.from({ length: 10 }, (_, i) => ({ key: `acked-${i}`, data: randomBytes(i === 0 ? 16 * MiB : 10_000 + i) }));
    for (const o of objects) {
      const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, o.key), body: o.data });
      expect(res.status, res.body.toString()).toBe(200);
    }
    await server.kill9();
    await restartAfterKill();
    for (const o of objects) {
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, o.key) });
      expect(got.status, `${o.key} lost after kill -9`).toBe(200);
      expect(sha256Hex(got.body), `${o.key} corrupted after kill -9`).toBe(sha256Hex(o.data));
    }
  });

  it('kill -9 during a slow 200 MiB PUT (after ~50 MiB): object absent after restart; temp files cleaned', async () => {
    const totalBytes = 200 * MiB;
    const killAfterBytes = 50 * MiB;
    const bytesBefore = bytesUnder(server.dataDir);
    const signed = await signRequest(server, {
      method: 'PUT',
      path: objectPath(bucket, 'killed-put'),
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(totalBytes) },
    });
    const { req, outcome } = openRequest(server, 'PUT', signed);
    let sent = 0;
    let early: string | undefined;
    void outcome.then((o) => (early = o));
    while (sent < killAfterBytes && early === undefined) {
      const chunk = randomBytes(MiB);
      if (!req.write(chunk)) await Promise.race([once(req, 'drain'), outcome]);
      sent += chunk.length;
      await sleep(2);
    }
    expect(early, 'the server answered before the body was complete').toBeUndefined();
    const inProgress = listFilesRecursive(server.dataDir);
    const tempDuring = tempLookingFiles(server.dataDir);
    await server.kill9();
    expect(await outcome).toMatch(/^error /);
    const tempAfterKill = tempLookingFiles(server.dataDir);

    await restartAfterKill();
    await sleep(tempSettleMs);
    // A 200 MiB object cannot be whole: only ~50 MiB were ever sent.
    expect(await expectAbsentOrWhole('killed-put', totalBytes, 'unreachable')).toBe('absent');

    const tempAfterRestart = tempLookingFiles(server.dataDir);
    console.log(
      `[crash] files while uploading: ${inProgress.length}; temp-looking during: ${tempDuring.length}, after kill: ${tempAfterKill.length}, ` +
        `after restart: ${tempAfterRestart.length}; bytes under DIR before/after: ${bytesBefore}/${bytesUnder(server.dataDir)}\n` +
        `[crash] data dir after restart:\n${describeTree(server.dataDir, 60)}`,
    );
    expect(tempAfterRestart, `temp files left ${tempSettleMs} ms after restart`).toEqual([]);
  }, 300_000);

  it('kill -9 during an overwrite: the previous version is still whole after restart', async () => {
    const previous = randomBytes(8 * MiB);
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'overwritten'), body: previous })).status).toBe(200);
    const totalBytes = 64 * MiB;
    const signed = await signRequest(server, {
      method: 'PUT',
      path: objectPath(bucket, 'overwritten'),
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(totalBytes) },
    });
    const { req, outcome } = openRequest(server, 'PUT', signed);
    for (let sent = 0; sent < 24 * MiB; sent += MiB) {
      if (!req.write(randomBytes(MiB))) await Promise.race([once(req, 'drain'), outcome]);
    }
    await server.kill9();
    expect(await outcome).toMatch(/^error /);
    await restartAfterKill();
    expect(await expectAbsentOrWhole('overwritten', previous.length, sha256Hex(previous)), 'the previous version was lost').toBe('whole');
  }, 300_000);

  it('kill -9 right after a 64 MiB PUT body was sent (before the response): absent or whole', async () => {
    const data = randomBytes(64 * MiB);
    const signed = await signRequest(server, {
      method: 'PUT',
      path: objectPath(bucket, 'killed-after-body'),
      payloadHash: 'UNSIGNED-PAYLOAD',
      headers: { 'content-length': String(data.length) },
    });
    const { req, outcome } = openRequest(server, 'PUT', signed);
    const finished = once(req, 'finish');
    req.end(data);
    await Promise.race([finished, outcome]);
    await server.kill9();
    const result = await outcome;
    await restartAfterKill();
    const state = await expectAbsentOrWhole('killed-after-body', data.length, sha256Hex(data));
    if (result === 'response 200') expect(state, 'a PUT acknowledged with 200 was lost').toBe('whole');
    console.log(`[crash] PUT outcome ${result}; after restart the object is ${state}`);
  }, 300_000);

  it('a flipped byte in a stored shard file is detected: GET never returns wrong bytes', async () => {
    const data = randomBytes(MiB + 3);
    const before = new Set(listFilesRecursive(server.dataDir));
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'bitrot'), body: data })).status).toBe(200);
    // The object's shard files: new files at least a few KiB large (metadata files only change).
    const shards = listFilesRecursive(server.dataDir).filter((rel) => !before.has(rel) && statSync(join(server.dataDir, rel)).size >= 4096);
    expect(shards.length, `no new shard file found under ${server.dataDir}:\n${describeTree(server.dataDir, 80)}`).toBeGreaterThan(0);
    for (const rel of shards) {
      const path = join(server.dataDir, rel);
      const bytes = readFileSync(path);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0x5a;
      writeFileSync(path, bytes);
    }
    let outcome: string;
    try {
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'bitrot') });
      if (got.status === 200 && got.body.length === data.length) {
        expect(sha256Hex(got.body), 'GET returned corrupted bytes with 200').toBe(sha256Hex(data));
        outcome = 'healed (200, correct bytes)';
      } else {
        expect(got.status === 200 ? 'truncated 200' : got.status >= 500 ? 'error' : `unexpected ${got.status}`).not.toMatch(/unexpected/);
        if (got.status >= 500) expectS3Error(got, got.status);
        outcome = `${got.status}, ${got.body.length} bytes`;
      }
    } catch (err) {
      outcome = `connection aborted: ${(err as Error).message}`;
    }
    console.log(`[crash] GET of a bitrotten object: ${outcome}`);
    expect(server.running(), 'the server died on a corrupt shard').toBe(true);
  });

  for (const delayMs of [0, 25, 150]) {
    it(`kill -9 ${delayMs} ms after sending CompleteMultipartUpload: absent (upload still completable) or whole (a retry answers 200)`, async () => {
      const key = `killed-complete-${delayMs}`;
      const parts = [randomBytes(8 * MiB), randomBytes(8 * MiB), randomBytes(3 * MiB)];
      const whole = Buffer.concat(parts);
      const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploadId = create.UploadId as string;
      const etags: string[] = [];
      for (const [i, part] of parts.entries()) {
        const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: part }));
        etags.push(res.ETag as string);
      }
      const completeXml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
      const signed = await signRequest(server, {
        method: 'POST',
        path: objectPath(bucket, key),
        query: { uploadId },
        body: completeXml,
        headers: { 'content-length': String(Buffer.byteLength(completeXml)) },
      });
      const { req, outcome } = openRequest(server, 'POST', signed);
      const finished = once(req, 'finish');
      req.end(completeXml);
      await finished;
      if (delayMs > 0) await sleep(delayMs);
      await server.kill9();
      const result = await outcome;
      await restartAfterKill();

      const state = await expectAbsentOrWhole(key, whole.length, sha256Hex(whole));
      console.log(`[crash] Complete outcome ${result}; after restart the object is ${state}`);
      if (result === 'response 200') expect(state, 'a Complete acknowledged with 200 was lost').toBe('whole');
      const md5s = parts.map((p) => createHash('md5').update(p).digest());
      const etag = `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-3"`;
      const retry = new CompleteMultipartUploadCommand({
        Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      });
      if (state === 'absent') {
        // The parts were acknowledged: the upload must still be there and completable.
        const listed = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
        expect(listed.Parts?.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
        await client.send(retry);
        expect(await expectAbsentOrWhole(key, whole.length, sha256Hex(whole))).toBe('whole');
      } else {
        // The object committed, and its completion record with it (one transaction): the client's
        // retry of the Complete it got no answer to is answered 200 with the object's ETag.
        expect((await client.send(retry)).ETag, 'the retried Complete of an object that committed').toBe(etag);
      }
      const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) });
      expect(head.headers.etag).toBe(etag);
    }, 300_000);
  }
});
