// A GET whose client goes away after the object was opened but before its body started: the
// gateway releases the object's data (gc may collect it once replaced) and closes its reader, and
// logs no internal error (Node 24's pipeline throws on a destroyed response; that used to become
// an "internal error" 500 and left the data pinned until the process ended).
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { MetaStore } from '../../src/meta/meta-store.js';
import { ObjectLayer } from '../../src/object/object-layer.js';
import { S3Gateway } from '../../src/s3/server.js';
import { DriveSet } from '../../src/store/drive-set.js';
import { RequestActivity } from '../../src/util/request-activity.js';
import { captureLog } from '../helpers/log-capture.js';
import { signRequest } from '../helpers/raw-request.js';
import type { S3dServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const accessKey = 'client-gone-access';
const secretKey = 'client-gone-secret-0123456789abcdef';

describe('a GET whose client leaves before the body', () => {
  let dir: string;
  let meta: MetaStore;
  let objects: ObjectLayer;
  let gateway: S3Gateway;
  let port: number;
  const captured = captureLog();

  beforeAll(async () => {
    await initBitrot();
    dir = await mkdtemp(join(tmpdir(), 'client-gone-'));
    meta = await openMetaStore(join(dir, 'meta'));
    const drives = await DriveSet.open(dir, [join(dir, 'drive-1')], undefined, captured.log);
    objects = new ObjectLayer({ meta, drives, blockSizeBytes: 1024 * 1024, inlineObjectMaxBytes: 0, log: captured.log });
    await objects.start();
    gateway = new S3Gateway({
      objects, settings: { region: 'us-east-1', owner: { id: 'owner', displayName: 'tessera' }, blockSizeBytes: 1024 * 1024 },
      domains: [], credentials: new Map([[accessKey, secretKey]]), log: captured.log, activity: new RequestActivity(),
    });
    port = await gateway.listen({ protocol: 'http', address: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await gateway?.close();
    await objects?.stop();
    await meta?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Sends a signed request over plain HTTP; resolves with the status. */
  async function send(method: string, path: string, body?: Buffer): Promise<{ req: ClientRequest; status: Promise<number> }> {
    const server = { port, accessKey, secretKey } as S3dServer;
    const signed = await signRequest(server, { method, path, body, headers: body ? { 'content-length': String(body.length) } : {} });
    const req = request({ host: '127.0.0.1', port, method, path: signed.path, headers: signed.headers, agent: false });
    const status = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.end(body);
    return { req, status };
  }

  it('releases the object and logs no internal error', async () => {
    expect(await (await send('PUT', '/bucket')).status).toBe(200);
    expect(await (await send('PUT', '/bucket/key', Buffer.alloc(3 * 1024 * 1024, 7))).status).toBe(200);

    let opened = false;
    let released = false;
    let openGate = (): void => undefined;
    const gate = new Promise<void>((resolve) => { openGate = resolve; });
    const original = objects.openObject.bind(objects);
    objects.openObject = async (bucket, key) => {
      const object = await original(bucket, key);
      opened = true;
      await gate; // the client leaves meanwhile
      return { ...object, release: () => { released = true; object.release(); } };
    };
    const get = await send('GET', '/bucket/key');
    get.status.catch(() => undefined); // the client aborts: no response
    await waitFor(() => opened, 5_000, 'the GET to open the object');
    get.req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the server sees the connection close
    openGate();
    await waitFor(() => released, 5_000, 'the object to be released');
    objects.openObject = original;
    expect(captured.messages(50)).not.toContain('internal error');
    expect(await (await send('GET', '/bucket/key')).status).toBe(200); // and the gateway keeps serving
  });
});
