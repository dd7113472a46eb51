// The bench's load generator (bench/load.ts) against a real s3d: every operation runs clean, MIXED
// leaves its pool listing exactly the objects that exist, an aborted in-flight PUT leaves no object,
// a wrong object body is caught, and the window hooks (onWindow, windowEnd) fire at the window's
// edges. The numbers are not checked here (speed lives in bench/).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchClient, objectBody, putObjects, runCell, type CellSpec } from '../../bench/load.js';
import { region, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'bench-load';
const KiB = 1024;
const MiB = 1024 * KiB;

let server: S3dServer;
let client: BenchClient;

function spec(overrides: Partial<CellSpec>): CellSpec {
  return {
    op: 'PUT', bucket, sizeBytes: 4 * KiB, concurrency: 4, warmupMs: 100, windowMs: 400,
    newKey: (i) => `put/${i}`, readKeys: [], onStored: undefined, verifyContentEvery: 1, listPrefix: '', listKeyCount: 0,
    ...overrides,
  };
}

beforeAll(async () => {
  server = await startServer();
  client = new BenchClient({
    endpoints: [new URL(server.endpoint)],
    credentials: { accessKey: server.accessKey, secretKey: server.secretKey, region },
    ca: readFileSync(server.caFile),
    connections: 8,
  });
  await client.createBucket(bucket);
});

afterAll(async () => {
  await client?.close();
  await server?.dispose();
});

describe('bench load generator against s3d', () => {
  it('PUT then GET: requests complete inside the window, every GET verified byte for byte', async () => {
    const payload = randomBytes(4 * KiB);
    const stored: string[] = [];
    const put = await runCell(client, spec({ op: 'PUT', onStored: (key) => stored.push(key) }), payload);
    expect(put.error).toBeUndefined();
    expect(put.ops).toBeGreaterThan(0);
    expect(put.bytes).toBeGreaterThanOrEqual(put.ops * payload.length);
    expect(stored.length).toBeGreaterThanOrEqual(put.ops);
    const get = await runCell(client, spec({ op: 'GET', readKeys: stored }), payload);
    expect(get.error).toBeUndefined();
    expect(get.ops).toBeGreaterThan(0);
    expect(get.contentVerifiedOps).toBe(get.ops);
    expect(get.p50Ms).toBeGreaterThan(0);
    expect(get.p999Ms).toBeGreaterThanOrEqual(get.p99Ms);
    // The request log counts a streamed body's bytes (it used to log 0: 'close' came first).
    expect(server.logs()).toMatch(/"op":"GetObject"[^\n]*"bytesOut":4096,/);
  });

  it('MIXED runs all four operations and leaves its pool holding exactly the objects that exist', async () => {
    const payload = randomBytes(8 * KiB);
    const pool = Array.from({ length: 24 }, (_, i) => `mixed/seed-${i}`);
    await putObjects(client, bucket, pool, payload, 8);
    const mixed = await runCell(client, spec({ op: 'MIXED', sizeBytes: payload.length, windowMs: 1_000, newKey: (i) => `mixed/new-${i}`, readKeys: pool }), payload);
    expect(mixed.error).toBeUndefined();
    for (const op of ['GET', 'HEAD', 'PUT', 'DELETE']) expect(mixed.opCounts?.[op] ?? 0, op).toBeGreaterThan(0);
    // Aborted DELETEs left the pool before they were sent; aborted PUTs never joined it.
    const listed = await client.listObjects(bucket, 'mixed/');
    const poolSet = new Set(pool);
    expect(poolSet.size).toBe(pool.length);
    expect(listed).toBeGreaterThanOrEqual(pool.length);
    for (const key of pool) await client.headObject(bucket, key, payload.length);
  });

  it('GETs and PUTs of 1 MiB taking turns on 64 keep-alive connections complete without a reset', async () => {
    // A PUT arriving on a connection whose previous GET response was still draining used to be
    // reset ("Parse Error: Paused", see keepHttpParserOffTlsHandle in src/s3/server.ts). That race
    // showed in `make bench`'s 6-drive MIXED 1 MiB x 64 cell 1 run in 2; this lighter load did not
    // reproduce it here, so it guards the path (keep-alive GET then PUT), not the race itself.
    const payload = randomBytes(1 * MiB);
    const pool = Array.from({ length: 128 }, (_, i) => `turns/seed-${i}`);
    const wide = new BenchClient({
      endpoints: [new URL(server.endpoint)],
      credentials: { accessKey: server.accessKey, secretKey: server.secretKey, region },
      ca: readFileSync(server.caFile),
      connections: 64,
    });
    try {
      await putObjects(wide, bucket, pool, payload, 16);
      const mixed = await runCell(wide, spec({ op: 'MIXED', sizeBytes: payload.length, concurrency: 64, warmupMs: 200, windowMs: 3_000, newKey: (i) => `turns/new-${i}`, readKeys: pool, verifyContentEvery: 8 }), payload);
      expect(mixed.error).toBeUndefined();
      expect(mixed.opCounts?.['PUT'] ?? 0).toBeGreaterThan(0);
      expect(mixed.opCounts?.['GET'] ?? 0).toBeGreaterThan(0);
    } finally {
      await wide.close();
    }
    expect(server.logs()).not.toContain('Parse Error: Paused');
  });

  it('LIST counts every key of the prefix, and a wrong count fails the cell', async () => {
    const payload = randomBytes(1 * KiB);
    const keys = Array.from({ length: 1_050 }, (_, i) => `list/${String(i).padStart(5, '0')}`);
    await putObjects(client, bucket, keys, payload, 16);
    const list = await runCell(client, spec({ op: 'LIST', warmupMs: 300, windowMs: 1_500, listPrefix: 'list/', listKeyCount: keys.length }), payload);
    expect(list.error).toBeUndefined();
    expect(list.ops).toBeGreaterThan(0);
    expect(list.opCounts?.['objects']).toBe(list.ops * keys.length);
    const wrong = await runCell(client, spec({ op: 'LIST', listPrefix: 'list/', listKeyCount: keys.length + 1 }), payload);
    expect(wrong.error?.code).toBe('ListMismatch');
  });

  it('PUTs aborted at the end of the window leave no object behind', async () => {
    const payload = randomBytes(32 * MiB);
    const stored: string[] = [];
    const put = await runCell(client, spec({ op: 'PUT', sizeBytes: payload.length, concurrency: 3, warmupMs: 0, windowMs: 300, newKey: (i) => `big/${i}`, onStored: (key) => stored.push(key) }), payload);
    expect(put.error).toBeUndefined();
    expect(put.bytes).toBeGreaterThan(0);
    // Three 32 MiB bodies cannot all be stored in 300 ms here; whatever was cut off must not exist.
    expect(stored.length).toBeLessThan(3);
    expect(await client.listObjects(bucket, 'big/')).toBe(stored.length);
    await client.putObject(bucket, 'health', { sizeBytes: 1, prefix: Buffer.from('x'), rest: Buffer.alloc(0) });
  });

  it('onWindow sees both edges of the window, and windowEnd ends it early', async () => {
    const payload = randomBytes(4 * KiB);
    const keys = Array.from({ length: 8 }, (_, i) => `edges/${i}`);
    await putObjects(client, bucket, keys, payload, 4);
    const edges: Array<{ edge: string; atMs: number }> = [];
    const stop = new AbortController();
    const startedMs = performance.now();
    const onWindow = (edge: 'start' | 'end'): void => {
      edges.push({ edge, atMs: performance.now() });
      if (edge === 'start') setTimeout(() => stop.abort(), 300);
    };
    const get = await runCell(client, spec({ op: 'GET', warmupMs: 100, windowMs: 60_000, readKeys: keys, onWindow, windowEnd: stop.signal }), payload);
    expect(get.error).toBeUndefined();
    expect(edges.map((e) => e.edge)).toEqual(['start', 'end']);
    // Ended by the signal after about 300 ms, not by the 60 s window; the measured window is the hooks' interval.
    expect(get.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(get.elapsedMs).toBeLessThan(10_000);
    expect(Math.abs(get.elapsedMs - (edges[1]!.atMs - edges[0]!.atMs))).toBeLessThan(5);
    expect(edges[0]!.atMs - startedMs).toBeGreaterThanOrEqual(90);
    // Aborted before the window starts: an empty window, and the hooks never run.
    const early = new AbortController();
    early.abort();
    const none = await runCell(client, spec({ op: 'GET', readKeys: keys, onWindow: () => edges.push({ edge: 'late', atMs: 0 }), windowEnd: early.signal }), payload);
    expect(none).toMatchObject({ ops: 0, bytes: 0, elapsedMs: 0, error: undefined });
    expect(edges).toHaveLength(2);
  });

  it('a GET whose body is another object\'s fails with ContentMismatch', async () => {
    const payload = randomBytes(4 * KiB);
    // Store under "swap/a" the bytes that belong to "swap/b": prefix check must catch it.
    await putObjects(client, bucket, ['swap/b'], payload, 1);
    await client.putObject(bucket, 'swap/a', objectBody(payload, 'swap/b'));
    const get = await runCell(client, spec({ op: 'GET', concurrency: 1, readKeys: ['swap/a'] }), payload);
    expect(get.error?.code).toBe('ContentMismatch');
  });
});
