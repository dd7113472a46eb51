// boto3 and @aws-sdk/client-s3 against a real s3d over HTTPS, for requests that used to be accepted
// and not honoured: batch deletes of keys that need XML escaping, headers asking for features Tessera
// does not have (each refused with the error AWS or an S3 store without the feature gives, and nothing
// stored), a CompleteMultipartUpload retried after it succeeded, and botocore's SigV2 bucket requests.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { python3Result, s3Client, serverLogTail } from '../helpers/clients.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'refusals-e2e';
const scriptTimeoutMs = 120_000;

/** Keys whose XML form needs escaping: ' " & < > and a line break (which both SDKs write as &#xA;). */
const awkwardKeys = ["Bob's.txt", 'say "hi".txt', 'salt & pepper.txt', 'a<b.txt', 'b>a.txt', 'line\nbreak.txt'];

/** Shared by the boto3 scripts: a client that tries once, and a status helper. */
const pythonHelpers = `
once = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
def answer(call):
    try:
        res = call()
        return res["ResponseMetadata"]["HTTPStatusCode"]
    except ClientError as e:
        return [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")]
def listed(bucket, prefix):
    return sorted(o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix) for o in p.get("Contents", []))
`;

describe('refusals, batch deletes, Complete retries and SigV2 (boto3, JS SDK)', () => {
  let server: S3dServer;
  let client: S3Client;

  /** Runs a boto3 script (after the shared helpers) that prints one RESULT line (python3Result). */
  async function boto3Json<T = Record<string, unknown>>(script: string, args: string[] = []): Promise<T> {
    return await python3Result<T>(`${pythonHelpers}\n${script}`, server, args, scriptTimeoutMs);
  }

  beforeAll(async () => {
    server = await startServer();
    client = s3Client(server);
    await boto3Json(`s3.create_bucket(Bucket=sys.argv[1]); out({"ok": True})`, [bucket]);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });

  const deleteScript = `
bucket, prefix, style = sys.argv[1], sys.argv[2], sys.argv[3]
keys = [prefix + k for k in json.loads(sys.argv[4])]
for k in keys:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
stored = listed(bucket, prefix)
def go_escape(text):
    # Go's encoding/xml EscapeText, as rclone and the AWS SDK for Go write element text.
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\\t": "&#x9;", "\\n": "&#xA;", "\\r": "&#xD;"}
    return "".join(table.get(c, c) for c in text)
sent = []
def as_go_writes_it(params, **kwargs):
    body = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    body += "".join("<Object><Key>%s</Key></Object>" % go_escape(k) for k in keys) + "</Delete>"
    params["body"] = body.encode()
def record(request, **kwargs):
    sent.append(request.body.decode() if isinstance(request.body, bytes) else str(request.body))
if style == "go":
    s3.meta.events.register("before-call.s3.DeleteObjects", as_go_writes_it)
s3.meta.events.register("before-send.s3.DeleteObjects", record)
res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
out({"keys": sorted(keys), "stored": stored, "body": sent[-1],
     "deleted": sorted(d["Key"] for d in res.get("Deleted", [])), "errors": res.get("Errors", []),
     "left": listed(bucket, prefix)})`;

  for (const [style, prefix, marker] of [
    ['boto3', 'del-boto3/', '&#xA;'],
    ['go', 'del-go/', '&#39;'],
  ] as const) {
    const label = style === 'go' ? "with the body Go clients write (&#39; &#34;)" : "as boto3 writes it (&amp; &lt; &gt; &#xA;)";
    it(`boto3 delete_objects of keys with ' " & < > and a line break, ${label}: all gone`, async () => {
      const r = await boto3Json<{ keys: string[]; stored: string[]; body: string; deleted: string[]; errors: unknown[]; left: string[] }>(deleteScript, [
        bucket,
        prefix,
        style,
        JSON.stringify(awkwardKeys),
      ]);
      const why = `${JSON.stringify(r, null, 1)}\n${serverLogTail(server)}`;
      expect(r.stored, why).toEqual(r.keys);
      expect(r.body, 'the request did not use character references').toContain(marker);
      expect(r.errors, why).toEqual([]);
      expect(r.deleted, why).toEqual(r.keys);
      expect(r.left, why).toEqual([]);
    });
  }

  it(`JS SDK DeleteObjects of keys with ' " & < > and a line break (&apos; &quot; &#x0A;): all gone`, async () => {
    const prefix = 'del-js/';
    const keys = awkwardKeys.map((k) => prefix + k).sort();
    for (const key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const listKeys = async (): Promise<string[]> =>
      ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, EncodingType: 'url' }))).Contents ?? [])
        .map((o) => decodeURIComponent(o.Key ?? ''))
        .sort();
    expect(await listKeys()).toEqual(keys);

    const bodies: string[] = [];
    const recorder = s3Client(server);
    recorder.middlewareStack.add(
      (next) => async (args) => {
        const body = (args.request as { body?: unknown }).body;
        if (typeof body === 'string') bodies.push(body);
        return await next(args);
      },
      { step: 'finalizeRequest', name: 'e2eRecordDeleteBody' },
    );
    const output = await recorder.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } })).finally(() => recorder.destroy());
    const why = `${JSON.stringify({ body: bodies[0], deleted: output.Deleted, errors: output.Errors })}\n${serverLogTail(server)}`;
    expect(bodies[0], 'the request did not use character references').toContain('&#x0A;');
    expect(output.Errors ?? [], why).toEqual([]);
    expect((output.Deleted ?? []).map((d) => d.Key).sort(), why).toEqual(keys);
    expect(await listKeys(), why).toEqual([]);
  });

  /** put_object arguments (python source) and the refusal expected: [status, code]. */
  const refusals: Array<[string, string, [number, string]]> = [
    ['SSE-C (SSECustomerAlgorithm/SSECustomerKey)', 'SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32)', [501, 'NotImplemented']],
    ["ServerSideEncryption='AES256'", 'ServerSideEncryption="AES256"', [501, 'NotImplemented']],
    ["ServerSideEncryption='aws:kms'", 'ServerSideEncryption="aws:kms"', [501, 'NotImplemented']],
    [
      'ObjectLockMode/ObjectLockRetainUntilDate',
      'ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)',
      [400, 'InvalidRequest'],
    ],
    ["ACL='public-read'", 'ACL="public-read"', [400, 'AccessControlListNotSupported']],
    ["Tagging='a=b'", 'Tagging="a=b"', [501, 'NotImplemented']],
    ["StorageClass='GLACIER'", 'StorageClass="GLACIER"', [400, 'InvalidStorageClass']],
  ];

  refusals.forEach(([label, kwargs, expected], index) => {
    it(`put_object with ${label} is refused with ${expected.join(' ')}; nothing is stored`, async () => {
      const r = await boto3Json<{ put: unknown; head: unknown; listed: string[] }>(
        `
import datetime
bucket, key = sys.argv[1], sys.argv[2]
put = answer(lambda: once.put_object(Bucket=bucket, Key=key, Body=b"must not be stored", ${kwargs}))
out({"put": put, "head": answer(lambda: s3.head_object(Bucket=bucket, Key=key)), "listed": listed(bucket, key)})`,
        [bucket, `refused/${index}`],
      );
      const why = `${JSON.stringify(r)}\n${serverLogTail(server)}`;
      expect(r.put, why).toEqual(expected);
      expect(r.head, why).toEqual([404, '404']);
      expect(r.listed, why).toEqual([]);
    });
  });

  it('create_bucket(ObjectLockEnabledForBucket=True) is refused with 501 NotImplemented; no bucket is made', async () => {
    const r = await boto3Json(
      `
name = sys.argv[1]
made = answer(lambda: once.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True))
out({"create": made, "head": answer(lambda: s3.head_bucket(Bucket=name)),
     "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]]})`,
      ['refusals-lock-bucket'],
    );
    const why = `${JSON.stringify(r)}\n${serverLogTail(server)}`;
    expect(r.create, why).toEqual([501, 'NotImplemented']);
    expect(r.head, why).toEqual([404, '404']);
    expect(r.buckets, why).not.toContain('refusals-lock-bucket');
  });

  for (const [label, kwargs] of [
    ["ACL='private'", 'ACL="private"'],
    ["ACL='bucket-owner-full-control'", 'ACL="bucket-owner-full-control"'],
    ["StorageClass='STANDARD'", 'StorageClass="STANDARD"'],
  ] as const) {
    it(`put_object with ${label} (today's behaviour) still succeeds and reads back`, async () => {
      const r = await boto3Json(
        `
bucket, key = sys.argv[1], sys.argv[2]
data = os.urandom(4096)
put = answer(lambda: once.put_object(Bucket=bucket, Key=key, Body=data, ${kwargs}))
body = s3.get_object(Bucket=bucket, Key=key)["Body"].read() if put == 200 else b""
out({"put": put, "equal": body == data})`,
        [bucket, `accepted/${label.replace(/\W+/g, '-')}`],
      );
      expect(r.put, `${JSON.stringify(r)}\n${serverLogTail(server)}`).toBe(200);
      expect(r.equal).toBe(true);
    });
  }

  it('CompleteMultipartUpload sent twice answers 200 both times with the same ETag', async () => {
    const r = await boto3Json(
      `
bucket, key = sys.argv[1], sys.argv[2]
part1, part2 = os.urandom(5 * 1024 * 1024), os.urandom(1000)
upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"]}
         for n, body in ((1, part1), (2, part2))]
results = []
for attempt in range(2):
    try:
        res = once.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        results.append([res["ResponseMetadata"]["HTTPStatusCode"], res.get("ETag")])
    except ClientError as e:
        results.append([e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")])
body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
out({"results": results, "equal": body == part1 + part2})`,
      [bucket, 'complete-twice.bin'],
    );
    const why = `${JSON.stringify(r)}\n${serverLogTail(server)}`;
    const [first, second] = r.results as Array<[number, string]>;
    expect(first?.[0], why).toBe(200);
    expect(first?.[1], why).toMatch(/^"[0-9a-f]{32}-2"$/);
    expect(second, why).toEqual(first);
    expect(r.equal).toBe(true);
  });

  it("botocore SigV2 (signature_version='s3'): list_objects, list_objects_v2, delete_objects, get_bucket_acl, list_multipart_uploads succeed", async () => {
    const r = await boto3Json(
      `
bucket = sys.argv[1]
v2 = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1",
                  config=Config(signature_version="s3", retries={"total_max_attempts": 1}))
auth = []
v2.meta.events.register("before-send.s3", lambda request, **kw: auth.append(request.headers.get("Authorization", b"")))
for k in ("sigv2/a", "sigv2/b"):
    s3.put_object(Bucket=bucket, Key=k, Body=b"x")
statuses = {
    "list_objects": answer(lambda: v2.list_objects(Bucket=bucket, Prefix="sigv2/")),
    "list_objects_v2": answer(lambda: v2.list_objects_v2(Bucket=bucket, Prefix="sigv2/")),
    "get_bucket_acl": answer(lambda: v2.get_bucket_acl(Bucket=bucket)),
    "list_multipart_uploads": answer(lambda: v2.list_multipart_uploads(Bucket=bucket)),
    "delete_objects": answer(lambda: v2.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "sigv2/a"}, {"Key": "sigv2/b"}]})),
}
first = auth[0].decode() if isinstance(auth[0], bytes) else str(auth[0])
out({"statuses": statuses, "authScheme": first.split(" ")[0], "left": listed(bucket, "sigv2/")})`,
      [bucket],
    );
    const why = `${JSON.stringify(r)}\n${serverLogTail(server)}`;
    expect(r.authScheme, 'botocore did not sign with SigV2').toBe('AWS');
    expect(r.statuses, why).toEqual({ list_objects: 200, list_objects_v2: 200, get_bucket_acl: 200, list_multipart_uploads: 200, delete_objects: 200 });
    expect(r.left, why).toEqual([]);
  });
});
