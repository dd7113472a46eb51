// A header sent on several lines is signed as its values joined with ',' (SigV4 "canonical
// headers"; node:http joins them with ', '), and is stored the same way.
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpResult } from '../helpers/clients.js';
import { objectPath, rawRequest, signRequest, signedRequestOptions } from '../helpers/raw-request.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'repeated-headers';

/** Sends `headers` (signed as they are, with one value split over several lines) and `body`. */
function sendSplit(server: S3dServer, method: string, path: string, headers: Record<string, string | string[]>, body: Buffer): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest({ ...signedRequestOptions(server, method, { path, headers: {} }), headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

describe('a header repeated on several lines', () => {
  let server: S3dServer;

  beforeAll(async () => {
    server = await startServer();
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
  });

  afterAll(async () => {
    await server?.dispose();
  });

  it('verifies when signed as its lines joined with "," and is stored that way', async () => {
    const body = Buffer.from('repeated');
    const path = objectPath(bucket, 'two-lines');
    const signed = await signRequest(server, { method: 'PUT', path, headers: { 'content-length': String(body.length), 'x-amz-meta-list': 'one,two' }, body });
    const res = await sendSplit(server, 'PUT', signed.path, { ...signed.headers, 'x-amz-meta-list': ['one', 'two'] }, body);
    expect(res.status, res.body.toString()).toBe(200);
    const head = await rawRequest(server, { method: 'HEAD', path });
    expect(head.headers['x-amz-meta-list']).toBe('one,two');
  });
});
