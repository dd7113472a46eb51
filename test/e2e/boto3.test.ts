// boto3 (default config: CRC32 checksum trailers over aws-chunked) against a real s3d: bytes and
// file transfers, every flexible checksum algorithm, paginated listing, batch delete, conditional
// GETs and presigned URLs used with urllib.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { python3, python3Result } from '../helpers/clients.js';
import { MiB, sha256File, writeRandomFile } from '../helpers/files.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'boto3-e2e';

/** Pure-python CRC32C and CRC64/NVME, so those algorithms can be checked without awscrt. */
const pythonCrcs = `
def _table(poly, width):
    mask = (1 << width) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & mask)
    return table
_T32C = _table(0x82F63B78, 32)
_T64N = _table(0x9A6C9329AC4BC9B5, 64)
def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def crc64nvme(data):
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = _T64N[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF
assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888
def b64(raw):
    return base64.b64encode(raw).decode()
LOCAL = {
    "CRC32": lambda d: b64(zlib.crc32(d).to_bytes(4, "big")),
    "CRC32C": lambda d: b64(crc32c(d).to_bytes(4, "big")),
    "CRC64NVME": lambda d: b64(crc64nvme(d).to_bytes(8, "big")),
    "SHA1": lambda d: b64(hashlib.sha1(d).digest()),
    "SHA256": lambda d: b64(hashlib.sha256(d).digest()),
}
SENT = []
def _record(request, **kwargs):
    SENT.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})
s3.meta.events.register("before-send.s3", _record)
`;

describe('boto3 (default config)', () => {
  let server: S3dServer;
  let work: string;

  beforeAll(async () => {
    server = await startServer();
    work = makeTempDir('boto3');
    await python3Result(`s3.create_bucket(Bucket=sys.argv[1]); out({"ok": True})`, server, [bucket]);
  });
  afterAll(async () => {
    await server?.dispose();
    if (work !== undefined) removeTempDir(work);
  });

  it('put_object of bytes (CRC32 trailer), head_object, get_object with ChecksumMode returns the CRC32', async () => {
    const r = await python3Result<Record<string, unknown>>(
      `${pythonCrcs}
bucket = sys.argv[1]
data = os.urandom(300_000)
put = s3.put_object(Bucket=bucket, Key="bytes.bin", Body=data)
sent = SENT[-1]
head = s3.head_object(Bucket=bucket, Key="bytes.bin")
get = s3.get_object(Bucket=bucket, Key="bytes.bin", ChecksumMode="ENABLED")
body = get["Body"].read()
out({
  "sentTrailer": sent.get("x-amz-trailer"), "sentEncoding": sent.get("content-encoding"),
  "sentSha": sent.get("x-amz-content-sha256"),
  "putEtag": put["ETag"], "putCrc": put.get("ChecksumCRC32"), "localCrc": LOCAL["CRC32"](data),
  "md5": '"' + hashlib.md5(data).hexdigest() + '"',
  "headLen": head["ContentLength"], "headEtag": head["ETag"], "headType": head.get("ContentType"),
  "getCrc": get.get("ChecksumCRC32"), "bodyEqual": body == data,
})`,
      server,
      [bucket],
    );
    // The client really used an aws-chunked body with a CRC32 trailer (else this test proves little).
    expect(r.sentTrailer).toBe('x-amz-checksum-crc32');
    expect(r.sentEncoding).toMatch(/aws-chunked/);
    expect(r.sentSha).toBe('STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    expect(r.putEtag).toBe(r.md5);
    expect(r.putCrc).toBe(r.localCrc);
    expect(r.headLen).toBe(300_000);
    expect(r.headEtag).toBe(r.md5);
    expect(r.headType).toBe('binary/octet-stream');
    expect(r.getCrc).toBe(r.localCrc);
    expect(r.bodyEqual).toBe(true);
  });

  it('upload_file of 20 MiB (multipart through TransferManager) and download_file, sha256 equal', async () => {
    const local = join(work, 'up-20m');
    const down = join(work, 'down-20m');
    const expected = await writeRandomFile(local, 20 * MiB);
    const r = await python3Result<Record<string, unknown>>(
      `
bucket, path, down = sys.argv[1], sys.argv[2], sys.argv[3]
parts = []
s3.meta.events.register("before-send.s3.UploadPart", lambda request, **kw: parts.append(1))
s3.upload_file(path, bucket, "big-20m")
s3.download_file(bucket, "big-20m", down)
head = s3.head_object(Bucket=bucket, Key="big-20m")
out({"parts": len(parts), "etag": head["ETag"], "len": head["ContentLength"]})`,
      server,
      [bucket, local, down],
    );
    expect(r.parts).toBe(3);
    expect(r.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(r.len).toBe(20 * MiB);
    expect(await sha256File(down)).toBe(expected);
  }, 300_000);

  for (const algorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME']) {
    it(`put_object with ChecksumAlgorithm=${algorithm}; get_object/head_object with ChecksumMode return the same checksum`, async (ctx) => {
      const r = await python3Result<Record<string, unknown>>(
        `${pythonCrcs}
bucket, alg = sys.argv[1], sys.argv[2]
data = os.urandom(123_457)
try:
    put = s3.put_object(Bucket=bucket, Key="alg-" + alg, Body=data, ChecksumAlgorithm=alg)
except botocore.exceptions.MissingDependencyException as e:
    out({"skipped": "botocore %s cannot compute %s without awscrt: %s" % (botocore.__version__, alg, e)})
    sys.exit(0)
sent = SENT[-1]
get = s3.get_object(Bucket=bucket, Key="alg-" + alg, ChecksumMode="ENABLED")
body = get["Body"].read()
head = s3.head_object(Bucket=bucket, Key="alg-" + alg, ChecksumMode="ENABLED")
member = "Checksum" + alg
out({"local": LOCAL[alg](data), "put": put.get(member), "get": get.get(member), "head": head.get(member),
     "trailer": sent.get("x-amz-trailer"), "header": sent.get("x-amz-checksum-" + alg.lower()), "bodyEqual": body == data})`,
        server,
        [bucket, algorithm],
      );
      if (typeof r.skipped === 'string') {
        console.log(`skipped: ${r.skipped}`);
        ctx.skip(r.skipped);
      }
      expect(r.trailer ?? r.header, 'client sent no checksum').toBeTruthy();
      expect(r.put).toBe(r.local);
      expect(r.get).toBe(r.local);
      expect(r.head).toBe(r.local);
      expect(r.bodyEqual).toBe(true);
    });
  }

  for (const algorithm of ['CRC32C', 'CRC64NVME']) {
    it(`put_object with a precomputed ${algorithm} header (no awscrt needed) is verified and returned`, async () => {
      const r = await python3Result<Record<string, unknown>>(
        `${pythonCrcs}
bucket, alg = sys.argv[1], sys.argv[2]
data = os.urandom(20_001)
member = "Checksum" + alg
local = LOCAL[alg](data)
put = s3.put_object(Bucket=bucket, Key="pre-" + alg, Body=data, **{member: local})
get = s3.get_object(Bucket=bucket, Key="pre-" + alg, ChecksumMode="ENABLED")
get["Body"].read()
wrong = LOCAL[alg](data + b"x")
try:
    # botocore retries BadDigest by default; one attempt is enough to see the answer.
    once = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    once.put_object(Bucket=bucket, Key="pre-bad-" + alg, Body=data, **{member: wrong})
    bad = "accepted"
except ClientError as e:
    bad = [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]]
try:
    s3.head_object(Bucket=bucket, Key="pre-bad-" + alg)
    bad_head = 200
except ClientError as e:
    bad_head = e.response["ResponseMetadata"]["HTTPStatusCode"]
out({"local": local, "put": put.get(member), "get": get.get(member), "bad": bad, "badHead": bad_head})`,
        server,
        [bucket, algorithm],
      );
      expect(r.put).toBe(r.local);
      expect(r.get).toBe(r.local);
      expect(r.bad).toEqual([400, 'BadDigest']);
      expect(r.badHead).toBe(404);
    });
  }

  it('list_objects_v2 (and v1 list_objects) paginator over 2,500 keys: pages of 1000, every key once, in order', async () => {
    const r = await python3Result<Record<string, unknown>>(
      `
from concurrent.futures import ThreadPoolExecutor
bucket = sys.argv[1]
keys = ["many/%s-%d" % (hashlib.md5(str(i).encode()).hexdigest()[:6], i) for i in range(2500)]
with ThreadPoolExecutor(10) as pool:
    list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/"))
listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
expected = sorted(keys, key=lambda k: k.encode())
first_diff = next((i for i, (a, b) in enumerate(zip(listed, expected)) if a != b), None)
v1_pages = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix="many/"))
v1_listed = [o["Key"] for p in v1_pages for o in p.get("Contents", [])]
out({"pageSizes": [len(p.get("Contents", [])) for p in pages], "keyCounts": [p.get("KeyCount") for p in pages],
     "truncated": [p.get("IsTruncated") for p in pages], "count": len(listed), "unique": len(set(listed)),
     "equal": listed == expected, "firstDiff": first_diff,
     "v1PageSizes": [len(p.get("Contents", [])) for p in v1_pages], "v1Equal": v1_listed == expected})`,
      server,
      [bucket],
    );
    expect(r.pageSizes).toEqual([1000, 1000, 500]);
    expect(r.keyCounts).toEqual([1000, 1000, 500]);
    expect(r.truncated).toEqual([true, true, false]);
    expect(r.count).toBe(2500);
    expect(r.unique).toBe(2500);
    expect(r.firstDiff).toBeNull();
    expect(r.equal).toBe(true);
    // ListObjects (v1) with Marker paging, which older clients still use.
    expect(r.v1PageSizes).toEqual([1000, 1000, 500]);
    expect(r.v1Equal).toBe(true);
  }, 300_000);

  it('delete_objects with Quiet reports nothing; the keys are gone', async () => {
    const r = await python3Result<Record<string, unknown>>(
      `
bucket = sys.argv[1]
keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/") for o in p.get("Contents", [])]
quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[:999]] + [{"Key": "many/never-existed"}], "Quiet": True})
left = sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/"))
loud = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[999:1999]]})
loud2 = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[1999:]]})
final = s3.list_objects_v2(Bucket=bucket, Prefix="many/")
out({"total": len(keys), "quietDeleted": len(quiet.get("Deleted", [])), "quietErrors": len(quiet.get("Errors", [])),
     "leftAfterQuiet": left, "loudDeleted": len(loud.get("Deleted", [])), "loud2Deleted": len(loud2.get("Deleted", [])),
     "loudErrors": len(loud.get("Errors", [])) + len(loud2.get("Errors", [])), "finalCount": final.get("KeyCount")})`,
      server,
      [bucket],
    );
    expect(r.total).toBe(2500);
    expect(r.quietDeleted).toBe(0);
    expect(r.quietErrors).toBe(0);
    expect(r.leftAfterQuiet).toBe(1501);
    expect(r.loudDeleted).toBe(1000);
    expect(r.loud2Deleted).toBe(501);
    expect(r.loudErrors).toBe(0);
    expect(r.finalCount).toBe(0);
  }, 300_000);

  it('conditional get_object: If-None-Match -> 304, wrong If-Match -> 412, matching ones -> 200', async () => {
    const r = await python3Result<Record<string, unknown>>(
      `
import datetime
bucket = sys.argv[1]
etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"conditional body")["ETag"]
def status(**kw):
    try:
        res = s3.get_object(Bucket=bucket, Key="cond", **kw)
        res["Body"].read()
        return res["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]]
past = datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc)
out({"inmMatch": status(IfNoneMatch=etag), "imWrong": status(IfMatch='"00000000000000000000000000000000"'),
     "imRight": status(IfMatch=etag), "inmWrong": status(IfNoneMatch='"00000000000000000000000000000000"'),
     "iusPast": status(IfUnmodifiedSince=past), "imsPast": status(IfModifiedSince=past)})`,
      server,
      [bucket],
    );
    expect(r.inmMatch).toEqual([304, '304']);
    expect(r.imWrong).toEqual([412, 'PreconditionFailed']);
    expect(r.imRight).toBe(200);
    expect(r.inmWrong).toBe(200);
    expect(r.iusPast).toEqual([412, 'PreconditionFailed']);
    expect(r.imsPast).toBe(200);
  });

  for (const variant of ['default', 's3v4']) {
    it(`generate_presigned_url for put and get (${variant === 'default' ? 'default: SigV2 query auth' : 'SigV4'}) used with urllib`, async () => {
      const r = await python3Result<Record<string, unknown>>(
        `
import ssl, urllib.request, urllib.error
bucket, variant = sys.argv[1], sys.argv[2]
client = s3 if variant == "default" else boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1", config=Config(signature_version="s3v4"))
ctx = ssl.create_default_context(cafile=CA)
key = "presigned-" + variant
payload = os.urandom(50_000)
def call(req):
    try:
        with urllib.request.urlopen(req, context=ctx) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "application/octet-stream"}, ExpiresIn=300)
put_status, put_body = call(urllib.request.Request(put_url, data=payload, method="PUT", headers={"Content-Type": "application/octet-stream"}))
get_url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
get_status, got = call(urllib.request.Request(get_url))
stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read() if put_status == 200 else b""
out({"putUrl": put_url, "putStatus": put_status, "putBody": put_body.decode(errors="replace")[:500],
     "getStatus": get_status, "getEqual": got == payload, "storedEqual": stored == payload,
     "getBody": got.decode(errors="replace")[:500] if got != payload else ""})`,
        server,
        [bucket, variant],
      );
      expect(r.putStatus, String(r.putBody)).toBe(200);
      expect(r.storedEqual).toBe(true);
      expect(r.getStatus, String(r.getBody)).toBe(200);
      expect(r.getEqual).toBe(true);
      expect(String(r.putUrl)).toMatch(variant === 'default' ? /[?&]Signature=/ : /[?&]X-Amz-Signature=/);
    });
  }

  it('a boto3 script failure surfaces as a non-zero exit (runner sanity)', async () => {
    const r = await python3(`s3.head_object(Bucket=sys.argv[1], Key="does-not-exist")`, server, [bucket]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/404|Not Found/);
  });
});
