// Issue 5's acceptance cases 4, 5 (rebalance) and 3 with real `s3d` processes: a 6-node 4+2
// cluster over QUIC grows to 7 nodes with `s3d cluster add-node` and `s3d admin layout add-node` /
// `apply`; shards move until every node holds its fair share, while reads and writes go on and two
// nodes are SIGKILLed and restarted in the middle of the move. Then a node is killed for good and
// removed from the layout: its shards are rebuilt on the others and no object is lost. Every object
// is striped (inlineObjectMaxBytes 0), so 420 small objects give 2,520 shard files to count.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../src/cli/admin.js';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { blockSizeDefaultBytes } from '../../src/util/limits.js';
import { s3Client } from '../helpers/clients.js';
import { s3dAdmin, startCluster, type TestCluster } from '../helpers/cluster.js';
import { badRecords, listShardFiles, shardsByDataId } from '../helpers/drives.js';
import { repoRoot, startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const bucket = 'moving';
const objectCount = 420;
const shardBlockBytes = blockSizeDefaultBytes / 4;
/** How long a move of a few thousand small shards may take on a loaded 2-core machine. */
const moveTimeoutMs = 240_000;
/** The gc retries a deletion that failed (its node was down) after 30 s. */
const gcSettleMs = 150_000;

/** Waits up to gcSettleMs for `done`; the assertions after it say what is off when it never is. */
async function settle(done: () => boolean): Promise<void> {
  await waitFor(done, gcSettleMs, 'the shard files to settle').catch(() => undefined);
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

let cluster: TestCluster;
/** Client per node number (1-based); a node removed from the layout keeps its slot. */
const clients = new Map<number, S3Client>();
/** key -> sha256 of the body. */
const objects = new Map<string, string>();

function drive(node: number): string {
  return join(cluster.dir, `node-${node}`, 'drive-1');
}

/** Shard files per node number. */
function shardCounts(nodes: number[]): Map<number, number> {
  return new Map(nodes.map((n) => [n, listShardFiles([drive(n)]).length]));
}

async function put(node: number, key: string): Promise<void> {
  const body = randomBytes(randomInt(1, 3000));
  await clients.get(node)!.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  objects.set(key, sha256(body));
}

async function get(node: number, key: string): Promise<string> {
  const reply = await clients.get(node)!.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256(await reply.Body!.transformToByteArray());
}

async function report(node: number): Promise<{ code: number | null; report: ClusterReport }> {
  const status = await s3dAdmin(cluster, node, ['status', '--json']);
  return { code: status.code, report: JSON.parse(status.stdout) as ClusterReport };
}

/**
 * Waits until every node answers with no move in progress (the previous layout retired) and no
 * repair queued (writes made while a node was down reached their write quorum only, and the
 * reconstructor completes them within its retry delay).
 */
async function waitForMoveDone(node: number, version: number): Promise<void> {
  await waitFor(async () => {
    const { code, report: r } = await report(node);
    return code === 0 && r.nodes.every((n) => n.status !== undefined && n.status.layoutVersion === version && n.status.previousLayoutVersion === undefined);
  }, moveTimeoutMs, `layout ${version} with no move in progress and no repair queued on every node`);
}

/** Reads and writes through random nodes of `nodes` until stopped; returns what went wrong (a wrong byte or a failed request). */
function trafficDuring(nodes: number[]): { stop(): Promise<{ reads: number; writes: number; wrong: string[] }> } {
  let stopping = false;
  const wrong: string[] = [];
  let reads = 0;
  let writes = 0;
  const keys = [...objects.keys()];
  const reader = (async () => {
    while (!stopping) {
      const key = keys[randomInt(0, keys.length)]!;
      const digest = await get(nodes[randomInt(0, nodes.length)]!, key).catch((err: Error) => `${err.name}: ${err.message}`);
      if (digest !== objects.get(key)) wrong.push(`${key}: ${digest}`);
      reads++;
    }
  })();
  const writer = (async () => {
    while (!stopping) {
      await put(nodes[randomInt(0, nodes.length)]!, `during/${writes}`).catch((err: Error) => wrong.push(`PUT during/${writes}: ${err.name}: ${err.message}`));
      writes++;
    }
  })();
  return {
    async stop() {
      stopping = true;
      await Promise.all([reader, writer]);
      return { reads, writes, wrong };
    },
  };
}

beforeAll(async () => {
  await initBitrot();
  cluster = await startCluster({ nodes: 6, parity: 2, config: { inlineObjectMaxBytes: 0, scanIntervalHours: 0 } });
  cluster.nodes.forEach((node, i) => clients.set(i + 1, s3Client(node)));
  await clients.get(1)!.send(new CreateBucketCommand({ Bucket: bucket }));
  const writers = Array.from({ length: 6 }, async (_, w) => {
    for (let i = w; i < objectCount; i += 6) await put(w + 1, `objects/${String(i).padStart(4, '0')}`);
  });
  await Promise.all(writers);
}, 300_000);

afterAll(async () => {
  for (const client of clients.values()) client.destroy();
  await cluster?.dispose();
});

describe('moving data when the layout changes (6-node 4+2 cluster)', () => {
  it('case 4 and 5: a 7th node gets its fair share within 10% while reads and writes stay exact and two nodes restart mid-move', async () => {
    execFileSync(process.execPath, [join(repoRoot, 'bin', 's3d'), 'cluster', 'add-node', '--dir', cluster.dir], { stdio: 'pipe' });
    const seventh = await startServer({ dataDir: join(cluster.dir, 'node-7'), caFile: cluster.caFile, extraArgs: ['--config', join(cluster.dir, 'node-7.yaml')] });
    cluster.nodes.push(seventh);
    clients.set(7, s3Client(seventh));
    const stage = await s3dAdmin(cluster, 1, ['layout', 'add-node', '--node-config', join(cluster.dir, 'node-7.yaml')]);
    expect(stage.code, stage.stderr).toBe(0);
    expect(stage.stdout).toContain('+ node-7');

    const apply = await s3dAdmin(cluster, 2, ['layout', 'apply']);
    expect(apply.code, apply.stderr).toBe(0);
    expect(apply.stdout).toContain('layout 2 applied on 7 of 7 nodes');
    const traffic = trafficDuring([1, 3, 4, 6, 7]); // through the nodes that stay up
    // Case 5: two nodes die in the middle of the move and come back; their share resumes.
    await cluster.nodes[1]!.kill9();
    await cluster.nodes[4]!.kill9();
    await cluster.nodes[1]!.restart();
    await cluster.nodes[4]!.restart();
    await waitForMoveDone(3, 2);
    const during = await traffic.stop();
    expect(during.wrong).toEqual([]);
    expect(during.reads).toBeGreaterThan(0);
    expect(during.writes).toBeGreaterThan(0);

    // Old copies on a node that was down when they were to be deleted go at the gc's next try (30 s).
    const all = [1, 2, 3, 4, 5, 6, 7];
    await settle(() => listShardFiles(all.map(drive)).length === objects.size * 6);
    const counts = shardCounts(all);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(objects.size * 6);
    const fair = total / 7;
    for (const [node, count] of counts) expect(Math.abs(count - fair) / fair, `node-${node}: ${count} shards, fair share ${fair.toFixed(1)}`).toBeLessThanOrEqual(0.1);
    for (const [key, digest] of objects) expect(await get(randomInt(1, 8), key), key).toBe(digest);
    const { code, report: r } = await report(7);
    expect(r.problems).toEqual([]);
    expect(code).toBe(0);
    expect(r.nodes.map((n) => n.nodeId)).toEqual(['node-1', 'node-2', 'node-3', 'node-4', 'node-5', 'node-6', 'node-7']);
    expect(r.nodes.reduce((sum, n) => sum + (n.status?.rebalance.shardsMoved ?? 0), 0)).toBeGreaterThan(0);
  }, 600_000);

  it('case 3: a node killed for good and removed from the layout has all its shards rebuilt on the others; no object is lost', async () => {
    await cluster.nodes[2]!.kill9(); // node-3, for good
    const stage = await s3dAdmin(cluster, 1, ['layout', 'remove-node', 'node-3']);
    expect(stage.code, stage.stderr).toBe(0);
    const apply = await s3dAdmin(cluster, 1, ['layout', 'apply']);
    expect(apply.code, apply.stderr).toBe(0);
    await waitForMoveDone(1, 3);

    const remaining = [1, 2, 4, 5, 6, 7];
    await settle(() => listShardFiles(remaining.map(drive)).length === objects.size * 6);
    const files = listShardFiles(remaining.map(drive));
    const groups = shardsByDataId(files);
    expect(groups.size).toBe(objects.size);
    for (const [dataId, group] of groups) expect(group.map((f) => f.shardIndex).join(','), dataId).toBe('0,1,2,3,4,5');
    expect(files.filter((f) => badRecords(f, shardBlockBytes).length > 0)).toEqual([]);
    for (const [key, digest] of objects) expect(await get(remaining[randomInt(0, remaining.length)]!, key), key).toBe(digest);
    const { code, report: r } = await report(5);
    expect(r.problems).toEqual([]);
    expect(code).toBe(0);
    expect(r.nodes.map((n) => n.nodeId)).not.toContain('node-3');
  }, 600_000);
});
