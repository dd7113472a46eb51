// XML request bodies as Go clients, boto3 and the JS SDK write them (character references, keys with
// quotes, markup, CR and edge spaces), listings of keys with control characters read by boto3 and
// the JS SDK, DOCTYPE / entity / deep-nesting bodies refused, and the bucket configuration
// sub-resources answered as AWS answers a bucket without them (with s3cmd info and ws-info).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand,
  ListObjectVersionsCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { python3Result, run, s3Client } from '../helpers/clients.js';
import { md5Base64, MiB, sha256Hex } from '../helpers/files.js';
import { expectS3Error, expectStillServing, objectPath, rawRequest, startServerWithBucket } from '../helpers/raw-request.js';
import { makeTempDir, type S3dServer } from '../helpers/server.js';

const bucket = 'xml-configs';
const healthKey = 'health.txt';
const ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

/** Keys a batch delete must handle: quotes, markup, CR/LF/TAB, edge spaces (AWS "XML related object key constraints"). */
const specialKeys = ['Bob\'s.txt', 'say "hi".txt', 'a&b', '<tag>', 'x > y', ' lead', 'trail ', 'cr\rkey', 'lf\nkey', 'tab\tkey', 'a&amp;b', 'q&#39;'];
/** Every C0 control character (U+0001-U+001F) and DEL inside a key. */
const controlKeys = [...Array.from({ length: 31 }, (_, i) => i + 1), 0x7f].map((c) => `ctl/${c.toString(16)}-a${String.fromCharCode(c)}b`);
/** Keys whose every character XML 1.0 can carry (CR/LF/TAB as character references): any client parses them without encoding-type. */
const xmlSafeKeys = [...controlKeys.filter((k) => /[\t\n\r\x7f]/.test(k)), ...specialKeys].map((k) => `safe/${k.replace(/^ctl\//, '')}`);

/** Escapes text as Go's encoding/xml does (EscapeText): numeric references for quotes and CR/LF/TAB. */
function goEscape(text: string): string {
  const table: Record<string, string> = { '"': '&#34;', '\'': '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };
  return text.replace(/["'&<>\t\n\r]/g, (c) => table[c]!);
}

describe('XML bodies and bucket configurations', () => {
  let server: S3dServer;
  let client: S3Client;

  const headStatus = async (key: string): Promise<number> => (await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) })).status;
  const putKeys = async (keys: string[]): Promise<void> => {
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `body of ${Key}` }));
  };
  const listAll = async (): Promise<string[]> => ((await client.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: 'url' }))).Contents ?? [])
    .map((o) => decodeURIComponent(o.Key!));
  const postDelete = (body: string) => rawRequest(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } });

  beforeAll(async () => {
    server = await startServerWithBucket(bucket);
    client = s3Client(server);
    await putKeys([healthKey]);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });
  afterEach(() => expectStillServing(server, bucket, healthKey));

  describe('request bodies', () => {
    it('CompleteMultipartUpload with ETags quoted as &#34; (Go SDK, rclone) completes the upload', async () => {
      const key = 'go/multipart.bin';
      const parts = [randomBytes(5 * MiB), randomBytes(1000)];
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const etags: string[] = [];
      for (const [i, body] of parts.entries()) {
        etags.push((await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }))).ETag!);
      }
      const xml = `<CompleteMultipartUpload ${ns}>${etags.map((e, i) => `<Part><ETag>${goEscape(e)}</ETag><PartNumber>${i + 1}</PartNumber></Part>`).join('')}</CompleteMultipartUpload>`;
      expect(xml).toContain('<ETag>&#34;');
      const done = await rawRequest(server, { method: 'POST', path: objectPath(bucket, key), query: { uploadId: UploadId! }, body: xml });
      expect(done.status, done.body.toString()).toBe(200);
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
      expect(sha256Hex(got.body)).toBe(sha256Hex(Buffer.concat(parts)));
    });

    it('DeleteObjects written as Go writes it deletes keys with quotes, markup, CR and edge spaces; the reply escapes each once', async () => {
      await putKeys(specialKeys);
      const body = `<Delete ${ns}>${specialKeys.map((k) => `<Object><Key>${goEscape(k)}</Key></Object>`).join('')}<Quiet>false</Quiet></Delete>`;
      const res = await postDelete(body);
      expect(res.status, res.body.toString()).toBe(200);
      const text = res.body.toString();
      expect(text).toContain('<Key>Bob&apos;s.txt</Key>');
      expect(text).toContain('<Key>a&amp;amp;b</Key>');
      expect(text).toContain('<Key>cr&#13;key</Key>');
      expect(text).toContain('<Key>q&amp;#39;</Key>');
      expect(text).not.toContain('Bob&amp;#39;s');
      expect(text.match(/<Deleted>/g)).toHaveLength(specialKeys.length);
      for (const key of specialKeys) expect(await headStatus(key), JSON.stringify(key)).toBe(404);
      expect(await listAll()).toEqual(expect.not.arrayContaining(specialKeys));
    });

    it('DeleteObjects entries with a version id or a condition fail alone and delete nothing; the rest are deleted', async () => {
      await putKeys(['entry/versioned', 'entry/conditional', 'entry/plain', 'entry/null-version']);
      const body = `<Delete ${ns}>`
        + '<Object><Key>entry/versioned</Key><VersionId>3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY</VersionId></Object>'
        + '<Object><Key>entry/conditional</Key><ETag>"0123456789abcdef0123456789abcdef"</ETag></Object>'
        + '<Object><Key>entry/null-version</Key><VersionId>null</VersionId></Object>'
        + '<Object><Key>entry/plain</Key></Object></Delete>';
      const res = await postDelete(body);
      expect(res.status, res.body.toString()).toBe(200);
      const text = res.body.toString();
      expect(text).toMatch(/<Error><Key>entry\/versioned<\/Key><Code>InvalidArgument<\/Code>/);
      expect(text).toMatch(/<Error><Key>entry\/conditional<\/Key><Code>NotImplemented<\/Code>/);
      expect(await headStatus('entry/versioned')).toBe(200);
      expect(await headStatus('entry/conditional')).toBe(200);
      expect(await headStatus('entry/plain')).toBe(404);
      expect(await headStatus('entry/null-version')).toBe(404);
    });

    it('DeleteObjects through boto3 and the JS SDK deletes the same keys; the listing shows them gone', async () => {
      await putKeys(specialKeys);
      const boto = await python3Result<{ deleted: string[]; errors: unknown[] }>(
        `keys = json.loads(sys.argv[2])
r = s3.delete_objects(Bucket=sys.argv[1], Delete={"Objects": [{"Key": k} for k in keys]})
out({"deleted": [d["Key"] for d in r.get("Deleted", [])], "errors": r.get("Errors", [])})`,
        server, [bucket, JSON.stringify(specialKeys)],
      );
      expect(boto.errors).toEqual([]);
      expect([...boto.deleted].sort()).toEqual([...specialKeys].sort());
      expect(await listAll()).toEqual(expect.not.arrayContaining(specialKeys));

      await putKeys(specialKeys);
      const sdk = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: specialKeys.map((Key) => ({ Key })) } }));
      expect(sdk.Errors ?? []).toEqual([]);
      expect((sdk.Deleted ?? []).map((d) => d.Key).sort()).toEqual([...specialKeys].sort());
      for (const key of specialKeys) expect(await headStatus(key), JSON.stringify(key)).toBe(404);
    });

    it('DOCTYPE bodies (internal, external and parameter entities) -> 400 MalformedXML, nothing expanded or deleted', async () => {
      const bodies = [
        `<!DOCTYPE Delete [<!ENTITY k "${healthKey}">]><Delete><Object><Key>&k;</Key></Object></Delete>`,
        `<!DOCTYPE Delete [<!ENTITY k SYSTEM "file:///etc/hostname">]><Delete><Object><Key>&k;</Key></Object></Delete>`,
        '<!DOCTYPE Delete [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><Delete><Object><Key>x</Key></Object></Delete>',
        `<!DOCTYPE Delete><Delete><Object><Key>${healthKey}</Key></Object></Delete>`,
      ];
      for (const body of bodies) expectS3Error(await postDelete(body), 400, 'MalformedXML');
      expect(await headStatus(healthKey)).toBe(200);
      const create = await rawRequest(server, {
        method: 'PUT', path: '/xml-doctype-bucket',
        body: '<!DOCTYPE c [<!ENTITY r "us-east-1">]><CreateBucketConfiguration><LocationConstraint>&r;</LocationConstraint></CreateBucketConfiguration>',
      });
      expectS3Error(create, 400, 'MalformedXML');
      expect((await rawRequest(server, { method: 'HEAD', path: '/xml-doctype-bucket' })).status).toBe(404);
    });

    it('a billion-laughs document, an oversized entity and 290,000-deep nesting -> 400 MalformedXML', async () => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'laughs' }));
      const levels = ['<!ENTITY l0 "lol">', ...Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`)];
      const laughs = `<?xml version="1.0"?><!DOCTYPE CompleteMultipartUpload [${levels.join('')}]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&l9;</ETag></Part></CompleteMultipartUpload>`;
      const big = `<!DOCTYPE Delete [<!ENTITY b "${'x'.repeat(1024 * 1024)}">]><Delete><Object><Key>&b;&b;</Key></Object></Delete>`;
      const deep = `<Delete>${'<a>'.repeat(290_000)}${'</a>'.repeat(290_000)}</Delete>`;
      expectS3Error(await rawRequest(server, { method: 'POST', path: objectPath(bucket, 'laughs'), query: { uploadId: UploadId! }, body: laughs }), 400, 'MalformedXML');
      expectS3Error(await postDelete(big), 400, 'MalformedXML');
      expectS3Error(await postDelete(deep), 400, 'MalformedXML');
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'laughs', UploadId }));
    });
  });

  describe('listings of keys with control characters', () => {
    beforeAll(async () => {
      await putKeys([...controlKeys, ...xmlSafeKeys]);
    });

    it('without encoding-type, every control character and CR/LF/TAB is a character reference, never a raw byte', async () => {
      const res = await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2', prefix: 'ctl/' } });
      expect(res.status).toBe(200);
      const body = res.body.toString().replace(/^<\?xml[^>]*\?>\n/, '');
      expect(body).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(body).toContain('<Key>ctl/d-a&#13;b</Key>');
      expect(body).toContain('<Key>ctl/1-a&#x1;b</Key>');
    });

    it('the JS SDK reads every key back exactly (ListObjects, ListObjectsV2, ListObjectVersions, ListMultipartUploads)', async () => {
      const expected = [...controlKeys].sort();
      const v2 = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ctl/' }));
      expect((v2.Contents ?? []).map((o) => o.Key).sort()).toEqual(expected);
      const safe = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'safe/' }));
      expect((safe.Contents ?? []).map((o) => o.Key).sort()).toEqual([...xmlSafeKeys].sort());
      const v1 = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: 'ctl/' }));
      expect((v1.Contents ?? []).map((o) => o.Key).sort()).toEqual(expected);
      const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'ctl/' }));
      expect((versions.Versions ?? []).map((o) => o.Key).sort()).toEqual(expected);
      const key = 'upload\r\n\t\u0001"\'&<>';
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      expect((uploads.Uploads ?? []).map((u) => u.Key)).toEqual([key]);
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
    });

    it('boto3 reads every key back exactly, with its default encoding-type=url and with none', async () => {
      const r = await python3Result<Record<string, string[]>>(
        `import botocore.handlers as handlers
b = sys.argv[1]
keys = lambda page, field="Contents": sorted(o["Key"] for o in page.get(field, []))
res = {"url_v2": keys(s3.list_objects_v2(Bucket=b, Prefix="ctl/"))}
for op in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
    s3.meta.events.unregister("before-parameter-build.s3." + op, handlers.set_list_objects_encoding_type_url)
res["raw_v1"] = keys(s3.list_objects(Bucket=b, Prefix="safe/"))
res["raw_v2"] = keys(s3.list_objects_v2(Bucket=b, Prefix="safe/"))
res["raw_versions"] = keys(s3.list_object_versions(Bucket=b, Prefix="safe/"), "Versions")
up = s3.create_multipart_upload(Bucket=b, Key="up\\r\\n\\t'\\"&<>")
res["uploads"] = keys(s3.list_multipart_uploads(Bucket=b), "Uploads")
s3.abort_multipart_upload(Bucket=b, Key=up["Key"], UploadId=up["UploadId"])
res["upload_key"] = [up["Key"]]
out(res)`,
        server, [bucket],
      );
      const safe = [...xmlSafeKeys].sort();
      expect(r.url_v2).toEqual([...controlKeys].sort());
      // Without encoding-type, botocore's expat parser needs well-formed XML 1.0 and reads CR as &#13;.
      expect(r.raw_v1).toEqual(safe);
      expect(r.raw_v2).toEqual(safe);
      expect(r.raw_versions).toEqual(safe);
      expect(r.upload_key).toEqual(['up\r\n\t\'"&<>']);
      expect(r.uploads).toEqual(r.upload_key);
    });
  });

  describe('bucket configurations that are not set', () => {
    const errors: Array<[string, string]> = [
      ['website', 'NoSuchWebsiteConfiguration'], ['object-lock', 'ObjectLockConfigurationNotFoundError'],
      ['encryption', 'ServerSideEncryptionConfigurationNotFoundError'], ['publicAccessBlock', 'NoSuchPublicAccessBlockConfiguration'],
      ['ownershipControls', 'OwnershipControlsNotFoundError'], ['replication', 'ReplicationConfigurationNotFoundError'],
      ['policy', 'NoSuchBucketPolicy'], ['cors', 'NoSuchCORSConfiguration'], ['lifecycle', 'NoSuchLifecycleConfiguration'], ['tagging', 'NoSuchTagSet'],
    ];
    const documents: Array<[string, string]> = [
      ['logging', `<BucketLoggingStatus ${ns}></BucketLoggingStatus>`],
      ['notification', `<NotificationConfiguration ${ns}></NotificationConfiguration>`],
      ['accelerate', `<AccelerateConfiguration ${ns}></AccelerateConfiguration>`],
      ['requestPayment', `<RequestPaymentConfiguration ${ns}><Payer>BucketOwner</Payer></RequestPaymentConfiguration>`],
    ];

    it('each read answers the AWS "not configured" error (404, naming the bucket)', async () => {
      for (const [subresource, code] of errors) {
        const err = expectS3Error(await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { [subresource]: '' } }), 404, code);
        expect(err.code, subresource).toBe(code);
      }
      expectS3Error(await rawRequest(server, { method: 'GET', path: '/no-such-bucket-here', query: { website: '' } }), 404, 'NoSuchBucket');
    });

    it('logging, notification, accelerate and request payment answer their empty documents', async () => {
      for (const [subresource, document] of documents) {
        const res = await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { [subresource]: '' } });
        expect(res.status, `${subresource}: ${res.body.toString()}`).toBe(200);
        expect(res.body.toString()).toBe(`<?xml version="1.0" encoding="UTF-8"?>\n${document}`);
      }
    });

    it('the DELETEs answer 204 on a bucket without the configuration; the bucket stays', async () => {
      for (const subresource of ['policy', 'cors', 'website', 'lifecycle', 'tagging', 'encryption', 'publicAccessBlock', 'ownershipControls', 'replication']) {
        const res = await rawRequest(server, { method: 'DELETE', path: `/${bucket}`, query: { [subresource]: '' } });
        expect(res.status, `${subresource}: ${res.body.toString()}`).toBe(204);
      }
      expectS3Error(await rawRequest(server, { method: 'DELETE', path: `/${bucket}`, query: { metrics: '', id: 'm1' } }), 404, 'NoSuchConfiguration');
      expect((await rawRequest(server, { method: 'HEAD', path: `/${bucket}` })).status).toBe(200);
    });

    it('PUTs of configurations stay NotImplemented', async () => {
      const body = `<WebsiteConfiguration ${ns}><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>`;
      expectS3Error(await rawRequest(server, { method: 'PUT', path: `/${bucket}`, query: { website: '' }, body }), 501, 'NotImplemented');
      expectS3Error(await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { website: '' } }), 404, 'NoSuchWebsiteConfiguration');
    });

    it('boto3 reads the same answers', async () => {
      const r = await python3Result<Record<string, unknown>>(
        `b = sys.argv[1]
def code(call):
    try:
        call(Bucket=b)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]
out({
  "website": code(s3.get_bucket_website), "lock": code(s3.get_object_lock_configuration),
  "encryption": code(s3.get_bucket_encryption), "pab": code(s3.get_public_access_block),
  "ownership": code(s3.get_bucket_ownership_controls),
  "logging": "LoggingEnabled" in s3.get_bucket_logging(Bucket=b),
  "payer": s3.get_bucket_request_payment(Bucket=b)["Payer"],
  "accelerate": s3.get_bucket_accelerate_configuration(Bucket=b).get("Status"),
  "notification": sorted(k for k in s3.get_bucket_notification_configuration(Bucket=b) if k != "ResponseMetadata"),
})`,
        server, [bucket],
      );
      expect(r).toEqual({
        website: 'NoSuchWebsiteConfiguration', lock: 'ObjectLockConfigurationNotFoundError', encryption: 'ServerSideEncryptionConfigurationNotFoundError',
        pab: 'NoSuchPublicAccessBlockConfiguration', ownership: 'OwnershipControlsNotFoundError', logging: false, payer: 'BucketOwner', accelerate: null, notification: [],
      });
    });

    it('s3cmd info and ws-info work', async () => {
      const dir = makeTempDir('s3cmd');
      const config = join(dir, 's3cfg');
      writeFileSync(config, [
        '[default]', `access_key = ${server.accessKey}`, `secret_key = ${server.secretKey}`, `host_base = 127.0.0.1:${server.port}`,
        `host_bucket = 127.0.0.1:${server.port}`, 'use_https = True', `ca_certs_file = ${server.caFile}`, 'check_ssl_certificate = True',
        'check_ssl_hostname = False', 'signature_v2 = False', 'bucket_location = us-east-1', '',
      ].join('\n'));
      const info = await run('s3cmd', ['-c', config, 'info', `s3://${bucket}`], server.env);
      expect(info.code, info.stdout + info.stderr).toBe(0);
      expect(info.stdout).toMatch(/Location:\s+us-east-1/);
      expect(info.stdout).toMatch(/Payer:\s+BucketOwner/);
      expect(info.stderr).not.toMatch(/ERROR|WARNING/);
      const ws = await run('s3cmd', ['-c', config, 'ws-info', `s3://${bucket}`], server.env);
      expect(ws.code, ws.stdout + ws.stderr).toBe(0);
      expect(ws.stdout).toContain(`Bucket s3://${bucket}/: Unable to receive website configuration.`);
      expect(ws.stderr).not.toMatch(/ERROR/);
    });
  });
});
