// A CompleteMultipartUpload sent again after it succeeded (SDKs retry it after a timeout) gets the
// same 200 answer, on a single node (also after a restart) and on a 6-node cluster (through other
// nodes, one node down); another part list, UploadPart, ListParts and Abort of the completed upload
// get NoSuchUpload. Also GET/HEAD with partNumber on single-PUT and multipart objects, as AWS answers.
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  ListPartsCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { python3Result, s3Client, type HttpResult } from '../helpers/clients.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { MiB } from '../helpers/files.js';
import { expectS3Error, objectPath, rawRequest } from '../helpers/raw-request.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'retry';

interface Upload {
  key: string;
  uploadId: string;
  /** [partNumber, quoted ETag] of the two parts (5 MiB and 1,000 bytes). */
  parts: Array<[number, string]>;
  checksums: string[];
}

/** An upload with two parts (5 MiB + 1,000 bytes), CRC32 checksums when `crc32`. */
async function twoPartUpload(client: S3Client, key: string, crc32 = false): Promise<Upload> {
  const algorithm = crc32 ? { ChecksumAlgorithm: 'CRC32' as const } : {};
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...algorithm }));
  const parts: Array<[number, string]> = [];
  const checksums: string[] = [];
  for (const [i, body] of [randomBytes(5 * MiB), randomBytes(1000)].entries()) {
    const res = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body, ...algorithm }));
    parts.push([i + 1, res.ETag!]);
    checksums.push(res.ChecksumCRC32 ?? '');
  }
  return { key, uploadId: UploadId!, parts, checksums };
}

function completeXml(parts: Array<[number, string]>, checksums: string[] = []): string {
  const part = ([n, etag]: [number, string], i: number): string =>
    `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag>${checksums[i] ? `<ChecksumCRC32>${checksums[i]}</ChecksumCRC32>` : ''}</Part>`;
  return `<CompleteMultipartUpload>${parts.map(part).join('')}</CompleteMultipartUpload>`;
}

async function complete(server: S3dServer, up: Upload, parts = up.parts, headers: Record<string, string> = {}): Promise<HttpResult> {
  return await rawRequest(server, { method: 'POST', path: objectPath(bucket, up.key), query: { uploadId: up.uploadId }, headers, body: completeXml(parts, up.checksums) });
}

function tag(res: HttpResult, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(res.body.toString())?.[1];
}

/** The NoSuchUpload error name an SDK call fails with, or 'ok'. */
async function sdkOutcome(call: Promise<unknown>): Promise<string> {
  return await call.then(() => 'ok', (e: { name?: string }) => e.name ?? String(e));
}

describe('CompleteMultipartUpload retried on a single node', () => {
  let server: S3dServer;
  let client: S3Client;

  beforeAll(async () => {
    server = await startServer();
    client = s3Client(server);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  it('a raw Complete sent twice: 200 both times, the same body (ETag, checksum, Location, Bucket, Key) and headers', async () => {
    const up = await twoPartUpload(client, 'raw.bin', true);
    const first = await complete(server, up);
    expect(first.status, first.body.toString()).toBe(200);
    expect(tag(first, 'ETag')).toMatch(/^&quot;[0-9a-f]{32}-2&quot;$/);
    expect(tag(first, 'ChecksumCRC32')).toMatch(/-2$/);
    const again = await complete(server, up);
    expect(again.status, again.body.toString()).toBe(200);
    expect(again.body.toString()).toBe(first.body.toString());
    expect(again.headers['x-amz-checksum-crc32']).toBe(first.headers['x-amz-checksum-crc32']);
    // AWS answers a retry 200 even with If-None-Match: * (the object exists now: its own).
    const conditional = await complete(server, up, up.parts, { 'if-none-match': '*' });
    expect(conditional.status, conditional.body.toString()).toBe(200);
    expect(tag(conditional, 'ETag')).toBe(tag(first, 'ETag'));
  });

  it('the JS SDK sends Complete twice: the same ETag and checksum; another part list gets NoSuchUpload', async () => {
    const up = await twoPartUpload(client, 'sdk.bin', true);
    const input = {
      Bucket: bucket, Key: up.key, UploadId: up.uploadId,
      MultipartUpload: { Parts: up.parts.map(([PartNumber, ETag], i) => ({ PartNumber, ETag, ChecksumCRC32: up.checksums[i]! })) },
    };
    const first = await client.send(new CompleteMultipartUploadCommand(input));
    const again = await client.send(new CompleteMultipartUploadCommand(input));
    expect(again.ETag).toBe(first.ETag);
    expect(again.ChecksumCRC32).toBe(first.ChecksumCRC32);
    expect([again.Bucket, again.Key, again.Location]).toEqual([first.Bucket, first.Key, first.Location]);
    const fewer = { ...input, MultipartUpload: { Parts: input.MultipartUpload.Parts.slice(0, 1) } };
    expect(await sdkOutcome(client.send(new CompleteMultipartUploadCommand(fewer)))).toBe('NoSuchUpload');
  });

  it('a completed upload takes no parts, lists none and cannot be aborted (NoSuchUpload); a retry still answers 200', async () => {
    const up = await twoPartUpload(client, 'gone.bin');
    const first = await complete(server, up);
    expect(first.status).toBe(200);
    const ids = { Bucket: bucket, Key: up.key, UploadId: up.uploadId };
    expect(await sdkOutcome(client.send(new UploadPartCommand({ ...ids, PartNumber: 3, Body: Buffer.from('late') })))).toBe('NoSuchUpload');
    expect(await sdkOutcome(client.send(new ListPartsCommand(ids)))).toBe('NoSuchUpload');
    expect(await sdkOutcome(client.send(new AbortMultipartUploadCommand(ids)))).toBe('NoSuchUpload');
    expectS3Error(await complete(server, up, [up.parts[0]!]), 404, 'NoSuchUpload');
    expectS3Error(await complete(server, { ...up, key: 'other-key.bin' }), 404, 'NoSuchUpload');
    const again = await complete(server, up);
    expect(again.status).toBe(200);
    expect(again.body.toString()).toBe(first.body.toString());
  });

  it('overwritten or deleted since: the retry reports what the first Complete did, and brings nothing back', async () => {
    const up = await twoPartUpload(client, 'later.bin');
    const first = await complete(server, up);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: up.key, Body: 'newer' }));
    expect((await complete(server, up)).body.toString()).toBe(first.body.toString());
    expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, up.key) })).body.toString()).toBe('newer');
    await rawRequest(server, { method: 'DELETE', path: objectPath(bucket, up.key) });
    expect((await complete(server, up)).status).toBe(200);
    expect((await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, up.key) })).status).toBe(404);
  });

  it('boto3 completes twice: the same ETag; and a retry after a restart still answers 200', async () => {
    const result = await python3Result<{ first: string; again: string }>(`
bucket, key = sys.argv[1], sys.argv[2]
upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
parts = []
for n, body in ((1, os.urandom(5 * 1024 * 1024)), (2, b"tail")):
    parts.append({"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=body)["ETag"]})
args = dict(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
first = s3.complete_multipart_upload(**args)["ETag"]
again = s3.complete_multipart_upload(**args)["ETag"]
out({"first": first, "again": again})
`, server, [bucket, 'boto3.bin']);
    expect(result.first).toMatch(/^"[0-9a-f]{32}-2"$/);
    expect(result.again).toBe(result.first);

    const up = await twoPartUpload(client, 'restart.bin');
    const first = await complete(server, up);
    await server.restart();
    const again = await complete(server, up);
    expect(again.status).toBe(200);
    expect(again.body.toString()).toBe(first.body.toString());
  }, 120_000);
});

describe('GET and HEAD with partNumber', () => {
  let server: S3dServer;
  let client: S3Client;
  let mpuSizes: number[];

  beforeAll(async () => {
    server = await startServer();
    client = s3Client(server);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: '0123456789' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: '' }));
    const up = await twoPartUpload(client, 'mpu');
    expect((await complete(server, up)).status).toBe(200);
    mpuSizes = [5 * MiB, 1000];
  }, 60_000);
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  const get = async (method: 'GET' | 'HEAD', key: string, partNumber: string, headers: Record<string, string> = {}, b = bucket): Promise<HttpResult> =>
    await rawRequest(server, { method, path: objectPath(b, key), query: { partNumber }, headers });

  it('a single PUT is part 1: 206 of the whole object, Content-Range, no x-amz-mp-parts-count', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      for (const partNumber of ['1', '01']) {
        const res = await get(method, 'plain', partNumber);
        expect(res.status, `${method} ${partNumber}`).toBe(206);
        expect(res.headers['content-range']).toBe('bytes 0-9/10');
        expect(res.headers['content-length']).toBe('10');
        expect(res.headers['x-amz-mp-parts-count']).toBeUndefined();
        expect(res.body.toString()).toBe(method === 'GET' ? '0123456789' : '');
      }
      const empty = await get(method, 'empty', '1');
      expect([empty.status, empty.headers['content-length'], empty.headers['content-range']]).toEqual([200, '0', undefined]);
    }
  });

  it('a multipart object: its parts (leading zeros allowed) with x-amz-mp-parts-count', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const second = await get(method, 'mpu', '02');
      expect(second.status).toBe(206);
      expect(second.headers['content-range']).toBe(`bytes ${mpuSizes[0]}-${mpuSizes[0]! + mpuSizes[1]! - 1}/${mpuSizes[0]! + mpuSizes[1]!}`);
      expect(second.headers['x-amz-mp-parts-count']).toBe('2');
      if (method === 'GET') expect(second.body.length).toBe(mpuSizes[1]);
    }
  });

  it('a part beyond the count: 416 InvalidPartNumber naming PartNumberRequested and ActualPartCount', async () => {
    for (const [key, partNumber, count] of [['plain', '2', 1], ['mpu', '3', 2], ['mpu', '010000', 2]] as const) {
      const res = await get('GET', key, partNumber);
      expectS3Error(res, 416, 'InvalidPartNumber');
      expect(res.body.toString()).toContain(
        `<Message>The requested partnumber is not satisfiable</Message><PartNumberRequested>${Number(partNumber)}</PartNumberRequested><ActualPartCount>${count}</ActualPartCount>`,
      );
      const head = await get('HEAD', key, partNumber);
      expect([head.status, head.body.length]).toEqual([416, 0]);
    }
  });

  it('not an integer in 1..10000: 400 InvalidArgument naming the value, before the key is looked up', async () => {
    for (const partNumber of ['0', '00', '10001', '-1', '1.0', ' 1', 'abc', '', '0x1', '1e0']) {
      for (const key of ['plain', 'no-such-key']) {
        const res = await get('GET', key, partNumber);
        expectS3Error(res, 400, 'InvalidArgument');
        const body = res.body.toString();
        expect(body, partNumber).toContain('<Message>Part number must be an integer between 1 and 10000, inclusive</Message>');
        expect(body, partNumber).toContain(`<ArgumentName>partNumber</ArgumentName><ArgumentValue>${partNumber}</ArgumentValue>`);
        expect((await get('HEAD', key, partNumber)).status, `HEAD ${partNumber}`).toBe(400);
      }
    }
    expectS3Error(await get('GET', 'no-such-key', '2'), 404, 'NoSuchKey');
    expectS3Error(await get('GET', 'plain', 'abc', {}, 'no-such-bucket'), 404, 'NoSuchBucket');
  });

  it('a Range beside partNumber: 400 InvalidRequest, whatever either says', async () => {
    for (const [partNumber, range] of [['1', 'bytes=0-1'], ['abc', 'bytes=0-1'], ['1', '']]) {
      expectS3Error(await get('GET', 'plain', partNumber!, { range: range! }), 400, 'InvalidRequest');
      expect((await get('HEAD', 'mpu', partNumber!, { range: range! })).status).toBe(400);
    }
  });
});

describe('CompleteMultipartUpload retried on a 6-node cluster (4 + 2)', () => {
  let cluster: TestCluster;
  let clients: S3Client[];

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 6, parity: 2 });
    clients = cluster.nodes.map((node) => s3Client(node));
    await clients[0]!.send(new CreateBucketCommand({ Bucket: bucket }));
  }, 120_000);
  afterAll(async () => {
    for (const client of clients ?? []) client.destroy();
    await cluster?.dispose();
  });

  it('completed through one node, retried through others (raw and the JS SDK): 200 and the same ETag, also with a node down', async () => {
    const [n1, n2, n3] = cluster.nodes as [S3dServer, S3dServer, S3dServer];
    const up = await twoPartUpload(clients[0]!, 'cluster.bin', true);
    const first = await complete(n2, up);
    expect(first.status, first.body.toString()).toBe(200);
    const again = await complete(n2, up);
    expect(again.body.toString()).toBe(first.body.toString());
    const elsewhere = await complete(n3, up);
    expect(elsewhere.status).toBe(200);
    for (const name of ['ETag', 'ChecksumCRC32', 'ChecksumType', 'Bucket', 'Key']) expect(tag(elsewhere, name), name).toBe(tag(first, name));
    const sdk = await clients[3]!.send(new CompleteMultipartUploadCommand({
      Bucket: bucket, Key: up.key, UploadId: up.uploadId,
      MultipartUpload: { Parts: up.parts.map(([PartNumber, ETag], i) => ({ PartNumber, ETag, ChecksumCRC32: up.checksums[i]! })) },
    }));
    expect(`&quot;${sdk.ETag!.replace(/"/g, '')}&quot;`).toBe(tag(first, 'ETag'));
    expectS3Error(await complete(n1, up, [up.parts[0]!]), 404, 'NoSuchUpload');
    await cluster.nodes[5]!.kill9();
    const withNodeDown = await complete(n1, up);
    expect(withNodeDown.status, withNodeDown.body.toString()).toBe(200);
    expect(tag(withNodeDown, 'ETag')).toBe(tag(first, 'ETag'));
  }, 120_000);
});
