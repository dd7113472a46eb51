// A header sent on several lines is signed as its values joined with ',' (SigV4 "canonical
// headers"; node:http joins them with ', '), and is stored the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectPath, rawRequest, sendRequest, signRequest } from '../helpers/raw-request.js';
import { startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'repeated-headers';

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
    const res = await sendRequest(server, 'PUT', signed, body, { 'x-amz-meta-list': ['one', 'two'] });
    expect(res.status, res.body.toString()).toBe(200);
    const head = await rawRequest(server, { method: 'HEAD', path });
    expect(head.headers['x-amz-meta-list']).toBe('one,two');
  });
});
