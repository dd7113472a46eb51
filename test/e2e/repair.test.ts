// Repair with real `s3d` processes. In a 6-node 4+2 cluster (issue 5, acceptance case 6): an object
// written while two nodes are down reaches only its write quorum (4 shard files); once the nodes
// return, the gateway's reconstructor rebuilds the 2 missed shards, `s3d admin status` says
// healthy, and the object survives two other nodes going down. On one node with 6 drives and a fast scrub cadence from the config file:
// flipped bytes nobody reads are found by scrub and rewritten.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { ClusterReport } from '../../src/cli/admin.js';
import { s3dAdmin, startCluster } from '../helpers/cluster.js';
import { drivesArgs, listShardFiles, makeDrives } from '../helpers/drives.js';
import { makeTempDir, startServer } from '../helpers/server.js';
import { s3Client } from '../helpers/clients.js';

const MiB = 1024 * 1024;
/** The gateway retries a failed repair after repairRetryDelayMs (30 s); rebuilding 2 MiB is quick. */
const fullWidthTimeoutMs = 120_000;

/** Shard files on every node of the cluster in `dir` (node-i/drive-1/shards/xx/<dataId>.<index>). */
function shardFileCount(dir: string, nodes: number): number {
  let count = 0;
  for (let i = 1; i <= nodes; i++) {
    const shards = join(dir, `node-${i}`, 'drive-1', 'shards');
    for (const prefix of readdirSync(shards, { withFileTypes: true })) {
      if (prefix.isDirectory()) count += readdirSync(join(shards, prefix.name)).length;
    }
  }
  return count;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('reconstructor in a 6-node cluster (4+2)', () => {
  it('completes a write that reached only its write quorum to full width once the missed nodes return', async () => {
    const cluster = await startCluster({ nodes: 6, parity: 2 });
    const clients = cluster.nodes.map((node) => s3Client(node));
    try {
      const [gateway] = clients;
      await gateway!.send(new CreateBucketCommand({ Bucket: 'heal' }));
      await cluster.nodes[2]!.kill9();
      await cluster.nodes[4]!.kill9();
      const body = randomBytes(2 * MiB + 777); // striped: one shard file per node
      await gateway!.send(new PutObjectCommand({ Bucket: 'heal', Key: 'partial', Body: body }));
      expect(shardFileCount(cluster.dir, 6)).toBe(4); // the write quorum only

      await cluster.nodes[2]!.restart();
      await cluster.nodes[4]!.restart();
      const deadline = Date.now() + fullWidthTimeoutMs;
      while (shardFileCount(cluster.dir, 6) < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
      expect(shardFileCount(cluster.dir, 6)).toBe(6);
      const status = await s3dAdmin(cluster, 1, ['status', '--json']);
      expect(status.code, status.stdout).toBe(0);
      expect((JSON.parse(status.stdout) as ClusterReport).healthy).toBe(true);

      // Full redundancy: two nodes that held shards from the start go down, and the object still reads exactly.
      await cluster.nodes[1]!.kill9();
      await cluster.nodes[5]!.kill9();
      const reply = await gateway!.send(new GetObjectCommand({ Bucket: 'heal', Key: 'partial' }));
      expect(sha256(await reply.Body!.transformToByteArray())).toBe(sha256(body));
    } finally {
      for (const client of clients) client.destroy();
      await cluster.dispose();
    }
  }, 240_000);
});

describe('scrub on one node with 6 drives (4+2)', () => {
  it('finds flipped bytes in shard files nobody reads and rewrites them (scrubIntervalHours from the config)', async () => {
    const drives = makeDrives(6, 'scrub-drives');
    const configFile = join(makeTempDir('scrub-config'), 'node.yaml');
    writeFileSync(configFile, 'scrubIntervalHours: 0.0005\n'); // a cycle every 1.8 s
    const server = await startServer({ extraArgs: ['--config', configFile, ...drivesArgs(drives.paths, 2)] });
    const client = s3Client(server);
    try {
      await client.send(new CreateBucketCommand({ Bucket: 'scrub' }));
      const body = randomBytes(3 * MiB + 5);
      await client.send(new PutObjectCommand({ Bucket: 'scrub', Key: 'quiet', Body: body }));
      const files = listShardFiles(drives.paths);
      expect(files).toHaveLength(6);
      const originals = files.map((file) => readFileSync(file.path));
      for (const index of [1, 4]) {
        const damaged = Buffer.from(originals[index]!);
        damaged[100] = damaged[100]! ^ 0xff; // inside stripe 0's block
        writeFileSync(files[index]!.path, damaged);
      }
      const deadline = Date.now() + 60_000;
      const healed = (): boolean => files.every((file, i) => readFileSync(file.path).equals(originals[i]!));
      while (!healed() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      expect(healed()).toBe(true);
      const reply = await client.send(new GetObjectCommand({ Bucket: 'scrub', Key: 'quiet' }));
      expect(sha256(await reply.Body!.transformToByteArray())).toBe(sha256(body));
    } finally {
      client.destroy();
      await server.dispose();
    }
  }, 120_000);
});
