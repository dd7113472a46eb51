// `s3d server --workers 2`: requests are served by two gateway processes sharing the port
// (connections handed out in turn). What one process writes the other reads at once, byte for
// byte, multipart uploads included; a killed worker is started again while the other serves; a
// node process killed by SIGKILL takes its workers with it, and the restart takes over the lock.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayWorkersFile } from '../../src/cluster/gateway-workers.js';
import { MiB } from '../helpers/files.js';
import { objectPath, rawRequest, signedRequestOptions, signRequest } from '../helpers/raw-request.js';
import { startServer, type S3dServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { processAlive as alive } from '../../src/util/process-alive.js';

const bucket = 'workers';

/** The gateway processes DATA/gateway-workers.json lists now (undefined before it is written). */
function gatewayProcesses(server: S3dServer): GatewayWorkersFile['processes'] | undefined {
  try {
    const file = JSON.parse(readFileSync(join(server.dataDir, 'gateway-workers.json'), 'utf8')) as GatewayWorkersFile;
    return file.processes.filter((p) => p.role === 'gateway');
  } catch {
    return undefined;
  }
}


/** Which gateway process answered: x-amz-id-2 is random per process. */
function servedBy(headers: Record<string, string | string[] | undefined>): string {
  return String(headers['x-amz-id-2']);
}

const md5 = (body: Buffer): string => `"${createHash('md5').update(body).digest('hex')}"`;

describe('gateway workers (--workers 2)', () => {
  let server: S3dServer;

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--workers', '2'] });
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    await waitFor(() => gatewayProcesses(server)?.length === 2, 10_000, 'two gateway workers in gateway-workers.json');
  });

  afterAll(async () => {
    await server?.dispose();
  });

  it('a GET served by one worker reads the object another just wrote, byte for byte', async () => {
    const servers = new Set<string>();
    let crossed = 0;
    for (let i = 0; i < 8; i++) {
      const body = randomBytes(i % 2 === 0 ? 3 * MiB + i : 1000 + i); // shard files and inline records
      const put = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, `k${i}`), body });
      expect(put.status).toBe(200);
      const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, `k${i}`) });
      expect(get.status).toBe(200);
      expect(get.body.equals(body)).toBe(true);
      expect(get.headers.etag).toBe(md5(body));
      servers.add(servedBy(put.headers)).add(servedBy(get.headers));
      if (servedBy(put.headers) !== servedBy(get.headers)) crossed++;
    }
    expect(servers.size).toBe(2);
    expect(crossed).toBeGreaterThan(0);
  });

  it('a multipart upload whose calls land on both workers completes whole', async () => {
    const key = 'multipart';
    const created = await rawRequest(server, { method: 'POST', path: objectPath(bucket, key), query: { uploads: '' } });
    expect(created.status).toBe(200);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1] ?? '';
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(123_457)];
    const etags: string[] = [];
    const servers = new Set<string>([servedBy(created.headers)]);
    for (const [index, body] of parts.entries()) {
      const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), query: { partNumber: String(index + 1), uploadId }, body });
      expect(res.status).toBe(200);
      etags.push(String(res.headers.etag));
      servers.add(servedBy(res.headers));
    }
    const xml = `<CompleteMultipartUpload>${etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const done = await rawRequest(server, { method: 'POST', path: objectPath(bucket, key), query: { uploadId }, body: xml });
    expect(done.status, done.body.toString()).toBe(200);
    expect(servers.size).toBe(2);
    const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
    expect(get.body.equals(Buffer.concat(parts))).toBe(true);
  });

  it('a slow GET in one worker reads the whole old object while another worker overwrites it (gc waits for it)', async () => {
    const key = 'overwritten-while-read';
    const before = randomBytes(24 * MiB);
    expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), body: before })).status).toBe(200);
    const signed = await signRequest(server, { method: 'GET', path: objectPath(bucket, key) });
    const chunks: Buffer[] = [];
    let response: IncomingMessage | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(signedRequestOptions(server, 'GET', signed), (res) => {
        response = res;
        res.pause(); // the reader stalls: the server sends only what the socket buffers hold
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => response !== undefined, 10_000, 'the GET response headers');
    const after = randomBytes(MiB);
    const put = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), body: after });
    expect(put.status).toBe(200);
    expect(servedBy(put.headers)).not.toBe(servedBy(response!.headers)); // the two ran in different workers
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // gc passes run meanwhile (and retry every second)
    response!.resume(); // every remaining byte must be the old object's
    await ended;
    expect(Buffer.concat(chunks).equals(before)).toBe(true);
    expect((await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) })).body.equals(after)).toBe(true);
  });

  it('each worker reports its requests and event loop use', async () => {
    await waitFor(() => (gatewayProcesses(server) ?? []).every((p) => p.requests >= 3), 5_000, 'requests counted by both workers');
    for (const worker of gatewayProcesses(server) ?? []) {
      expect(worker.eventLoopActiveMs).toBeGreaterThan(0);
      expect(worker.eventLoopIdleMs).toBeGreaterThan(0);
    }
  });

  it('a worker killed by SIGKILL is started again, and the other serves meanwhile', async () => {
    const before = gatewayProcesses(server) ?? [];
    const victim = before.find((p) => p.index === 1);
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    for (let i = 0; i < 4; i++) {
      const res = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'k1') });
      expect(res.status).toBe(200);
    }
    await waitFor(() => (gatewayProcesses(server) ?? []).some((p) => p.index === 1 && p.pid !== victim!.pid), 15_000, 'worker 1 started again');
    expect(server.logs()).toContain('gateway worker exited; starting it again');
  });

  it('SIGKILL of the node takes its workers with it; a restart takes over the data dir and serves', async () => {
    const workers = (gatewayProcesses(server) ?? []).map((p) => p.pid);
    expect(workers).toHaveLength(2);
    await server.kill9();
    await waitFor(() => workers.every((pid) => !alive(pid)), 10_000, 'the workers to exit after their node');
    await server.restart();
    const get = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'multipart') });
    expect(get.status).toBe(200);
    expect(get.body.length).toBe(10 * MiB + 123_457);
  });
});
