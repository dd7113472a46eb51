// What a signature allows, against a real s3d: x-amz-* headers and `host` must be signed (an added
// x-amz-copy-source must not turn a presigned or captured PUT into a copy), the credential scope
// must name the server's region, presigned lifetimes are bounded, and botocore's SigV2 works for
// bucket-level requests in both addressing styles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl, python3Result } from '../helpers/clients.js';
import { expectS3Error, objectPath, rawRequest, sendRequest, signRequest, startServerWithBucket } from '../helpers/raw-request.js';
import type { S3dServer } from '../helpers/server.js';

const bucket = 'auth-rules';
const secretKey = 'private/secret.txt';
const secretBody = 'top secret\n';

/** Presigned URLs from boto3: `urls[name]` for each [name, method, key, expiresIn, signatureVersion, region]. */
async function presign(server: S3dServer, specs: Array<[string, 'get_object' | 'put_object', string, number, 's3' | 's3v4', string?]>): Promise<Record<string, string>> {
  return await python3Result<Record<string, string>>(
    `
specs = json.loads(sys.argv[1])
urls = {}
for name, method, key, expires, version, region in specs:
    client = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name=region or "us-east-1", config=Config(signature_version=version))
    urls[name] = client.generate_presigned_url(method, Params={"Bucket": sys.argv[2], "Key": key}, ExpiresIn=expires)
out(urls)`,
    server,
    [JSON.stringify(specs.map(([n, m, k, e, v, r]) => [n, m, k, e, v, r ?? null])), bucket],
  );
}

describe('authentication rules', () => {
  let server: S3dServer;

  const headStatus = async (key: string): Promise<number> => (await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) })).status;

  beforeAll(async () => {
    server = await startServerWithBucket(bucket, { [secretKey]: secretBody });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  describe('unsigned x-amz-* headers and host', () => {
    it('a SigV4 presigned PUT URL plus an added x-amz-copy-source: 403 AccessDenied, nothing copied; the bare URL still works', async () => {
      const { put } = await presign(server, [['put', 'put_object', 'uploads/x', 300, 's3v4']]);
      const res = await fetchUrl(put!, server, { method: 'PUT', body: Buffer.from('hello'), headers: { 'x-amz-copy-source': `${bucket}/${secretKey}` } });
      expectS3Error(res, 403, 'AccessDenied');
      expect(res.body.toString()).toContain('<HeadersNotSigned>x-amz-copy-source</HeadersNotSigned>');
      expect(await headStatus('uploads/x')).toBe(404);
      const plain = await fetchUrl(put!, server, { method: 'PUT', body: Buffer.from('hello') });
      expect(plain.status, plain.body.toString()).toBe(200);
      expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'uploads/x') })).body.toString()).toBe('hello');
    });

    it('a SigV4 presigned PUT URL plus an added x-amz-meta-*: 403 AccessDenied, nothing stored', async () => {
      const { put } = await presign(server, [['put', 'put_object', 'uploads/meta', 300, 's3v4']]);
      const res = await fetchUrl(put!, server, { method: 'PUT', body: Buffer.from('hello'), headers: { 'x-amz-meta-role': 'admin' } });
      expectS3Error(res, 403, 'AccessDenied');
      expect(res.body.toString()).toContain('<HeadersNotSigned>x-amz-meta-role</HeadersNotSigned>');
      expect(await headStatus('uploads/meta')).toBe(404);
    });

    it('a SigV2 presigned PUT URL plus an added x-amz-copy-source: 403 SignatureDoesNotMatch, nothing copied', async () => {
      const { put } = await presign(server, [['put', 'put_object', 'uploads/v2', 300, 's3']]);
      expect(put).toMatch(/[?&]Signature=/);
      const res = await fetchUrl(put!, server, { method: 'PUT', body: Buffer.from('hello'), headers: { 'x-amz-copy-source': `${bucket}/${secretKey}` } });
      expectS3Error(res, 403, 'SignatureDoesNotMatch');
      expect(await headStatus('uploads/v2')).toBe(404);
    });

    it('a captured header-signed PUT replayed with an added x-amz-copy-source: 403 AccessDenied, nothing copied', async () => {
      const path = objectPath(bucket, 'uploads/replayed');
      const signed = await signRequest(server, { method: 'PUT', path, body: 'hello', headers: { 'content-length': '5' } });
      signed.headers['x-amz-copy-source'] = `${bucket}/${secretKey}`;
      const res = await sendRequest(server, 'PUT', signed, Buffer.from('hello'));
      expectS3Error(res, 403, 'AccessDenied');
      expect(res.body.toString()).toContain('<HeadersNotSigned>x-amz-copy-source</HeadersNotSigned>');
      expect(await headStatus('uploads/replayed')).toBe(404);
    });

    it('SignedHeaders without host: 403 AccessDenied (HeadersNotSigned host), nothing stored', async () => {
      const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'uploads/hostless'), body: 'hello', unsignableHeaders: new Set(['host']) });
      expectS3Error(res, 403, 'AccessDenied');
      expect(res.body.toString()).toContain('<HeadersNotSigned>host</HeadersNotSigned>');
      expect(await headStatus('uploads/hostless')).toBe(404);
    });
  });

  describe('credential scope region', () => {
    it('a header-signed request scoped to eu-west-1 on a us-east-1 server: 400 AuthorizationHeaderMalformed with Region us-east-1', async () => {
      const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, secretKey), signingRegion: 'eu-west-1' });
      const err = expectS3Error(get, 400, 'AuthorizationHeaderMalformed');
      expect(err.message?.replace(/&apos;|&#39;/g, "'")).toBe("The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'");
      expect(get.body.toString()).toContain('<Region>us-east-1</Region>');
      const put = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'uploads/eu'), body: 'x', signingRegion: 'eu-west-1' });
      expectS3Error(put, 400, 'AuthorizationHeaderMalformed');
      expect(await headStatus('uploads/eu')).toBe(404);
    });

    it('a presigned URL scoped to eu-west-1: 400 AuthorizationQueryParametersError with Region us-east-1', async () => {
      const { get } = await presign(server, [['get', 'get_object', secretKey, 300, 's3v4', 'eu-west-1']]);
      expect(get).toContain('%2Feu-west-1%2Fs3%2F');
      const res = await fetchUrl(get!, server);
      expectS3Error(res, 400, 'AuthorizationQueryParametersError');
      expect(res.body.toString()).toContain('<Region>us-east-1</Region>');
    });
  });

  describe('presigned lifetimes and empty Authorization', () => {
    it('X-Amz-Expires 0: 403 "Request has expired"; 604801: 400; negative: 400', async () => {
      const { zero, long } = await presign(server, [['zero', 'get_object', secretKey, 0, 's3v4'], ['long', 'get_object', secretKey, 604_801, 's3v4']]);
      expect(expectS3Error(await fetchUrl(zero!, server), 403, 'AccessDenied').message).toBe('Request has expired');
      expect(expectS3Error(await fetchUrl(long!, server), 400, 'AuthorizationQueryParametersError').message).toMatch(/less than a week/);
      const negative = zero!.replace('X-Amz-Expires=0', 'X-Amz-Expires=-1');
      expect(expectS3Error(await fetchUrl(negative, server), 400, 'AuthorizationQueryParametersError').message).toBe('X-Amz-Expires must be non-negative');
    });

    it('a SigV2 presigned URL 30 days ahead: 400 AuthorizationQueryParametersError; 7 days works', async () => {
      const urls = await presign(server, [['month', 'get_object', secretKey, 30 * 86_400, 's3'], ['week', 'get_object', secretKey, 604_800, 's3']]);
      expectS3Error(await fetchUrl(urls.month!, server), 400, 'AuthorizationQueryParametersError');
      const week = await fetchUrl(urls.week!, server);
      expect(week.status, week.body.toString()).toBe(200);
      expect(week.body.toString()).toBe(secretBody);
    });

    it('an empty Authorization value is anonymous: 403 AccessDenied (not 400)', async () => {
      const res = await rawRequest(server, { method: 'GET', path: objectPath(bucket, secretKey), auth: 'none', headers: { authorization: '' } });
      expectS3Error(res, 403, 'AccessDenied');
      const bare = await rawRequest(server, { method: 'GET', path: objectPath(bucket, secretKey), auth: 'none', headers: { authorization: 'AWS4-HMAC-SHA256' } });
      expectS3Error(bare, 400, 'AuthorizationHeaderMalformed');
    });
  });

  it('botocore SigV2 (signature_version="s3"), path and virtual-host style: bucket-level calls and odd keys succeed', async () => {
    const r = await python3Result<Record<string, unknown>>(
      `
import socket
_getaddrinfo = socket.getaddrinfo
def local_getaddrinfo(host, *args, **kwargs):  # *.s3.localhost (virtual-host buckets) is this machine
    return _getaddrinfo("127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *args, **kwargs)
socket.getaddrinfo = local_getaddrinfo
port = ENDPOINT.rsplit(":", 1)[1]
results = {}
for style, endpoint in [("path", ENDPOINT), ("virtual", "https://s3.localhost:" + port)]:
    v2 = boto3.client("s3", endpoint_url=endpoint, verify=CA, region_name="us-east-1",
                      config=Config(signature_version="s3", s3={"addressing_style": style}, retries={"total_max_attempts": 1}))
    bucket = "sigv2-" + style
    key = "dir/a b+c&d=e?f~g's (1)*!.txt"
    done = {}
    def step(name, call):
        try:
            call()
            done[name] = "ok"
        except ClientError as e:
            done[name] = e.response["Error"]["Code"]
    step("CreateBucket", lambda: v2.create_bucket(Bucket=bucket))
    step("PutObject", lambda: v2.put_object(Bucket=bucket, Key=key, Body=b"v2 body", Metadata={"note": "v"}))
    step("ListObjects", lambda: v2.list_objects(Bucket=bucket)["Contents"][0]["Key"] == key or 1 / 0)
    step("ListObjectsV2", lambda: v2.list_objects_v2(Bucket=bucket, Prefix="dir/a b")["KeyCount"] == 1 or 1 / 0)
    step("GetBucketAcl", lambda: v2.get_bucket_acl(Bucket=bucket))
    step("ListMultipartUploads", lambda: v2.list_multipart_uploads(Bucket=bucket))
    step("GetObject", lambda: v2.get_object(Bucket=bucket, Key=key)["Body"].read() == b"v2 body" or 1 / 0)
    step("DeleteObjects", lambda: v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})["Deleted"][0]["Key"] == key or 1 / 0)
    step("Gone", lambda: v2.list_objects_v2(Bucket=bucket)["KeyCount"] == 0 or 1 / 0)
    step("DeleteBucket", lambda: v2.delete_bucket(Bucket=bucket))
    results[style] = done
out(results)`,
      server,
    );
    const expected = Object.fromEntries(
      ['CreateBucket', 'PutObject', 'ListObjects', 'ListObjectsV2', 'GetBucketAcl', 'ListMultipartUploads', 'GetObject', 'DeleteObjects', 'Gone', 'DeleteBucket'].map((op) => [op, 'ok']),
    );
    expect(r).toEqual({ path: expected, virtual: expected });
  });
});
