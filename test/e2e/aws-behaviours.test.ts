// AWS behaviours of issue 12 item 10 against a real s3d, through boto3, the JS SDK and raw
// requests: 206 for a Range covering the whole object, non-dates in conditional headers ignored,
// stored headers byte for byte, non-ASCII x-amz-meta-* RFC 2047-encoded, the empty continuation
// token, and re-creating a bucket you own (200 in us-east-1, 409 elsewhere).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { python3Result, s3Client } from '../helpers/clients.js';
import { expectS3Error, objectPath, rawRequest, startServerWithBucket } from '../helpers/raw-request.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'aws-behaviours';

describe('AWS behaviours of issue 12 item 10', () => {
  let server: S3dServer;
  let client: S3Client;
  const body = Buffer.from('0123456789abcdefghij');

  beforeAll(async () => {
    server = await startServerWithBucket(bucket, { 'twenty.bin': body });
    client = s3Client(server);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  it('a Range covering the whole object answers 206 with Content-Range (bytes=0-, 0-N with N >= size-1, suffix >= size)', async () => {
    for (const range of ['bytes=0-', 'bytes=0-19', 'bytes=0-1000', 'bytes=-20', 'bytes=-500']) {
      for (const method of ['GET', 'HEAD']) {
        const res = await rawRequest(server, { method, path: objectPath(bucket, 'twenty.bin'), headers: { range } });
        expect(res.status, `${method} ${range}`).toBe(206);
        expect(res.headers['content-range'], `${method} ${range}`).toBe('bytes 0-19/20');
        expect(res.headers['content-length'], `${method} ${range}`).toBe('20');
        if (method === 'GET') expect(res.body.equals(body), range).toBe(true);
      }
    }
    const r = await python3Result<Record<string, unknown>>(`
g = s3.get_object(Bucket=sys.argv[1], Key="twenty.bin", Range="bytes=0-")
out({"status": g["ResponseMetadata"]["HTTPStatusCode"], "range": g.get("ContentRange"), "len": len(g["Body"].read())})`, server, [bucket]);
    expect(r).toEqual({ status: 206, range: 'bytes 0-19/20', len: 20 });
  });

  it('unparsable dates in If-Unmodified-Since / If-Modified-Since / copy-source conditions are ignored', async () => {
    const path = objectPath(bucket, 'twenty.bin');
    for (const value of ['1', '2026', 'tomorrow', '2001-01-01T00:00:00Z']) {
      expect((await rawRequest(server, { method: 'GET', path, headers: { 'if-unmodified-since': value } })).status, value).toBe(200);
      expect((await rawRequest(server, { method: 'HEAD', path, headers: { 'if-unmodified-since': value } })).status, value).toBe(200);
    }
    // Date.parse reads "3000" as the year 3000, which would make this a 304.
    expect((await rawRequest(server, { method: 'GET', path, headers: { 'if-modified-since': '3000' } })).status).toBe(200);
    const copied = await rawRequest(server, {
      method: 'PUT', path: objectPath(bucket, 'copied.bin'),
      headers: { 'x-amz-copy-source': `${bucket}/twenty.bin`, 'x-amz-copy-source-if-unmodified-since': '1' },
    });
    expect(copied.status, copied.body.toString()).toBe(200);
    // Real HTTP-dates still work.
    expect((await rawRequest(server, { method: 'GET', path, headers: { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' } })).status).toBe(412);
    expect((await rawRequest(server, { method: 'GET', path, headers: { 'if-modified-since': 'Wed, 01 Jan 3000 00:00:00 GMT' } })).status).toBe(304);
  });

  it('Content-Encoding and the other stored headers come back byte for byte (empty values too); aws-chunked is removed', async () => {
    const headers = {
      'content-encoding': 'gzip, deflate',
      'content-type': 'text/plain; charset=UTF-8',
      'content-disposition': 'attachment; filename="report.txt"',
      'content-language': 'de-DE, en-CA',
      'cache-control': '',
      'expires': 'Thu, 01 Dec 2094 16:00:00 GMT',
    };
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'headers.txt'), body: 'h', headers })).status).toBe(200);
    for (const method of ['GET', 'HEAD']) {
      const res = await rawRequest(server, { method, path: objectPath(bucket, 'headers.txt') });
      for (const [name, value] of Object.entries(headers)) expect(res.headers[name], `${method} ${name}`).toBe(value);
    }
    const r = await python3Result<Record<string, unknown>>(`
s3.put_object(Bucket=sys.argv[1], Key="gz.txt", Body=b"g", ContentEncoding="gzip", ChecksumAlgorithm="CRC32",
              ContentDisposition='attachment; filename="résumé.txt"', CacheControl="ÄMÄZÕÑ S3")
h = s3.head_object(Bucket=sys.argv[1], Key="gz.txt")
# botocore sends these headers as UTF-8 and reads answers as latin-1 (as with AWS, which returns the bytes as sent).
out({"encoding": h.get("ContentEncoding"), "disposition": h["ContentDisposition"].encode("latin-1").decode("utf-8"),
     "cacheControl": h["CacheControl"].encode("latin-1").decode("utf-8")})`, server, [bucket]);
    // boto3 sends Content-Encoding: gzip,aws-chunked with its trailer; the object keeps only gzip.
    expect(r).toEqual({ encoding: 'gzip', disposition: 'attachment; filename="résumé.txt"', cacheControl: 'ÄMÄZÕÑ S3' });
  });

  it('non-ASCII x-amz-meta-* values come back RFC 2047-encoded (boto3, JS SDK and raw), encoded-words are decoded on the way in', async () => {
    // Node's client sends 'ü' as the latin1 byte FC (not UTF-8): read as latin1, stored as UTF-8.
    const put = await rawRequest(server, {
      method: 'PUT', path: objectPath(bucket, 'meta.txt'), body: 'm',
      headers: { 'x-amz-meta-city': 'Zürich', 'x-amz-meta-plain': 'just ascii', 'x-amz-meta-encoded': '=?UTF-8?B?w6l0w6k=?=', 'x-amz-meta-fake': '=?UTF-8?Q?actually-ascii?=' },
    });
    expect(put.status).toBe(200);
    const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'meta.txt') });
    expect(head.headers['x-amz-meta-city']).toBe('=?UTF-8?Q?Z=C3=BCrich?=');
    expect(head.headers['x-amz-meta-plain']).toBe('just ascii');
    expect(head.headers['x-amz-meta-encoded']).toBe('=?UTF-8?Q?=C3=A9t=C3=A9?=');
    expect(head.headers['x-amz-meta-fake']).toBe('actually-ascii');
    const sdk = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta.txt' }));
    expect(sdk.Metadata).toEqual({ city: '=?UTF-8?Q?Z=C3=BCrich?=', plain: 'just ascii', encoded: '=?UTF-8?Q?=C3=A9t=C3=A9?=', fake: 'actually-ascii' });
    const r = await python3Result<Record<string, unknown>>(`
import botocore.handlers
from email.header import decode_header, make_header
encoded = make_header([("naïve ✓".encode(), "utf-8")]).encode()
s3.put_object(Bucket=sys.argv[1], Key="boto-meta.txt", Body=b"b", Metadata={"word": encoded})
m = s3.head_object(Bucket=sys.argv[1], Key="boto-meta.txt")["Metadata"]["word"]
# Without botocore's ASCII check, raw UTF-8 metadata goes out as curl would send it.
raw = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1")
raw.meta.events.unregister("before-parameter-build.s3.PutObject", botocore.handlers.validate_ascii_metadata)
raw.put_object(Bucket=sys.argv[1], Key="utf8-meta.txt", Body=b"u", Metadata={"city": "Zürich ✓"})
u = s3.head_object(Bucket=sys.argv[1], Key="utf8-meta.txt")["Metadata"]["city"]
out({"sent": encoded, "answer": m, "decoded": str(make_header(decode_header(m))), "utf8": u})`, server, [bucket]);
    expect(r.answer).toBe('=?UTF-8?Q?na=C3=AFve_=E2=9C=93?=');
    expect(r.decoded).toBe('naïve ✓');
    expect(r.utf8).toBe('=?UTF-8?Q?Z=C3=BCrich_=E2=9C=93?=');
  });

  it('ListObjectsV2 with an empty continuation token answers 400 InvalidArgument, as AWS', async () => {
    const res = await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', 'continuation-token': '' } });
    expectS3Error(res, 400, 'InvalidArgument');
    expect(res.body.toString()).toContain('<ArgumentName>continuation-token</ArgumentName>');
  });

  it('re-creating an owned bucket answers 200 in us-east-1 (boto3 and raw), 409 BucketAlreadyOwnedByYou in another region', async () => {
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    const r = await python3Result<Record<string, unknown>>(`
s3.create_bucket(Bucket=sys.argv[1])
s3.create_bucket(Bucket=sys.argv[1])
try:
    s3.create_bucket(Bucket=sys.argv[1], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    other = 200
except ClientError as e:
    other = e.response["Error"]["Code"]
out({"listed": [b["Name"] for b in s3.list_buckets()["Buckets"]].count(sys.argv[1]), "otherRegion": other})`, server, ['again-bucket']);
    expect(r).toEqual({ listed: 1, otherRegion: 'BucketAlreadyOwnedByYou' });
    // The object in the bucket is untouched by the repeated CreateBucket.
    expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'twenty.bin') })).body.equals(body)).toBe(true);

    const dir = makeTempDir('eu-west-1');
    const config = join(dir, 'eu-west-1.yaml');
    writeFileSync(config, 'region: eu-west-1\n');
    const eu = await startServer({ extraArgs: ['--config', config] });
    try {
      const euResult = await python3Result<Record<string, unknown>>(`
eu = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="eu-west-1")
eu.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
try:
    eu.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    again = [200, None]
except ClientError as e:
    again = [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]]
out({"again": again})`, eu);
      expect(euResult.again).toEqual([409, 'BucketAlreadyOwnedByYou']);
    } finally {
      await eu.dispose();
      removeTempDir(dir);
    }
  }, 120_000);
});
