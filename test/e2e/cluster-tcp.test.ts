// A real 6-node cluster (4 data + 2 parity shards) on 127.0.0.1 over the plain TCP transport
// (`s3d cluster init --transport tcp`): multi-MiB objects written with the SDK and the aws cli
// through one node read back byte-identical through every node, also with a node killed and after
// it restarts (its peers' pooled connections to the dead process are dropped and re-dialed).
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsOk, s3Client } from '../helpers/clients.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { MiB, sha256File, sha256Hex, writeRandomFile } from '../helpers/files.js';
import { makeTempDir } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const bucket = 'cluster-tcp';

describe('6-node cluster over the TCP transport (4+2)', () => {
  let cluster: TestCluster;
  let clients: S3Client[];
  const expected = new Map<string, string>();

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 6, parity: 2, transport: 'tcp' });
    clients = cluster.nodes.map((node) => s3Client(node));
  }, 120_000);
  afterAll(async () => {
    for (const client of clients ?? []) client.destroy();
    await cluster?.dispose();
  });

  async function getSha(client: S3Client, key: string): Promise<string> {
    const reply = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return sha256Hex(Buffer.from(await reply.Body!.transformToByteArray()));
  }

  async function expectAllExact(through: number[]): Promise<void> {
    for (const i of through) {
      for (const [key, sha] of expected) expect(await getSha(clients[i]!, key), `${key} via node-${i + 1}`).toBe(sha);
    }
  }

  it('writes the tcp transport into every node config', () => {
    for (let i = 1; i <= 6; i++) {
      const config = parse(readFileSync(join(cluster.dir, `node-${i}.yaml`), 'utf8')) as { cluster: { transport: string } };
      expect(config.cluster.transport).toBe('tcp');
    }
  });

  it('objects put with the SDK and the aws cli through one node read back byte-identical through every node', async () => {
    await awsOk(['s3', 'mb', `s3://${bucket}`], cluster.nodes[0]!);
    const body = randomBytes(12 * MiB + 4321);
    await clients[0]!.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk/striped.bin', Body: body }));
    expected.set('sdk/striped.bin', sha256Hex(body));
    const dir = makeTempDir('cluster-tcp');
    const path = join(dir, 'multipart.bin');
    expected.set('cli/multipart.bin', await writeRandomFile(path, 20 * MiB + 7));
    await awsOk(['s3', 'cp', path, `s3://${bucket}/cli/multipart.bin`], cluster.nodes[1]!);
    const back = join(dir, 'back.bin');
    await awsOk(['s3', 'cp', `s3://${bucket}/cli/multipart.bin`, back], cluster.nodes[4]!);
    expect(await sha256File(back)).toBe(expected.get('cli/multipart.bin'));
    await expectAllExact([0, 1, 2, 3, 4, 5]);
  }, 180_000);

  it('reads stay exact and writes succeed with a node killed, and the restarted node serves again', async () => {
    await cluster.nodes[5]!.kill9();
    await expectAllExact([0, 3]);
    const body = Buffer.alloc(3 * MiB + 5, 9);
    await clients[2]!.send(new PutObjectCommand({ Bucket: bucket, Key: 'down/one', Body: body }));
    expected.set('down/one', sha256Hex(body));
    await cluster.nodes[5]!.restart();
    await waitFor(() => getSha(clients[5]!, 'sdk/striped.bin').then((sha) => sha === expected.get('sdk/striped.bin'), () => false), 30_000, 'the restarted node to read through its peers');
    await expectAllExact([5, 1]);
  }, 180_000);
});
