// Issue 5's acceptance cases 1, 2 and 5 (repair) with real `s3d` processes: a 6-node 4+2 cluster
// over QUIC, objects from the AWS SDK, damage done to the shard files on disk, and the operator's
// `s3d admin heal` and `s3d admin status` as real commands. "Full redundancy" is proven from the
// files themselves: every data item has all 6 shard files, each verifies block by block against its
// XXH3-64 hash, and each is byte-identical to the file before the damage.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../src/cli/admin.js';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { blockSizeDefaultBytes } from '../../src/util/limits.js';
import { s3Client } from '../helpers/clients.js';
import { clusterDrives, s3dAdmin, startCluster, type TestCluster } from '../helpers/cluster.js';
import { badRecords, flipBytesInRecord, listShardFiles, sample, shardsByDataId, type ShardFile } from '../helpers/drives.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const width = 6;
const shardBlockBytes = blockSizeDefaultBytes / 4;
const bucket = 'healing';
/** How long the cluster gets to bring every shard back (repairs of a few MiB each take well under a second). */
const healTimeoutMs = 120_000;

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

let cluster: TestCluster;
let clients: S3Client[];
/** key -> sha256 of the body written. */
const objects = new Map<string, string>();

/** Every shard file's bytes now, by path. */
function snapshot(): Map<string, Buffer> {
  return new Map(listShardFiles(clusterDrives(cluster)).map((file) => [file.path, readFileSync(file.path)]));
}

/** What keeps the cluster from full redundancy compared with `before` (empty: none). */
function redundancyProblems(before: Map<string, Buffer>): string[] {
  const files = listShardFiles(clusterDrives(cluster));
  const problems: string[] = [];
  for (const [dataId, group] of shardsByDataId(files)) {
    const indices = group.map((f) => f.shardIndex).join(',');
    if (indices !== '0,1,2,3,4,5') problems.push(`${dataId}: shards ${indices}`);
  }
  for (const file of files) {
    const bad = badRecords(file, shardBlockBytes);
    if (bad.length > 0) problems.push(`${file.path}: blocks ${bad.join(',')} fail their hash`);
    else if (before.has(file.path) && !readFileSync(file.path).equals(before.get(file.path)!)) problems.push(`${file.path}: differs from before`);
  }
  for (const path of before.keys()) if (!files.some((f) => f.path === path)) problems.push(`${path}: missing`);
  return problems;
}

async function readThrough(node: number, key: string): Promise<string> {
  const reply = await clients[node]!.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256(await reply.Body!.transformToByteArray());
}

async function expectEveryObjectExact(): Promise<void> {
  for (const [key, digest] of objects) expect(await readThrough(randomInt(0, width), key), key).toBe(digest);
}

async function statusReport(): Promise<ClusterReport> {
  const status = await s3dAdmin(cluster, randomInt(1, width + 1), ['status', '--json']);
  return JSON.parse(status.stdout) as ClusterReport;
}

/** `s3d admin status` through a random node: exit 0 and healthy, every node up with an empty repair queue. */
async function expectHealthy(): Promise<void> {
  const status = await s3dAdmin(cluster, randomInt(1, width + 1), ['status', '--json']);
  const report = JSON.parse(status.stdout) as ClusterReport;
  expect(report.problems).toEqual([]);
  expect(status.code).toBe(0);
  expect(report.nodes.map((n) => [n.nodeId, n.up, n.status?.repairQueue])).toEqual(Array.from({ length: width }, (_, i) => [`node-${i + 1}`, true, 0]));
}

/** Shard files on the nodes numbered `nodes` (1-based). */
function filesOn(nodes: number[]): ShardFile[] {
  const drives = clusterDrives(cluster);
  return listShardFiles(nodes.map((n) => drives[n - 1]!));
}

beforeAll(async () => {
  await initBitrot();
  // Scrub every 1.8 s for case 2; the scanner runs only when asked (heal), so each case starts it.
  cluster = await startCluster({ nodes: width, parity: 2, config: { scrubIntervalHours: 0.0005, scanIntervalHours: 0 } });
  clients = cluster.nodes.map((node) => s3Client(node));
  await clients[0]!.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < 24; i++) {
    const body = randomBytes(randomInt(200 * KiB, 3 * MiB));
    const key = `objects/${String(i).padStart(2, '0')}`;
    await clients[i % width]!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    objects.set(key, sha256(body));
  }
  const parts = [randomBytes(5 * MiB), randomBytes(1 * MiB + 17)];
  const { UploadId } = await clients[1]!.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multipart' }));
  const etags = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await clients[2]!.send(new UploadPartCommand({ Bucket: bucket, Key: 'multipart', UploadId, PartNumber: i + 1, Body: part }))).ETag!);
  }
  await clients[3]!.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: 'multipart', UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
  }));
  objects.set('multipart', sha256(Buffer.concat(parts)));
}, 180_000);

afterAll(async () => {
  for (const client of clients ?? []) client.destroy();
  await cluster?.dispose();
});

describe('healing a 6-node 4+2 cluster', () => {
  it('case 1: shard files deleted on two nodes all come back with `s3d admin heal --wait`, verified against their hashes', async () => {
    const before = snapshot();
    expect(shardsByDataId(listShardFiles(clusterDrives(cluster))).size).toBe(26); // 24 objects + 2 parts
    expect(redundancyProblems(before)).toEqual([]);
    const victims = [...sample(filesOn([2]), 14), ...sample(filesOn([5]), 14)];
    for (const file of victims) rmSync(file.path);
    expect(redundancyProblems(before).filter((p) => p.endsWith(': missing'))).toHaveLength(28);

    const heal = await s3dAdmin(cluster, 1, ['heal', '--wait', '--timeout', String(healTimeoutMs / 1000)]);
    expect(heal.code, heal.stderr).toBe(0);
    expect(heal.stdout).toContain('heal finished: every shard of the target is in place');
    expect(redundancyProblems(before)).toEqual([]);
    const report = await statusReport();
    expect(report.nodes.reduce((sum, n) => sum + (n.status?.repair.rebuilt ?? 0), 0)).toBeGreaterThanOrEqual(28);
    await expectHealthy();
    await expectEveryObjectExact();
  }, 300_000);

  it('case 2: bytes flipped in shard files are found by scrub and rewritten, and no GET meanwhile returns a wrong byte', async () => {
    const before = snapshot();
    // One damaged shard in each of 12 data items, parity shards included (reads never touch those: only scrub finds them).
    const damaged = [...shardsByDataId(listShardFiles(clusterDrives(cluster))).values()].slice(0, 12).map((group, i) => group[i % width]!);
    expect(damaged.filter((f) => f.shardIndex >= 4).length).toBeGreaterThanOrEqual(4);
    // Each file is checked right after its flip: scrub runs every 1.8 s and may already rewrite an
    // early one while the later ones are flipped, so a count over all twelve afterwards is a race.
    for (const file of damaged) {
      const stripe = randomInt(0, Math.ceil(file.sizeBytes / (8 + shardBlockBytes)));
      flipBytesInRecord(file, shardBlockBytes, stripe, randomInt(0, 4) === 0);
      expect(badRecords(file, shardBlockBytes), file.path).toContain(stripe);
    }

    let reads = 0;
    const wrong: string[] = [];
    let healed = false;
    const keys = [...objects.keys()];
    const readers = Array.from({ length: 3 }, async () => {
      while (!healed) {
        const key = keys[randomInt(0, keys.length)]!;
        if ((await readThrough(randomInt(0, width), key)) !== objects.get(key)) wrong.push(key);
        reads++;
      }
    });
    try {
      await waitFor(() => redundancyProblems(before).length === 0, healTimeoutMs, 'every flipped block rewritten');
    } finally {
      healed = true;
      await Promise.all(readers);
    }
    expect(wrong).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    const report = await statusReport();
    expect(report.nodes.reduce((sum, n) => sum + (n.status?.scrub.last?.shards ?? 0), 0)).toBeGreaterThan(0);
    await expectHealthy();
  }, 300_000);

  it('case 5: every node SIGKILLed in the middle of a heal resumes its scan and repair queue after restart and finishes, with no new heal', async () => {
    const before = snapshot();
    for (const file of filesOn([3, 6])) rmSync(file.path); // two wiped drives: about 52 shards to rebuild

    const heal = await s3dAdmin(cluster, 4, ['heal']); // answers once every node saved the request
    expect(heal.code, heal.stderr).toBe(0);
    const killed = await Promise.all(cluster.nodes.map((node) => node.kill9()));
    expect(killed.every((exit) => exit.signal === 'SIGKILL')).toBe(true);
    const missingAtKill = redundancyProblems(before).length;
    await Promise.all(cluster.nodes.map((node) => node.restart()));

    await waitFor(() => redundancyProblems(before).length === 0, healTimeoutMs, `full redundancy again (${missingAtKill} problems at the kill)`);
    expect(missingAtKill).toBeGreaterThan(0); // the kill came before the heal was done
    await expectHealthy();
    await expectEveryObjectExact();
  }, 300_000);
});
