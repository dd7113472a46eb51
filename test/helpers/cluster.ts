// A real cluster for end-to-end tests: `s3d cluster init` makes the keys and configs in a temp
// dir, then each node runs as its own `s3d server --config` process (through startServer, so it
// gets a free S3 port, the test credentials and the same stop/kill/restart handles).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { shardPortOffset } from '../../src/cluster/cluster-init.js';
import type { TransportKind } from '../../src/config/schema.js';
import { run, type RunResult } from './clients.js';
import { freePort, makeTempDir, removeTempDir, repoRoot, startServer, type S3dServer } from './server.js';

export interface TestCluster {
  dir: string;
  nodes: S3dServer[];
  /** The shared CA bundle of every node's S3 endpoint. */
  caFile: string;
  dispose(): Promise<void>;
}


/**
 * Starts an `nodes`-node cluster (parity `parity`) over `transport` on 127.0.0.1. `config` holds
 * top-level config fields written into every node's config (e.g. { scrubIntervalHours: 0.0005 }).
 * `prepare` runs after the configs are made and before any node starts (node i's data dir is
 * DIR/node-i), e.g. to mount a small filesystem there.
 */
export async function startCluster(opts: { nodes: number; parity: number; transport?: TransportKind; config?: Record<string, unknown>; prepare?: (dir: string) => void }): Promise<TestCluster> {
  const dir = makeTempDir('cluster');
  const basePort = await freeBasePort(opts.nodes);
  execFileSync(process.execPath, [join(repoRoot, 'bin', 's3d'), 'cluster', 'init', '--nodes', String(opts.nodes), '--parity', String(opts.parity),
    // Two gateway workers per node (more than cluster init's default here): the cluster tests run the multi-process gateway.
    '--base-port', String(basePort), '--transport', opts.transport ?? 'quic', '--workers', '2', '--out', dir], { stdio: 'pipe' });
  const caFile = join(dir, 'tls', 'cert.pem');
  if (opts.config !== undefined) {
    for (let i = 1; i <= opts.nodes; i++) {
      const file = join(dir, `node-${i}.yaml`);
      writeFileSync(file, stringify({ ...(parse(readFileSync(file, 'utf8')) as object), ...opts.config }));
    }
  }
  opts.prepare?.(dir);
  const nodes: S3dServer[] = [];
  try {
    const started = await Promise.all(Array.from({ length: opts.nodes }, (_, i) => startServer({
      dataDir: join(dir, `node-${i + 1}`), caFile, extraArgs: ['--config', join(dir, `node-${i + 1}.yaml`)],
    })));
    nodes.push(...started);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.dispose()));
    throw err;
  }
  return {
    dir, nodes, caFile,
    async dispose() {
      await Promise.all(nodes.map((n) => n.dispose()));
      removeTempDir(dir);
    },
  };
}

/**
 * Writes a config for an intruder: node `nodeId`'s config with a freshly generated key of its own
 * (listed only in its own copy of the node list) and a new shard port. Real nodes refuse it.
 */
export async function intruderConfig(cluster: TestCluster, nodeId: string): Promise<string> {
  const config = parse(readFileSync(join(cluster.dir, `${nodeId}.yaml`), 'utf8')) as {
    dataDir: string; cluster: { keyFile: string; nodes: Array<{ id: string; port: number; publicKey: string }> };
  };
  const keyDir = makeTempDir('intruder');
  execFileSync(process.execPath, [join(repoRoot, 'bin', 's3d'), 'cluster', 'init', '--nodes', '1', '--base-port', String(await freeBasePort(1)), '--out', keyDir], { stdio: 'pipe' });
  const intruderKey = parse(readFileSync(join(keyDir, 'node-1.yaml'), 'utf8')) as { cluster: { nodes: Array<{ publicKey: string }> } };
  const me = config.cluster.nodes.find((n) => n.id === nodeId)!;
  me.publicKey = intruderKey.cluster.nodes[0]!.publicKey;
  me.port = (await freePort()) + 0;
  config.cluster.keyFile = join(keyDir, 'node-1.key');
  config.dataDir = join(keyDir, 'data');
  const file = join(keyDir, 'intruder.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** A base port P with P..P+n-1 and P+100..P+100+n-1 free on 127.0.0.1 (TCP checked). */
async function freeBasePort(n: number): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const taken = await Promise.all(Array.from({ length: n }, (_, i) => portTaken(base + shardPortOffset + i)));
    if (!taken.some(Boolean)) return base;
  }
}

async function portTaken(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

/** `s3d admin ARGS --config DIR/node-N.yaml` (a real process); never rejects on a non-zero exit. */
export async function s3dAdmin(cluster: TestCluster, node: number, args: string[], timeoutMs = 180_000): Promise<RunResult> {
  return run(process.execPath, [join(repoRoot, 'bin', 's3d'), 'admin', ...args, '--config', join(cluster.dir, `node-${node}.yaml`)], { ...process.env } as Record<string, string>, { timeoutMs });
}

/** Drive directories of every node (DIR/node-i/drive-1). */
export function clusterDrives(cluster: TestCluster): string[] {
  return cluster.nodes.map((_, i) => join(cluster.dir, `node-${i + 1}`, 'drive-1'));
}
