// `s3d cluster init`: makes everything a cluster needs to start: one Ed25519 key per node, one
// shared S3 certificate and credentials, and DIR/node-i.yaml per node listing every node's
// public key, so `s3d server --config DIR/node-i.yaml` starts node i.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { clusterNodesMax, type TransportKind } from '../config/schema.js';
import { generateNodeKey } from '../transport/identity.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { TesseraError } from '../util/errors.js';
import { gatewayWorkersMax } from '../util/limits.js';
import { ensureCredentials } from './credentials.js';
import { ensureCertificate } from './tls-certificate.js';

export interface ClusterInitOptions {
  /** Number of nodes, 1..clusterNodesMax. */
  nodes: number;
  /** Output directory (created); it must not already hold node configs. */
  outDir: string;
  /** Node i serves S3 over HTTPS on basePort + i - 1 and its shard server on basePort + 100 + i - 1. */
  basePort: number;
  /** Parity shards per stripe; default: 2 for 4 or more nodes, 1 for 2-3, 0 for 1. */
  parityShards?: number;
  /** Host every node listens on and peers dial. Default 127.0.0.1 (a loopback cluster). */
  host: string;
  /** Node-to-node transport written into every config (see the schema's cluster.transport). */
  transport: TransportKind;
  /**
   * S3 gateway processes per node written into every config. Default: the machine's cores shared
   * among the nodes, at least 1 (clusterWorkersDefault), as every node of it runs on this host.
   */
  workers?: number;
}

/**
 * Gateway workers per node when `nodes` nodes share this machine: its cores divided among them,
 * at least 1 (six nodes on two cores: 1; a node alone keeps the per-core default).
 */
export function clusterWorkersDefault(nodes: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(Math.min(cores, gatewayWorkersMax) / nodes));
}

/** Offset from an S3 port to the same node's shard server port. */
export const shardPortOffset = 100;

export interface ClusterInitResult {
  configFiles: string[];
  endpoints: string[];
  certFile: string;
  accessKey: string;
  secretKey: string;
  dataShards: number;
  parityShards: number;
}

/** Default parity for a cluster of `nodes` (4+2 for six nodes, 2+1 for three). */
export function defaultClusterParity(nodes: number): number {
  if (nodes >= 4) return 2;
  return nodes >= 2 ? 1 : 0;
}

/**
 * Writes DIR/node-i.key (mode 0600), DIR/tls/{cert,key}.pem, DIR/credentials.json and
 * DIR/node-i.yaml (mode 0600: it holds the credentials) for i = 1..nodes.
 * Throws InvalidConfig for a bad node count, parity or port range, or when DIR already holds
 * node configs (so a running cluster's keys are never replaced).
 */
export async function initCluster(options: ClusterInitOptions): Promise<ClusterInitResult> {
  const { nodes, basePort, host } = options;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > clusterNodesMax) {
    throw new TesseraError('InvalidConfig', `--nodes must be 1 to ${clusterNodesMax} (got ${nodes})`);
  }
  const parityShards = options.parityShards ?? defaultClusterParity(nodes);
  const dataShards = nodes - parityShards;
  if (parityShards < 0 || dataShards < 1 || parityShards > dataShards) {
    throw new TesseraError('InvalidConfig', `--parity must be 0..${Math.floor(nodes / 2)} for ${nodes} nodes (got ${parityShards})`);
  }
  if (basePort < 1 || basePort + shardPortOffset + nodes - 1 > 65_535) {
    throw new TesseraError('InvalidConfig', `--base-port ${basePort} leaves no room for ${nodes} S3 and shard ports below 65536`);
  }
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  const existing = (await readdir(outDir)).filter((name) => /^node-\d+\.(yaml|key)$/.test(name));
  if (existing.length > 0) {
    throw new TesseraError('InvalidConfig', `${outDir} already holds ${existing[0]}; refusing to replace a cluster's keys (use a new --out directory)`);
  }

  const credentials = await ensureCredentials(outDir, {});
  const tls = await ensureCertificate(outDir, [host, '*.s3.localhost']);
  const keys = [];
  for (let i = 1; i <= nodes; i++) {
    const key = generateNodeKey();
    const keyFile = join(outDir, `node-${i}.key`);
    await writeFileAtomic(keyFile, key.privateKeyPem, 0o600);
    keys.push({ id: `node-${i}`, keyFile, publicKey: key.publicKey, s3Port: basePort + i - 1, port: basePort + shardPortOffset + i - 1 });
  }
  const clusterNodes = keys.map((k) => ({ id: k.id, host, port: k.port, s3Port: k.s3Port, publicKey: k.publicKey }));
  const configFiles: string[] = [];
  for (const [index, key] of keys.entries()) {
    const config = {
      dataDir: join(outDir, key.id),
      address: host,
      port: key.s3Port,
      workers: options.workers ?? clusterWorkersDefault(options.nodes),
      tls: { certFile: tls.certFile, keyFile: tls.keyFile },
      credentials: { accessKey: credentials.accessKey, secretKey: credentials.secretKey },
      cluster: {
        nodeId: key.id,
        keyFile: key.keyFile,
        transport: options.transport,
        parityShards,
        dataShards,
        layoutVersion: 1,
        nodes: clusterNodes,
      },
    };
    const header = [
      `# Tessera node ${index + 1} of ${nodes}, made by \`s3d cluster init\`. Start it with:`,
      `#   s3d server --config ${join(outDir, `${key.id}.yaml`)}`,
      '# Every node lists the same nodes, keys and credentials; field docs: configs/cluster-6-nodes.yaml.',
      '',
    ].join('\n');
    const file = join(outDir, `${key.id}.yaml`);
    await writeFileAtomic(file, `${header}${stringify(config)}`, 0o600);
    configFiles.push(file);
  }
  await writeFile(join(outDir, 'endpoints.txt'), `${keys.map((k) => `https://${host}:${k.s3Port}`).join('\n')}\n`);
  return {
    configFiles,
    endpoints: keys.map((k) => `https://${host}:${k.s3Port}`),
    certFile: tls.certFile,
    accessKey: credentials.accessKey,
    secretKey: credentials.secretKey,
    dataShards,
    parityShards,
  };
}

export interface ClusterAddNodeResult {
  nodeId: string;
  configFile: string;
  endpoint: string;
}

/**
 * `s3d cluster add-node`: makes the next node of the cluster in `outDir` (as `s3d cluster init`
 * made it): node-N+1's key and config, listing every node of DIR/node-1.yaml plus itself with
 * weight 0, so it starts as a member that holds no data. It joins the layout with
 * `s3d admin layout add-node --node-config <its config>` and `apply`. Its S3 and shard ports
 * follow the last node's. Throws InvalidConfig when DIR has no node-1.yaml or the ports run out.
 */
export async function addClusterNode(outDir: string): Promise<ClusterAddNodeResult> {
  const names = (await readdir(outDir).catch(() => [] as string[])).filter((n) => /^node-\d+\.yaml$/.test(n));
  if (!names.includes('node-1.yaml')) throw new TesseraError('InvalidConfig', `${outDir} holds no node-1.yaml: make the cluster with s3d cluster init first`);
  const base = parse(await readFile(join(outDir, 'node-1.yaml'), 'utf8')) as {
    address: string; cluster: { nodes: Array<{ id: string; host: string; port: number; s3Port?: number; publicKey: string; weight?: number }> } & Record<string, unknown>;
  } & Record<string, unknown>;
  const index = Math.max(...names.map((n) => Number(/\d+/.exec(n)![0]))) + 1;
  const nodeId = `node-${index}`;
  const last = base.cluster.nodes[base.cluster.nodes.length - 1]!;
  const s3Port = Math.max(...base.cluster.nodes.map((n) => n.s3Port ?? 0)) + 1;
  const port = Math.max(...base.cluster.nodes.map((n) => n.port)) + 1;
  if (s3Port > 65_535 || port > 65_535) throw new TesseraError('InvalidConfig', `no free port after ${last.id}'s`);
  const key = generateNodeKey();
  const keyFile = join(resolve(outDir), `${nodeId}.key`);
  await writeFileAtomic(keyFile, key.privateKeyPem, 0o600);
  const config = {
    ...base,
    dataDir: join(resolve(outDir), nodeId),
    port: s3Port,
    cluster: {
      ...base.cluster,
      nodeId,
      keyFile,
      nodes: [...base.cluster.nodes, { id: nodeId, host: last.host, port, s3Port, publicKey: key.publicKey, weight: 0 }],
    },
  };
  const header = [
    `# Tessera ${nodeId}, made by \`s3d cluster add-node\`: a member with weight 0 (it holds no data yet).`,
    `#   s3d server --config ${join(outDir, `${nodeId}.yaml`)}`,
    `#   s3d admin layout add-node --node-config ${join(outDir, `${nodeId}.yaml`)} --config ${join(outDir, 'node-1.yaml')}`,
    `#   s3d admin layout apply --config ${join(outDir, 'node-1.yaml')}`,
    '',
  ].join('\n');
  const configFile = join(outDir, `${nodeId}.yaml`);
  await writeFileAtomic(configFile, `${header}${stringify(config)}`, 0o600);
  const endpoint = `https://${base.address}:${s3Port}`;
  await writeFile(join(outDir, 'endpoints.txt'), `${endpoint}\n`, { flag: 'a' });
  return { nodeId, configFile, endpoint };
}
