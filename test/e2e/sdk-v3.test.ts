// @aws-sdk/client-s3 v3 with its defaults (CRC32 checksums; aws-chunked trailers for streams)
// against a real s3d, path-style and virtual-host-style (bucket.localhost).
import { Upload } from '@aws-sdk/lib-storage';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  ListBucketsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/clients.js';
import { MiB, sha256Hex } from '../helpers/files.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'sdkv3-e2e';
const vhostBucket = 'sdkv3-vhost';

function crc32Base64(data: Buffer): string {
  const raw = Buffer.alloc(4);
  raw.writeUInt32BE(crc32(data) >>> 0);
  return raw.toString('base64');
}

async function bodyBytes(client: S3Client, key: string, b = bucket): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: b, Key: key }));
  return Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** Records the host and headers of every request the client sends (after signing). */
function recordRequests(client: S3Client): Array<{ hostname: string; path: string; headers: Record<string, string> }> {
  const seen: Array<{ hostname: string; path: string; headers: Record<string, string> }> = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { hostname: string; path: string; headers: Record<string, string> };
      seen.push({ hostname: request.hostname, path: request.path, headers: { ...request.headers } });
      return await next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'e2eRecordRequests' },
  );
  return seen;
}

/** A Readable whose length the SDK cannot know in advance. */
function unknownLengthStream(data: Buffer, chunkBytes = 64 * 1024): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      this.push(data.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
    },
  });
}

describe('@aws-sdk/client-s3 v3 (defaults)', () => {
  let server: S3dServer;
  let client: S3Client;
  let sent: ReturnType<typeof recordRequests>;

  beforeAll(async () => {
    server = await startServer();
    client = s3Client(server, { forcePathStyle: true });
    sent = recordRequests(client);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  it('the ready log line names the endpoint', () => {
    expect(server.readyLine.endpoints).toContain(server.endpoint);
  });

  it('concurrent overwrites of one key: every GET returns exactly one of the written bodies', async () => {
    const bodies = Array.from({ length: 6 }, () => randomBytes(2 * MiB));
    const hashes = new Set(bodies.map((b) => sha256Hex(b)));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'contended', Body: bodies[0] }));
    const reads: Array<Promise<Buffer>> = [];
    const writes = bodies.map(async (body, i) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'contended', Body: body }));
      if (i % 2 === 0) reads.push(bodyBytes(client, 'contended'));
    });
    for (let i = 0; i < 4; i++) reads.push(bodyBytes(client, 'contended'));
    await Promise.all(writes);
    const seen = await Promise.all(reads);
    seen.push(await bodyBytes(client, 'contended'));
    for (const body of seen) expect(hashes.has(sha256Hex(body)), `a GET returned ${body.length} bytes matching no written body`).toBe(true);
  });

  it('PutObject of a string, GetObject returns it', async () => {
    const text = 'hello, tessera ✓\n';
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'string.txt', Body: text }));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(put.ChecksumCRC32).toBe(crc32Base64(Buffer.from(text)));
    expect((await bodyBytes(client, 'string.txt')).toString()).toBe(text);
  });

  it('PutObject of a Buffer, GetObject returns the same bytes', async () => {
    const data = randomBytes(3 * MiB + 11);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'buffer.bin', Body: data }));
    expect(sha256Hex(await bodyBytes(client, 'buffer.bin'))).toBe(sha256Hex(data));
  });

  it('PutObject of a Readable with ContentLength (chunked transfer + aws-chunked CRC32 trailer)', async () => {
    const data = randomBytes(2 * MiB + 333);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream-known.bin', Body: unknownLengthStream(data), ContentLength: data.length }));
    const request = sent.filter((r) => r.path.endsWith('/stream-known.bin')).at(-1);
    expect(request?.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(request?.headers['content-encoding']).toMatch(/aws-chunked/);
    expect(sha256Hex(await bodyBytes(client, 'stream-known.bin'))).toBe(sha256Hex(data));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream-known.bin', ChecksumMode: 'ENABLED' }));
    await got.Body?.transformToByteArray();
    expect(got.ChecksumCRC32).toBe(crc32Base64(data));
  });

  it('a Readable of unknown length through @aws-sdk/lib-storage Upload (multipart with checksums)', async () => {
    const data = randomBytes(12 * MiB + 5);
    await new Upload({ client, params: { Bucket: bucket, Key: 'stream-unknown.bin', Body: unknownLengthStream(data) } }).done();
    expect(sha256Hex(await bodyBytes(client, 'stream-unknown.bin'))).toBe(sha256Hex(data));
  });

  it('CopyObject copies bytes and keeps the ETag of a single-part source', async () => {
    const copy = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'buffer-copy.bin', CopySource: `${bucket}/buffer.bin` }));
    const source = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'buffer.bin' }));
    expect(copy.CopyObjectResult?.ETag).toBe(source.ETag);
    expect(sha256Hex(await bodyBytes(client, 'buffer-copy.bin'))).toBe(sha256Hex(await bodyBytes(client, 'buffer.bin')));
  });

  it('ListObjectsV2 with a delimiter returns objects and common prefixes', async () => {
    for (const key of ['tree/x/1', 'tree/x/2', 'tree/y/1', 'tree/top']) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tree/', Delimiter: '/' }));
    expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['tree/x/', 'tree/y/']);
    expect(res.Contents?.map((o) => o.Key)).toEqual(['tree/top']);
    expect(res.KeyCount).toBe(3);
    expect(res.IsTruncated).toBe(false);
    const top = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['tree/']);
    expect(top.Contents?.map((o) => o.Key)).toContain('string.txt');
    expect(top.Contents?.find((o) => o.Key === 'buffer.bin')?.Size).toBe(3 * MiB + 11);
  });

  it('keys with characters SigV4 and XML must escape round-trip through Put, List, Get, Copy and DeleteObjects', async () => {
    const keys = [
      'special/a+b c', 'special/100%', 'special/100%25', 'special/amp&lt;', `special/quote"'`, 'special/tab\tkey', 'special/emoji 🎉',
      'special/star*', 'special/back\\slash', 'special/~tilde', 'special/question?mark', 'special/hash#tag', 'special/semi;colon:eq=x,comma',
      'special/(paren)[bracket]{brace}', 'special/dollar$at@caret^', 'special/ünïcödé/日本', 'special/trailing-space ', 'special//double-slash',
      'special/dot/./seg', 'special/<tag>',
    ];
    for (const key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'special/' }));
    const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(sorted);
    for (const key of keys) expect((await bodyBytes(client, key)).toString(), key).toBe(`body of ${key}`);
    const source = 'special/question?mark';
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'special-copy/a+b & c', CopySource: `${bucket}/${encodeURIComponent(source)}` }));
    expect((await bodyBytes(client, 'special-copy/a+b & c')).toString()).toBe(`body of ${source}`);
    const deleted = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [...keys, 'special-copy/a+b & c'].map((Key) => ({ Key })) } }));
    expect(deleted.Errors ?? []).toEqual([]);
    expect(deleted.Deleted?.map((d) => d.Key).sort()).toEqual([...keys, 'special-copy/a+b & c'].sort());
    const after = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'special' }));
    expect(after.KeyCount).toBe(0);
  });

  it('multipart upload with CRC32 checksums: part checksums, composite object checksum, GetObject with ChecksumMode', async () => {
    const key = 'mpu-crc32.bin';
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(MiB + 7)];
    const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'CRC32' }));
    expect(create.ChecksumAlgorithm).toBe('CRC32');
    const uploadId = create.UploadId as string;
    const completed: Array<{ PartNumber: number; ETag: string; ChecksumCRC32: string }> = [];
    for (const [i, part] of parts.entries()) {
      const res = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: part, ChecksumAlgorithm: 'CRC32' }),
      );
      expect(res.ChecksumCRC32).toBe(crc32Base64(part));
      completed.push({ PartNumber: i + 1, ETag: res.ETag as string, ChecksumCRC32: res.ChecksumCRC32 as string });
    }
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: completed } }));
    // Composite: CRC32 over the concatenated raw part CRC32s, then "-<part count>".
    const composite = `${crc32Base64(Buffer.concat(parts.map((p) => Buffer.from(crc32Base64(p), 'base64'))))}-3`;
    expect(done.ChecksumCRC32).toBe(composite);
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);

    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    const body = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(sha256Hex(body)).toBe(sha256Hex(Buffer.concat(parts)));
    expect(got.ChecksumCRC32).toBe(composite);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
    expect(head.ContentLength).toBe(parts.reduce((n, p) => n + p.length, 0));
    expect(head.ChecksumCRC32).toBe(composite);
  });

  it('multipart edge cases: a re-uploaded part wins, parts may be skipped, the upload is gone after Complete', async () => {
    const key = 'mpu-edges.bin';
    const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const uploadId = create.UploadId as string;
    const upload = async (partNumber: number, body: Buffer) =>
      (await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body }))).ETag as string;
    const first = randomBytes(5 * MiB);
    await upload(1, randomBytes(5 * MiB));
    const etag1 = await upload(1, first); // a retried part replaces the earlier one
    await upload(2, randomBytes(5 * MiB)); // left out of Complete
    const third = randomBytes(1234);
    const etag3 = await upload(3, third);
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag1 }, { PartNumber: 3, ETag: etag3 }] } }),
    );
    expect(sha256Hex(await bodyBytes(client, key))).toBe(sha256Hex(Buffer.concat([first, third])));
    const parts = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).then(
      () => 'listed',
      (e: { name?: string }) => e.name,
    );
    expect(parts).toBe('NoSuchUpload');
  });

  it('CopyObject onto itself: 400 InvalidRequest without REPLACE; with REPLACE metadata changes and the body survives', async () => {
    const data = randomBytes(1_500_000);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'self.bin', Body: data, Metadata: { v: '1' } }));
    const plain = await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self.bin', CopySource: `${bucket}/self.bin` })).then(
      () => undefined,
      (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(plain?.$metadata?.httpStatusCode).toBe(400);
    expect(plain?.name).toBe('InvalidRequest');
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: 'self.bin', CopySource: `${bucket}/self.bin`, MetadataDirective: 'REPLACE', Metadata: { v: '2' } }));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'self.bin' }));
    expect(head.Metadata).toEqual({ v: '2' });
    expect(sha256Hex(await bodyBytes(client, 'self.bin'))).toBe(sha256Hex(data));
  });

  it('GetObject with ChecksumMode ENABLED returns the CRC32 the SDK sent on PutObject', async () => {
    const data = randomBytes(777_777);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'crc.bin', Body: data }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'crc.bin', ChecksumMode: 'ENABLED' }));
    const body = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(got.ChecksumCRC32).toBe(crc32Base64(data));
    expect(body.equals(data)).toBe(true);
  });

  it('standard headers are stored and returned; response-* overrides apply to GetObject', async () => {
    const expires = new Date('2031-02-03T04:05:06Z');
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'headers.txt',
        Body: 'headers',
        ContentType: 'text/plain; charset=utf-8',
        CacheControl: 'max-age=60, public',
        ContentDisposition: 'attachment; filename="x y.txt"',
        ContentEncoding: 'identity',
        ContentLanguage: 'de-CH',
        Expires: expires,
        Metadata: { 'mixed-case': 'Value With Spaces' },
      }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'headers.txt' }));
    expect(head.ContentType).toBe('text/plain; charset=utf-8');
    expect(head.CacheControl).toBe('max-age=60, public');
    expect(head.ContentDisposition).toBe('attachment; filename="x y.txt"');
    expect(head.ContentEncoding).toBe('identity');
    expect(head.ContentLanguage).toBe('de-CH');
    expect(head.ExpiresString ?? head.Expires?.toUTCString()).toBe(expires.toUTCString());
    expect(head.Metadata).toEqual({ 'mixed-case': 'Value With Spaces' });
    const got = await client.send(
      new GetObjectCommand({ Bucket: bucket, Key: 'headers.txt', ResponseContentType: 'application/x-override', ResponseCacheControl: 'no-store', ResponseContentDisposition: 'inline' }),
    );
    await got.Body?.transformToByteArray();
    expect(got.ContentType).toBe('application/x-override');
    expect(got.CacheControl).toBe('no-store');
    expect(got.ContentDisposition).toBe('inline');
  });

  it('ListObjectsV2 StartAfter; ListBuckets and GetBucketLocation (us-east-1 is empty)', async () => {
    const after = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tree/', StartAfter: 'tree/x/1' }));
    expect(after.Contents?.map((o) => o.Key)).toEqual(['tree/x/2', 'tree/y/1']);
    const buckets = await client.send(new ListBucketsCommand({}));
    const mine = buckets.Buckets?.find((b) => b.Name === bucket);
    expect(mine?.CreationDate).toBeInstanceOf(Date);
    const location = await client.send(new GetBucketLocationCommand({ Bucket: bucket }));
    expect(location.LocationConstraint ?? '').toBe('');
  });

  it('conditional PutObject: If-None-Match * on an existing key -> 412, on a new key -> 200', async () => {
    const err = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'buffer.bin', Body: 'must not overwrite', IfNoneMatch: '*' })).then(
      () => undefined,
      (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(err?.$metadata?.httpStatusCode).toBe(412);
    expect((await bodyBytes(client, 'buffer.bin')).length).toBe(3 * MiB + 11);
    const ok = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'created-once', Body: 'first', IfNoneMatch: '*' }));
    expect(ok.$metadata.httpStatusCode).toBe(200);
  });

  it('HeadObject returns length, ETag and LastModified; DeleteObject makes it 404', async () => {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'string.txt' }));
    expect(head.ContentLength).toBe(Buffer.byteLength('hello, tessera ✓\n'));
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(head.LastModified).toBeInstanceOf(Date);
    const del = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'string.txt' }));
    expect(del.$metadata.httpStatusCode).toBe(204);
    const err = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'string.txt' })).then(
      () => undefined,
      (e: { name?: string; $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(err?.$metadata?.httpStatusCode).toBe(404);
    expect(err?.name).toBe('NotFound');
    const getErr = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'string.txt' })).then(
      () => undefined,
      (e: { name?: string }) => e,
    );
    expect(getErr?.name).toBe('NoSuchKey');
  });

  describe('virtual-host style (bucket.localhost)', () => {
    let vclient: S3Client;
    let vsent: ReturnType<typeof recordRequests>;

    beforeAll(() => {
      // Addressing is what this block tests; the certificate name check is the separate test below.
      vclient = s3Client(server, { forcePathStyle: false, endpoint: `https://localhost:${server.port}`, bucketHostAsLocalhost: true });
      vsent = recordRequests(vclient);
    });
    afterAll(() => vclient?.destroy());

    it('the TLS certificate verifies for bucket.s3.localhost with standard hostname checks', async () => {
      // *.localhost can never verify (a wildcard right above a single label), so the default
      // domains include s3.localhost and the generated certificate covers *.s3.localhost.
      const strict = s3Client(server, { forcePathStyle: false, endpoint: `https://s3.localhost:${server.port}` });
      try {
        const outcome = await strict.send(new ListObjectsV2Command({ Bucket: 'any-bucket' })).then(
          () => 'ok',
          (e: Error & { code?: string; $metadata?: { httpStatusCode?: number } }) => (e.$metadata?.httpStatusCode !== undefined ? 'http answer' : `${e.code ?? ''} ${e.message}`),
        );
        expect(outcome).toMatch(/^(ok|http answer)$/);
      } finally {
        strict.destroy();
      }
    });

    it('CreateBucket, PutObject, GetObject, ListObjectsV2, DeleteObject, DeleteBucket through bucket.localhost', async () => {
      await vclient.send(new CreateBucketCommand({ Bucket: vhostBucket }));
      const data = randomBytes(100_000);
      await vclient.send(new PutObjectCommand({ Bucket: vhostBucket, Key: 'dir/v.bin', Body: data }));
      expect((await bodyBytes(vclient, 'dir/v.bin', vhostBucket)).equals(data)).toBe(true);
      // The same object is visible path-style.
      expect((await bodyBytes(client, 'dir/v.bin', vhostBucket)).equals(data)).toBe(true);
      const list = await vclient.send(new ListObjectsV2Command({ Bucket: vhostBucket, Prefix: 'dir/' }));
      expect(list.Contents?.map((o) => o.Key)).toEqual(['dir/v.bin']);
      await vclient.send(new DeleteObjectCommand({ Bucket: vhostBucket, Key: 'dir/v.bin' }));
      const after = await vclient.send(new ListObjectsV2Command({ Bucket: vhostBucket }));
      expect(after.KeyCount).toBe(0);
      await vclient.send(new DeleteBucketCommand({ Bucket: vhostBucket }));

      expect(vsent.length).toBeGreaterThanOrEqual(6);
      for (const request of vsent) {
        expect(request.hostname).toBe(`${vhostBucket}.localhost`);
        expect(request.path.startsWith(`/${vhostBucket}`)).toBe(false);
      }
    });
  });
});
