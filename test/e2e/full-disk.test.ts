// A real s3d whose metadata (--data-dir) and shard drive (--drives) each live on a small tmpfs,
// filled to ENOSPC with PUTs and a filler file. Writes that need space must get a clear error
// (507 InsufficientStorage for the metadata disk, 503 ServiceUnavailable for the shard drive)
// within a bound, reads of earlier objects keep returning their exact bytes, the server recovers
// by itself once the filler is deleted (no restart), and it never exits or hangs. Every write
// acknowledged is read back at the end; every write refused is absent; no orphan shard stays.
// In a 3-node cluster, a node whose data dir fills up keeps running: its replica answers errors,
// the other two make the write quorum, and `s3d admin status` reports its metadata store full.
// Needs root and a working `mount -t tmpfs`; otherwise the file is skipped with the reason printed.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClusterReport } from '../../src/cli/admin.js';
import { s3Client, type HttpResult } from '../helpers/clients.js';
import { s3dAdmin, startCluster, type TestCluster } from '../helpers/cluster.js';
import { listShardFiles } from '../helpers/drives.js';
import { MiB, sha256Hex } from '../helpers/files.js';
import { expectS3Error, objectPath, rawRequest } from '../helpers/raw-request.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';
import { cannotMountTmpfs, fillFilesystem, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const bucket = 'full-disk';
/** Size of the tmpfs under --data-dir (metadata, certificate, credentials). */
const metaDiskBytes = 16 * MiB;
/** Size of the tmpfs under the one shard drive. */
const driveDiskBytes = 24 * MiB;
/** Stored inline in LMDB (up to 128 KiB are). */
const inlineBytes = 100 * KiB;
/** Striped to the drive. */
const stripedBytes = 2 * MiB;
/** Every request must answer within this long: a full disk never makes the server hang. */
const answerWithinMs = 15_000;
/** The bytes the fillers leave free before PUTs fill the rest. */
const headroomBytes = 2 * MiB;

const skipReason = cannotMountTmpfs();
if (skipReason !== undefined) console.warn(`test/e2e/full-disk.test.ts skipped: ${skipReason}`);

/** `promise`, or a test failure naming `what` when it takes longer than answerWithinMs. */
async function answered<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${answerWithinMs} ms (the server hangs)`)), answerWithinMs);
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(skipReason !== undefined)('a full disk under the metadata or the shard drive', () => {
  let root: string;
  let dataDir: string;
  let driveDir: string;
  let server: S3dServer | undefined;
  let sdk: S3Client;
  /** Every write the server acknowledged, by key: what a read must return. */
  const stored = new Map<string, { sha256: string; sizeBytes: number }>();
  /** Keys whose only PUT was refused: they must not exist. */
  const refused = new Set<string>();
  let counter = 0;

  const put = async (key: string, body: Buffer): Promise<HttpResult> => {
    const res = await answered(`PUT ${key}`, rawRequest(server!, { method: 'PUT', path: objectPath(bucket, key), body }));
    if (res.status === 200) {
      stored.set(key, { sha256: sha256Hex(body), sizeBytes: body.length });
      refused.delete(key);
    } else if (!stored.has(key)) {
      refused.add(key);
    }
    return res;
  };
  const get = (key: string): Promise<HttpResult> => answered(`GET ${key}`, rawRequest(server!, { method: 'GET', path: objectPath(bucket, key) }));
  const nextKey = (prefix: string): string => `${prefix}-${String(++counter).padStart(4, '0')}`;
  /** PUTs new objects of `sizeBytes` (keys `prefix-N`) until one is refused, at most `tries`: that refusal, or undefined. */
  const firstRefusal = async (prefix: string, sizeBytes: number, tries: number): Promise<HttpResult | undefined> => {
    for (let i = 0; i < tries; i++) {
      const res = await put(nextKey(prefix), randomBytes(sizeBytes));
      if (res.status !== 200) return res;
    }
    return undefined;
  };

  /** Every acknowledged object reads back exactly; every refused one is absent. */
  const expectReadsExact = async (): Promise<void> => {
    for (const [key, want] of stored) {
      const res = await get(key);
      expect(res.status, `GET ${key}: ${res.body.toString().slice(0, 300)}`).toBe(200);
      expect(res.body.length, `GET ${key}`).toBe(want.sizeBytes);
      expect(sha256Hex(res.body), `GET ${key}`).toBe(want.sha256);
    }
  };
  const expectRefusedAbsent = async (): Promise<void> => {
    for (const key of refused) expectS3Error(await get(key), 404, 'NoSuchKey');
  };
  const expectAlive = (): void => {
    expect(server!.running(), `s3d exited; log tail:\n${server!.logs().slice(-3000)}`).toBe(true);
    expect(server!.logs()).not.toContain('s3d stops');
  };

  beforeAll(async () => {
    root = makeTempDir('full-disk');
    dataDir = join(root, 'data');
    driveDir = join(root, 'drive');
    mountTmpfs(dataDir, metaDiskBytes);
    mountTmpfs(driveDir, driveDiskBytes);
    server = await startServer({ dataDir, extraArgs: ['--drives', driveDir] });
    sdk = s3Client(server);
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await put(nextKey('before-inline'), randomBytes(inlineBytes))).status).toBe(200);
    expect((await put(nextKey('before-striped'), randomBytes(stripedBytes))).status).toBe(200);
  });

  afterAll(async () => {
    // Unmount whatever happened above: the server first (it holds files open), then both disks.
    await server?.dispose().catch(() => undefined);
    if (dataDir !== undefined) unmountTmpfs(dataDir);
    if (driveDir !== undefined) unmountTmpfs(driveDir);
    if (root !== undefined) removeTempDir(root);
  });

  it('answers writes on a full metadata disk with 507 InsufficientStorage, keeps reads exact, and recovers once space is freed', async () => {
    fillFilesystem(join(dataDir, 'filler-1'), headroomBytes);
    // PUTs of inline objects fill what is left, until the metadata commit fails.
    const first507 = await firstRefusal('fill-inline', inlineBytes, 200);
    expect(first507, 'the metadata disk never filled up').toBeDefined();
    expectS3Error(first507!, 507, 'InsufficientStorage');
    fillFilesystem(join(dataDir, 'filler-2'), 0); // whatever the failed commits left: now ENOSPC for any file

    // Writes that need space answer at once with 507, one after another and at the same time.
    for (let i = 0; i < 3; i++) expectS3Error(await put(nextKey('full-inline'), randomBytes(inlineBytes)), 507, 'InsufficientStorage');
    const together = await Promise.all(Array.from({ length: 8 }, () => put(nextKey('full-inline'), randomBytes(inlineBytes))));
    for (const res of together) expectS3Error(res, 507, 'InsufficientStorage');
    // A striped PUT's metadata is small: it may still fit in LMDB's free pages; if not, 507.
    const striped = await put(nextKey('full-striped'), randomBytes(stripedBytes));
    if (striped.status !== 200) expectS3Error(striped, 507, 'InsufficientStorage');
    // A real SDK sees the code at once: 507 is not one it retries.
    const sdkError = await answered('SDK PutObject', sdk.send(new PutObjectCommand({ Bucket: bucket, Key: nextKey('full-sdk'), Body: randomBytes(inlineBytes) })).then(() => undefined, (err: unknown) => err));
    expect(sdkError).toMatchObject({ name: 'InsufficientStorage', $metadata: { httpStatusCode: 507, attempts: 1 } });

    // Reads go on: every object acknowledged so far, listing and HEAD.
    await expectReadsExact();
    const list = await answered('ListObjectsV2', rawRequest(server!, { method: 'GET', path: `/${bucket}`, query: { 'list-type': '2' } }));
    expect(list.status).toBe(200);
    expect(server!.logs()).toMatch(/"msg":"metadata store full: writes fail/);
    expectAlive();

    // Free the space: new writes succeed again without a restart.
    rmSync(join(dataDir, 'filler-1'));
    rmSync(join(dataDir, 'filler-2'));
    const after = await put(nextKey('after-inline'), randomBytes(inlineBytes));
    expect(after.status, after.body.toString()).toBe(200);
    expect((await put(nextKey('after-striped'), randomBytes(stripedBytes))).status).toBe(200);
    await waitFor(() => server!.logs().includes('"msg":"metadata store commits again'), 20_000, 'the metadata store to report it commits again');
    await expectReadsExact();
    await expectRefusedAbsent();
    expectAlive();
  });

  it('answers striped writes on a full shard drive with 503 ServiceUnavailable, keeps reads exact, and recovers once space is freed', async () => {
    fillFilesystem(join(driveDir, 'filler-1'), headroomBytes + MiB);
    const first503 = await firstRefusal('fill-striped', stripedBytes, 20);
    expect(first503, 'the drive never filled up').toBeDefined();
    expectS3Error(first503!, 503, 'ServiceUnavailable');
    fillFilesystem(join(driveDir, 'filler-2'), 0);

    for (let i = 0; i < 3; i++) expectS3Error(await put(nextKey('full-striped'), randomBytes(stripedBytes)), 503, 'ServiceUnavailable');
    // Inline objects do not touch the drive: they are still stored.
    expect((await put(nextKey('drive-full-inline'), randomBytes(inlineBytes))).status).toBe(200);
    await expectReadsExact();
    expectAlive();

    rmSync(join(driveDir, 'filler-1'));
    rmSync(join(driveDir, 'filler-2'));
    expect((await put(nextKey('drive-after-striped'), randomBytes(stripedBytes))).status).toBe(200);
    await expectReadsExact();
    await expectRefusedAbsent();
    // Nothing half-written stays: the drive holds exactly one shard file per stored striped object
    // (the shards of refused writes are deleted by gc, once the metadata store could queue them).
    const stripedStored = [...stored.values()].filter((o) => o.sizeBytes > 128 * KiB).length;
    await waitFor(() => listShardFiles([driveDir]).length === stripedStored, 60_000, `${stripedStored} shard files on the drive (found ${listShardFiles([driveDir]).length})`);
    expectAlive();
  });
});

describe.skipIf(skipReason !== undefined)('a full data dir on one node of a 3-node cluster', () => {
  let cluster: TestCluster | undefined;
  let fullDir: string | undefined;
  const stored = new Map<string, { sha256: string; sizeBytes: number }>();
  let counter = 0;
  const nextKey = (prefix: string): string => `${prefix}-${String(++counter).padStart(4, '0')}`;
  const node = (n: number): S3dServer => cluster!.nodes[n - 1]!;
  const put = async (via: number, key: string, body: Buffer): Promise<HttpResult> => {
    const res = await answered(`PUT ${key} via node-${via}`, rawRequest(node(via), { method: 'PUT', path: objectPath(bucket, key), body }));
    if (res.status === 200) stored.set(key, { sha256: sha256Hex(body), sizeBytes: body.length });
    return res;
  };
  const status = async (): Promise<{ code: number | null; report: ClusterReport }> => {
    const result = await s3dAdmin(cluster!, 1, ['status', '--json'], 60_000);
    return { code: result.code, report: JSON.parse(result.stdout) as ClusterReport };
  };
  const node3MetaState = (report: ClusterReport): string | undefined => report.nodes.find((n) => n.nodeId === 'node-3')?.status?.metaStore.state;

  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 3, parity: 1,
      prepare: (dir) => {
        fullDir = join(dir, 'node-3'); // metadata and its one drive
        mountTmpfs(fullDir, metaDiskBytes);
      },
    });
    expect((await rawRequest(node(1), { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await put(1, nextKey('before'), randomBytes(inlineBytes))).status).toBe(200);
  });

  afterAll(async () => {
    if (cluster !== undefined) await Promise.all(cluster.nodes.map((n) => n.dispose().catch(() => undefined)));
    if (fullDir !== undefined) unmountTmpfs(fullDir);
    if (cluster !== undefined) removeTempDir(cluster.dir);
  });

  it('keeps the node up, lets the quorum take writes, reports it in s3d admin status, and recovers', async () => {
    fillFilesystem(join(fullDir!, 'filler-1'), headroomBytes);
    // Every inline PUT lands on all three nodes: node-3's commits fail first, the quorum takes them.
    for (let i = 0; i < 100 && !node(3).logs().includes('"msg":"metadata store full'); i++) {
      const res = await put(1, nextKey('fill'), randomBytes(inlineBytes));
      expect(res.status, res.body.toString()).toBe(200);
    }
    expect(node(3).logs()).toContain('"msg":"metadata store full');
    fillFilesystem(join(fullDir!, 'filler-2'), 0);

    // Writes through any gateway, node-3's too, are stored by the two healthy replicas.
    for (const via of [1, 2, 3]) expect((await put(via, nextKey(`full-via-${via}`), randomBytes(inlineBytes))).status).toBe(200);
    const { code, report } = await status();
    expect(code).toBe(1);
    expect(node3MetaState(report)).toBe('full');
    expect(report.problems.some((p) => p.startsWith('node-3: metadata store full'))).toBe(true);
    for (const [key, want] of stored) {
      const res = await answered(`GET ${key} via node-3`, rawRequest(node(3), { method: 'GET', path: objectPath(bucket, key) }));
      expect(res.status, `GET ${key}`).toBe(200);
      expect(sha256Hex(res.body), `GET ${key}`).toBe(want.sha256);
    }
    expect(node(3).running()).toBe(true);
    expect(node(3).logs()).not.toContain('s3d stops');

    rmSync(join(fullDir!, 'filler-1'));
    rmSync(join(fullDir!, 'filler-2'));
    await waitFor(() => node(3).logs().includes('"msg":"metadata store commits again'), 20_000, 'node-3 to report its metadata store commits again');
    expect(node3MetaState((await status()).report)).toBe('ok');
    expect((await put(3, nextKey('after'), randomBytes(stripedBytes))).status).toBe(200);
    for (const [key, want] of stored) {
      const res = await answered(`GET ${key} via node-2`, rawRequest(node(2), { method: 'GET', path: objectPath(bucket, key) }));
      expect(sha256Hex(res.body), `GET ${key}`).toBe(want.sha256);
    }
    for (const n of cluster!.nodes) expect(n.running()).toBe(true);
  });
});
