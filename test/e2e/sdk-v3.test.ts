// @aws-sdk/client-s3 v3 with its defaults (CRC32 checksums; aws-chunked trailers for streams)
// against a real s3d, path-style and virtual-host-style (bucket.localhost).
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
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
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

  it('a Readable of unknown length through @aws-sdk/lib-storage Upload', async (ctx) => {
    const moduleName = '@aws-sdk/lib-storage';
    let Upload: (new (opts: unknown) => { done(): Promise<unknown> }) | undefined;
    try {
      ({ Upload } = (await import(moduleName)) as { Upload: typeof Upload });
    } catch {
      Upload = undefined;
    }
    if (Upload === undefined) {
      console.log('skipped: @aws-sdk/lib-storage is not in node_modules (not a devDependency)');
      ctx.skip('@aws-sdk/lib-storage is not installed');
      return;
    }
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

  it('GetObject with ChecksumMode ENABLED returns the CRC32 the SDK sent on PutObject', async () => {
    const data = randomBytes(777_777);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'crc.bin', Body: data }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'crc.bin', ChecksumMode: 'ENABLED' }));
    const body = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    expect(got.ChecksumCRC32).toBe(crc32Base64(data));
    expect(body.equals(data)).toBe(true);
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
      vclient = s3Client(server, { forcePathStyle: false, endpoint: `https://localhost:${server.port}` });
      vsent = recordRequests(vclient);
    });
    afterAll(() => vclient?.destroy());

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
