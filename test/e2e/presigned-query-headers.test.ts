// A SigV4 presigned URL may carry request headers in its query (the JS SDK v3's presigner hoists
// x-amz-meta-*, x-amz-acl, x-amz-server-side-encryption, ...; AWS applies them as headers). They are
// signed with the query, so Tessera applies them too: metadata is stored, refused features refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl } from '../helpers/clients.js';
import { sdkSigner } from '../helpers/sdk-signer.js';
import { expectS3Error, objectPath, rawRequest, startServerWithBucket } from '../helpers/raw-request.js';
import { region, type S3dServer } from '../helpers/server.js';

const bucket = 'presigned-query';

/** A presigned PUT URL made as @aws-sdk/s3-request-presigner makes it: x-amz-* headers hoisted into the query. */
async function presignPut(server: S3dServer, key: string, headers: Record<string, string>): Promise<string> {
  const signer = sdkSigner({ accessKeyId: server.accessKey, secretAccessKey: server.secretKey }, { region, applyChecksum: false });
  const path = objectPath(bucket, key);
  const signed = await signer.presign(
    { method: 'PUT', protocol: 'https:', hostname: '127.0.0.1', port: server.port, path, query: {}, headers: { host: `127.0.0.1:${server.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...headers } },
    { expiresIn: 300 },
  );
  const query = Object.entries(signed.query ?? {}).map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(String(v))}`).join('&');
  expect(query).toContain('x-amz-');
  return `${server.endpoint}${path}?${query}`;
}

describe('headers carried in a presigned URL query', () => {
  let server: S3dServer;

  beforeAll(async () => {
    server = await startServerWithBucket(bucket);
  });

  afterAll(async () => {
    await server?.dispose();
  });

  it('x-amz-meta-* in the query are stored as the object metadata', async () => {
    const url = await presignPut(server, 'with-meta', { 'x-amz-meta-origin': 'presigned' });
    const put = await fetchUrl(url, server, { method: 'PUT', body: Buffer.from('hello') });
    expect(put.status, put.body.toString()).toBe(200);
    const head = await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'with-meta') });
    expect(head.headers['x-amz-meta-origin']).toBe('presigned');
  });

  it('a refused feature in the query is refused as a header would be, and nothing is stored', async () => {
    const url = await presignPut(server, 'with-sse', { 'x-amz-server-side-encryption': 'AES256' });
    expectS3Error(await fetchUrl(url, server, { method: 'PUT', body: Buffer.from('hello') }), 501, 'NotImplemented');
    expect((await rawRequest(server, { method: 'HEAD', path: objectPath(bucket, 'with-sse') })).status).toBe(404);
  });

  it('x-amz-copy-source in the query makes the request a CopyObject, as its signer meant', async () => {
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'source'), body: 'copied bytes' })).status).toBe(200);
    const url = await presignPut(server, 'copy-target', { 'x-amz-copy-source': `${bucket}/source` });
    const copy = await fetchUrl(url, server, { method: 'PUT' });
    expect(copy.status, copy.body.toString()).toBe(200);
    expect(copy.body.toString()).toContain('<CopyObjectResult');
    expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'copy-target') })).body.toString()).toBe('copied bytes');
  });
});
