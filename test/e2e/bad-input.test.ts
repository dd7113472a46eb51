// Hostile and broken requests against a real s3d, sent raw: bad credentials and signatures, clock
// skew, malformed XML and aws-chunked framing, path-traversal keys, oversized headers, truncated
// bodies. Every error must be S3 error XML with a request id, and the server must keep serving.
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { once } from 'node:events';
import { crc32 } from 'node:zlib';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/clients.js';
import { md5Base64, MiB, sha256Hex } from '../helpers/files.js';
import {
  awsChunkedSigned,
  awsChunkedSignedLength,
  awsChunkedUnsigned,
  expectS3Error,
  expectStillServing,
  objectPath,
  rawRequest,
  sendRequest,
  signRequest,
  startServerWithBucket,
  tlsSocket,
} from '../helpers/raw-request.js';
import { repoRoot, type S3dServer } from '../helpers/server.js';

const bucket = 'bad-input';
const healthKey = 'health.txt';
const healthBody = 'still serving\n';

function crc32Base64(data: Buffer): string {
  const raw = Buffer.alloc(4);
  raw.writeUInt32BE(crc32(data) >>> 0);
  return raw.toString('base64');
}

describe('bad input', () => {
  let server: S3dServer;
  let client: S3Client;

  const headStatus = async (key: string): Promise<number> =>
    (await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, key) })).status;

  beforeAll(async () => {
    server = await startServerWithBucket(bucket, { [healthKey]: healthBody });
    client = s3Client(server);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.dispose();
  });
  // After every case a normal request still succeeds.
  afterEach(() => expectStillServing(server, bucket, healthKey, healthBody));

  describe('authentication', () => {
    it('a wrong signature (wrong secret) -> 403 SignatureDoesNotMatch, nothing stored', async () => {
      const credentials = { accessKeyId: server.accessKey, secretAccessKey: 'not-the-secret' };
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, healthKey), credentials }), 403, 'SignatureDoesNotMatch');
      expectS3Error(await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'wrong-sig'), body: 'x', credentials }), 403, 'SignatureDoesNotMatch');
      expect(await headStatus('wrong-sig')).toBe(404);
    });

    it('a signed header changed after signing -> 403 SignatureDoesNotMatch', async () => {
      const signed = await signRequest(server, { method: 'PUT', path: objectPath(bucket, 'tampered'), body: 'abc', headers: { 'content-length': '3', 'x-amz-meta-a': '1' } });
      signed.headers['x-amz-meta-a'] = '2';
      expectS3Error(await sendRequest(server, 'PUT', signed, Buffer.from('abc')), 403, 'SignatureDoesNotMatch');
      expect(await headStatus('tampered')).toBe(404);
    });

    it('anonymous requests -> 403 AccessDenied (GET object, PUT object, ListBuckets)', async () => {
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, healthKey), auth: 'none' }), 403, 'AccessDenied');
      expectS3Error(await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'anon'), body: 'x', auth: 'none' }), 403, 'AccessDenied');
      expectS3Error(await rawRequest(server, { method: 'GET', path: '/', auth: 'none' }), 403, 'AccessDenied');
      expect(await headStatus('anon')).toBe(404);
    });

    it('an unknown access key -> 403 InvalidAccessKeyId', async () => {
      const credentials = { accessKeyId: 'AKIDUNKNOWNUNKNOWN', secretAccessKey: server.secretKey };
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, healthKey), credentials }), 403, 'InvalidAccessKeyId');
    });

    it('a clock skew of 20 minutes (either way) -> 403 RequestTimeTooSkewed', async () => {
      for (const skewMs of [-20 * 60_000, 20 * 60_000]) {
        const signingDate = new Date(Date.now() + skewMs);
        expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, healthKey), signingDate }), 403, 'RequestTimeTooSkewed');
      }
    });

    it('a payload that does not match x-amz-content-sha256 -> 400 XAmzContentSHA256Mismatch, nothing stored', async () => {
      const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'sha-mismatch'), body: 'actual body', payloadHash: sha256Hex('another body') });
      expectS3Error(res, 400, 'XAmzContentSHA256Mismatch');
      expect(await headStatus('sha-mismatch')).toBe(404);
    });
  });

  describe('malformed XML', () => {
    it('CompleteMultipartUpload with malformed XML -> 400 MalformedXML', async () => {
      const key = 'mpu-malformed';
      const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploadId = create.UploadId as string;
      await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: Buffer.from('part') }));
      for (const body of ['<CompleteMultipartUpload><Part><PartNumber>1</Part>', 'this is not xml at all', '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>']) {
        const res = await rawRequest(server, { method: 'POST', path: objectPath(bucket, key), query: { uploadId }, body, headers: { 'content-type': 'application/xml' } });
        expectS3Error(res, 400, 'MalformedXML');
      }
      expect(await headStatus(key)).toBe(404);
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    });

    it('DeleteObjects with malformed XML -> 400 MalformedXML, nothing deleted', async () => {
      for (const body of ['<Delete><Object><Key>health.txt</Key></Object', 'garbage', '<Delete><Object><Key>health.txt</Key></Object><Object><Key>']) {
        const res = await rawRequest(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body), 'content-type': 'application/xml' } });
        expectS3Error(res, 400, 'MalformedXML');
      }
    });

    it('DeleteObjects with more than 1000 keys -> 400 MalformedXML', async () => {
      const objects = Array.from({ length: 1001 }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('');
      const body = `<Delete>${objects}</Delete>`;
      const res = await rawRequest(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body, headers: { 'content-md5': md5Base64(body) } });
      expectS3Error(res, 400, 'MalformedXML');
    });
  });

  describe('well-formed XML variants are accepted', () => {
    it('indented CompleteMultipartUpload and DeleteObjects XML (whitespace between elements)', async () => {
      const key = 'mpu-indented';
      const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploadId = create.UploadId as string;
      const part = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: Buffer.from('only part') }));
      const completeXml = `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">\n  <Part>\n    <PartNumber>1</PartNumber>\n    <ETag>${part.ETag}</ETag>\n  </Part>\n</CompleteMultipartUpload>\n`;
      const done = await rawRequest(server, { method: 'POST', path: objectPath(bucket, key), query: { uploadId }, body: completeXml });
      expect(done.status, done.body.toString()).toBe(200);
      expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) })).body.toString()).toBe('only part');
      const deleteXml = `<?xml version="1.0" encoding="UTF-8"?>\n<Delete>\n  <Quiet>false</Quiet>\n  <Object>\n    <Key>${key}</Key>\n  </Object>\n</Delete>\n`;
      const del = await rawRequest(server, { method: 'POST', path: `/${bucket}`, query: { delete: '' }, body: deleteXml, headers: { 'content-md5': md5Base64(deleteXml) } });
      expect(del.status, del.body.toString()).toBe(200);
      expect(del.body.toString()).toContain(`<Key>${key}</Key>`);
      expect(await headStatus(key)).toBe(404);
    });
  });

  describe('aws-chunked bodies', () => {
    const chunkedHeaders = (decodedLength: number, encodedLength: number): Record<string, string> => ({
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(decodedLength),
      'x-amz-trailer': 'x-amz-checksum-crc32',
      'content-length': String(encodedLength),
    });
    const putChunked = async (key: string, body: Buffer, decodedLength: number) =>
      await rawRequest(server, {
        method: 'PUT',
        path: objectPath(bucket, key),
        body,
        headers: chunkedHeaders(decodedLength, body.length),
        payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      });

    it('a well-formed unsigned-trailer body is stored (control)', async () => {
      const data = randomBytes(100_000);
      const body = awsChunkedUnsigned([data.subarray(0, 65_536), data.subarray(65_536)], { name: 'x-amz-checksum-crc32', value: crc32Base64(data) });
      const res = await putChunked('chunked-ok', body, data.length);
      expect(res.status, res.body.toString()).toBe(200);
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'chunked-ok') });
      expect(got.body.equals(data)).toBe(true);
    });

    const bad: Array<{ name: string; body: () => Buffer; decoded: number }> = [
      { name: 'a non-hex chunk size', body: () => Buffer.from('zz\r\nhello\r\n0\r\nx-amz-checksum-crc32:' + crc32Base64(Buffer.from('hello')) + '\r\n\r\n'), decoded: 5 },
      { name: 'a chunk size larger than the data', body: () => Buffer.from('10\r\nhello\r\n0\r\nx-amz-checksum-crc32:' + crc32Base64(Buffer.from('hello')) + '\r\n\r\n'), decoded: 5 },
      { name: 'a missing CRLF after chunk data', body: () => Buffer.from('5\r\nhelloXX0\r\nx-amz-checksum-crc32:' + crc32Base64(Buffer.from('hello')) + '\r\n\r\n'), decoded: 5 },
      { name: 'no final zero-length chunk', body: () => Buffer.from('5\r\nhello\r\n'), decoded: 5 },
      { name: 'x-amz-decoded-content-length larger than the data', body: () => awsChunkedUnsigned([Buffer.from('hello')], { name: 'x-amz-checksum-crc32', value: crc32Base64(Buffer.from('hello')) }), decoded: 100 },
    ];
    for (const c of bad) {
      it(`${c.name} -> 400, nothing stored`, async () => {
        const key = `chunked-bad-${c.name.replace(/\W+/g, '-')}`;
        const res = await putChunked(key, c.body(), c.decoded);
        expectS3Error(res, 400);
        expect(await headStatus(key)).toBe(404);
      });
    }

    it('a wrong CRC32 trailer -> 400 BadDigest, nothing stored', async () => {
      const data = Buffer.from('hello world');
      const body = awsChunkedUnsigned([data], { name: 'x-amz-checksum-crc32', value: crc32Base64(Buffer.from('other')) });
      expectS3Error(await putChunked('chunked-bad-crc', body, data.length), 400, 'BadDigest');
      expect(await headStatus('chunked-bad-crc')).toBe(404);
    });

    const signedChunked = async (key: string, chunks: Buffer[], tamper: boolean) => {
      const signed = await signRequest(server, {
        method: 'PUT',
        path: objectPath(bucket, key),
        payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': String(chunks.reduce((n, c) => n + c.length, 0)),
          'content-length': String(awsChunkedSignedLength(chunks.map((c) => c.length))),
        },
      });
      const body = awsChunkedSigned(server, signed, chunks);
      if (tamper) body[body.length - 200] = body[body.length - 200]! ^ 0xff;
      return await sendRequest(server, 'PUT', signed, body);
    };

    it('a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body with valid chunk signatures is stored (control)', async () => {
      const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)];
      const res = await signedChunked('chunked-signed-ok', chunks, false);
      expect(res.status, res.body.toString()).toBe(200);
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'chunked-signed-ok') });
      expect(got.body.equals(Buffer.concat(chunks))).toBe(true);
    });

    it('a signed chunk whose data was altered -> 403 SignatureDoesNotMatch, nothing stored', async () => {
      const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(1000)];
      expectS3Error(await signedChunked('chunked-signed-bad', chunks, true), 403, 'SignatureDoesNotMatch');
      expect(await headStatus('chunked-signed-bad')).toBe(404);
    });
  });

  it('keys with ../ are stored as plain keys and never touch files outside the data dir', async () => {
    const tag = `escape-${randomBytes(6).toString('hex')}`;
    const passwdBefore = sha256Hex(readFileSync('/etc/passwd'));
    const keys = ['a/../../etc/passwd', `../../../../../../../../tmp/${tag}`, `../${tag}`, `a/./b/../../../${tag}-2`, `..`, `./${tag}-3`];
    for (const key of keys) {
      const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), body: `content of ${key}` });
      expect(res.status, `PUT ${key}: ${res.body.toString()}`).toBe(200);
    }
    // Percent-encoded dots decode to the same kind of key.
    const encoded = await rawRequest(server, { method: 'PUT', path: `/${bucket}/%2E%2E/%2e%2e/${tag}-4`, body: 'encoded dots' });
    expect(encoded.status, encoded.body.toString()).toBe(200);
    keys.push(`../../${tag}-4`);

    for (const key of keys.slice(0, -1)) {
      const got = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
      expect(got.status, `GET ${key}`).toBe(200);
      expect(got.body.toString()).toBe(`content of ${key}`);
    }
    const list = await rawRequest(server, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } });
    const listed = [...list.body.toString().matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    for (const key of keys) expect(listed, `ListObjectsV2 lacks ${key}`).toContain(key);

    expect(sha256Hex(readFileSync('/etc/passwd'))).toBe(passwdBefore);
    expect(readdirSync(server.rootDir)).toEqual(['data']);
    const outside = (path: string): boolean => !resolve(path).startsWith(resolve(server.dataDir) + sep);
    const found: string[] = [];
    const search = (dir: string, depth: number): void => {
      if (depth < 0 || !outside(dir)) return;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        if (entry.name.includes(tag)) found.push(join(dir, entry.name));
        if (entry.isDirectory()) search(join(dir, entry.name), depth - 1);
      }
    };
    search(tmpdir(), 3);
    search(repoRoot, 1);
    search('/', 1);
    search('/etc', 0);
    // Wherever the server might naively join a key onto one of its own directories.
    const dataDirs = [server.dataDir, ...readdirSync(server.dataDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(server.dataDir, e.name))];
    for (const dir of dataDirs) {
      for (const key of keys) {
        const naive = resolve(dir, key);
        if (outside(naive) && existsSync(naive) && naive !== '/etc/passwd' && naive.includes(tag)) found.push(naive);
      }
    }
    expect(found).toEqual([]);
  });

  describe('oversized input', () => {
    it('64 KiB of x-amz-meta headers -> a 4xx answer, and the server still answers', async () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 64; i++) headers[`x-amz-meta-h${i}`] = 'v'.repeat(1000);
      let res: Awaited<ReturnType<typeof rawRequest>> | string;
      try {
        res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'huge-headers'), body: 'x', headers });
      } catch (err) {
        res = `connection error without a response: ${(err as Error).message}`;
      }
      expect(typeof res, String(res)).toBe('object');
      if (typeof res === 'object') expectS3Error(res, (s) => s >= 400 && s < 500);
      expect(await headStatus('huge-headers')).toBe(404);
    });

    it('user metadata over 2 KiB -> 400 MetadataTooLarge; 1.9 KiB is accepted', async () => {
      const big = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'meta-big'), body: 'x', headers: { 'x-amz-meta-big': 'v'.repeat(2100) } });
      expectS3Error(big, 400, 'MetadataTooLarge');
      expect(await headStatus('meta-big')).toBe(404);
      const split = await rawRequest(server, {
        method: 'PUT',
        path: objectPath(bucket, 'meta-big-split'),
        body: 'x',
        headers: { 'x-amz-meta-one': 'v'.repeat(1100), 'x-amz-meta-two': 'w'.repeat(1100) },
      });
      expectS3Error(split, 400, 'MetadataTooLarge');
      const ok = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'meta-ok'), body: 'x', headers: { 'x-amz-meta-fits': 'v'.repeat(1900) } });
      expect(ok.status, ok.body.toString()).toBe(200);
      const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'meta-ok') });
      expect(head.headers['x-amz-meta-fits']).toBe('v'.repeat(1900));
    });
  });

  describe('truncated bodies', () => {
    /** Sends 100 KiB of a declared 1 MiB body, then FIN or RST; returns whatever the server answered. */
    const truncatedPut = async (key: string, finish: 'end' | 'destroy'): Promise<string> => {
      const declared = MiB;
      const signed = await signRequest(server, { method: 'PUT', path: objectPath(bucket, key), payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(declared) } });
      const socket = await tlsSocket(server);
      let answer = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('error', () => undefined);
      const closed = once(socket, 'close').catch(() => undefined);
      const head = [`PUT ${signed.path} HTTP/1.1`, ...Object.entries(signed.headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
      socket.write(head);
      socket.write(randomBytes(100 * 1024));
      if (finish === 'end') socket.end();
      else socket.destroy();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      socket.destroy();
      return answer;
    };

    it('a body shorter than Content-Length (then FIN) stores nothing', async () => {
      const answer = await truncatedPut('short-fin', 'end');
      // No answer at all is fine; an answer must not claim success.
      if (answer !== '') expect(answer.split('\r\n')[0]).toMatch(/^HTTP\/1\.1 4\d\d /);
      expect(await headStatus('short-fin')).toBe(404);
    });

    it('a body cut off by a reset connection stores nothing', async () => {
      await truncatedPut('short-rst', 'destroy');
      expect(await headStatus('short-rst')).toBe(404);
    });
  });

  describe('standard S3 errors', () => {
    it('GET of a missing key -> 404 NoSuchKey; missing bucket -> 404 NoSuchBucket', async () => {
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'no-such-key') }), 404, 'NoSuchKey');
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath('no-such-bucket-e2e', 'k') }), 404, 'NoSuchBucket');
      expectS3Error(await rawRequest(server, { method: 'GET', path: '/no-such-bucket-e2e', query: { 'list-type': '2' } }), 404, 'NoSuchBucket');
      const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'no-such-key') });
      expect(head.status).toBe(404);
      expect(head.headers['x-amz-request-id']).toBeTruthy();
    });

    it('an invalid bucket name -> 400 InvalidBucketName', async () => {
      for (const name of ['Bad_Bucket', 'ab', 'bucket..name', '-leading-dash']) {
        expectS3Error(await rawRequest(server, { method: 'PUT', path: `/${name}` }), 400, 'InvalidBucketName');
      }
    });

    it('re-creating an owned bucket -> 200 in us-east-1, 409 BucketAlreadyOwnedByYou for another region; deleting a non-empty one -> 409 BucketNotEmpty', async () => {
      // AWS CreateBucket: 200 for a bucket you own in North Virginia (legacy), 409 elsewhere.
      expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
      const elsewhere = '<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>';
      expectS3Error(await rawRequest(server, { method: 'PUT', path: `/${bucket}`, body: elsewhere }), 409, 'BucketAlreadyOwnedByYou');
      expectS3Error(await rawRequest(server, { method: 'DELETE', path: `/${bucket}` }), 409, 'BucketNotEmpty');
    });

    it('an unsatisfiable range -> 416 InvalidRange', async () => {
      expectS3Error(await rawRequest(server, { method: 'GET', path: objectPath(bucket, healthKey), headers: { range: 'bytes=1000-2000' } }), 416, 'InvalidRange');
    });

    it('a wrong Content-MD5 -> 400 BadDigest; a malformed one -> 400 InvalidDigest; nothing stored', async () => {
      expectS3Error(await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'md5-bad'), body: 'abc', headers: { 'content-md5': md5Base64('abd') } }), 400, 'BadDigest');
      expectS3Error(await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'md5-bad'), body: 'abc', headers: { 'content-md5': 'not-base64-md5' } }), 400, 'InvalidDigest');
      expect(await headStatus('md5-bad')).toBe(404);
    });

    it('multipart misuse: NoSuchUpload, EntityTooSmall, InvalidPart, InvalidPartOrder', async () => {
      const key = 'mpu-misuse';
      expectS3Error(
        await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), query: { partNumber: '1', uploadId: 'no-such-upload' }, body: 'x' }),
        404,
        'NoSuchUpload',
      );
      const create = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const uploadId = create.UploadId as string;
      const p1 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: Buffer.from('small part one') }));
      const p2 = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: Buffer.from('small part two') }));
      const complete = async (parts: Array<[number, string]>) =>
        await rawRequest(server, {
          method: 'POST',
          path: objectPath(bucket, key),
          query: { uploadId },
          body: `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
        });
      expectS3Error(await complete([[1, p1.ETag as string], [2, p2.ETag as string]]), 400, 'EntityTooSmall');
      expectS3Error(await complete([[1, '"00000000000000000000000000000000"']]), 400, 'InvalidPart');
      expectS3Error(await complete([[2, p2.ETag as string], [1, p1.ETag as string]]), 400, 'InvalidPartOrder');
      expect(await headStatus(key)).toBe(404);
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    });
  });
});
