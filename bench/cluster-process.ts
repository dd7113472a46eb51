// Starts and stops a fresh loopback cluster for the bench: `s3d cluster init` into a temp dir on a
// free port range, one `s3d server --config DIR/node-i.yaml` child per node (so their pids can be
// sampled); the bench's client spreads requests over the nodes' S3 endpoints (load.ts BenchClient).

import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { shardPortOffset } from '../src/cluster/cluster-init.js';
import type { TransportKind } from '../src/config/schema.js';
import { logTail, spawnLogged, waitForReady, type LoggedChild } from './server-process.js';

/** Nodes and parity shards of the bench cluster (4 data + 2 parity, one shard per node). */
export const clusterNodeCount = 6;
export const clusterParityShards = 2;
/** How long every node may take to log "s3d ready"; six nodes start at once on a small machine. */
export const clusterReadyTimeoutMs = 90_000;
/** How long `s3d cluster init` may take (it makes keys and a certificate). */
export const clusterInitTimeoutMs = 60_000;
/** Base ports are drawn from [clusterBasePortMin, clusterBasePortMax); this many draws before giving up. */
export const clusterBasePortMin = 20_000;
export const clusterBasePortMax = 40_000;
export const clusterBasePortTries = 30;

const execFileAsync = promisify(execFile);

/** Node-to-node transport of the cluster (`s3d cluster init --transport`). */
export type ClusterTransport = TransportKind;

/** A cluster the bench started; stop() it exactly once. */
export interface SpawnedCluster {
  /** Node i's pid at [i - 1]. */
  pids: number[];
  /** Node i's S3 endpoint (https://127.0.0.1:<base + i - 1>) at [i - 1]. */
  endpoints: URL[];
  /** PEM of the certificate every node serves (DIR/tls/cert.pem). */
  ca: Buffer;
  /** Root credentials made by `s3d cluster init` (DIR/credentials.json). */
  accessKey: string;
  secretKey: string;
  /** The cluster dir: configs, keys, node-i/ data dirs and node-i.log. */
  dir: string;
  /** Node i's data dir (DIR/node-i) at [i - 1]. */
  dataDirs: string[];
  logPaths: string[];
  /** SIGTERM to every node at once, SIGKILL after serverStopTimeoutMs; resolves with how each ended. */
  stop: () => Promise<string[]>;
}

/** Options for startCluster. */
export interface StartClusterOptions {
  /** Path to bin/s3d. */
  binPath: string;
  transport: ClusterTransport;
  /** Parent of the fresh cluster dir; default os.tmpdir(). */
  dataDirParent: string | undefined;
  /** `cluster init --workers`: S3 gateway processes per node; undefined: the server's default (one per core). */
  workers?: number | undefined;
}

/**
 * Makes a fresh cluster with `s3d cluster init` and starts its nodes, resolving once every node logged
 * "s3d ready". Throws Error (naming the failing node's log, with its tail) when init fails, no free
 * port range is found, or a node exits or is not ready within clusterReadyTimeoutMs; the nodes started
 * so far are killed first, and the cluster dir is kept for the logs.
 */
export async function startCluster(options: StartClusterOptions): Promise<SpawnedCluster> {
  const dir = await mkdtemp(join(options.dataDirParent ?? tmpdir(), `tessera-bench-cluster-${options.transport}-`));
  const basePort = await freeBasePort();
  const args = ['cluster', 'init', '--nodes', String(clusterNodeCount), '--parity', String(clusterParityShards), '--base-port', String(basePort), '--transport', options.transport, '--out', dir,
    ...(options.workers === undefined ? [] : ['--workers', String(options.workers)])];
  try {
    await execFileAsync(process.execPath, [options.binPath, ...args], { timeout: clusterInitTimeoutMs });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`\`s3d ${args.join(' ')}\` failed: ${stderr !== undefined && stderr !== '' ? stderr : (err as Error).message}`);
  }
  const credentials = JSON.parse(await readFile(join(dir, 'credentials.json'), 'utf8')) as { accessKey: string; secretKey: string };
  const ca = await readFile(join(dir, 'tls', 'cert.pem'));
  const nodeNumbers = Array.from({ length: clusterNodeCount }, (_, i) => i + 1);
  const logPaths = nodeNumbers.map((n) => join(dir, `node-${n}.log`));
  // The nodes read their credentials from their configs; an S3D_* variable in the bench's environment would override them.
  const env = { S3D_ACCESS_KEY: credentials.accessKey, S3D_SECRET_KEY: credentials.secretKey };
  const nodes: LoggedChild[] = [];
  try {
    for (const n of nodeNumbers) nodes.push(spawnLogged(options.binPath, ['server', '--config', join(dir, `node-${n}.yaml`)], env, logPaths[n - 1] ?? ''));
    await Promise.all(nodes.map((node, i) => waitForNode(node, logPaths[i] ?? '', i + 1)));
  } catch (err) {
    await Promise.all(nodes.map((node) => node.kill()));
    throw err;
  }
  return {
    pids: nodes.map((node) => node.pid),
    endpoints: nodeNumbers.map((n) => new URL(`https://127.0.0.1:${basePort + n - 1}`)),
    ca,
    accessKey: credentials.accessKey,
    secretKey: credentials.secretKey,
    dir,
    dataDirs: nodeNumbers.map((n) => join(dir, `node-${n}`)),
    logPaths,
    stop: () => Promise.all(nodes.map((node) => node.stop())),
  };
}

async function waitForNode(node: LoggedChild, logPath: string, nodeNumber: number): Promise<void> {
  try {
    await waitForReady(logPath, node.exitedHow, clusterReadyTimeoutMs);
  } catch (err) {
    throw new Error(`node ${nodeNumber}: ${(err as Error).message}; log ${logPath}:\n${logTail(logPath)}`);
  }
}

/**
 * Removes the cluster dir; when `keepLogs`, removes only the nodes' data dirs (objects can run to
 * gigabytes) and keeps configs and logs.
 */
export async function removeCluster(cluster: Pick<SpawnedCluster, 'dir'>, keepLogs: boolean): Promise<void> {
  if (!keepLogs) {
    await rm(cluster.dir, { recursive: true, force: true });
    return;
  }
  for (let n = 1; n <= clusterNodeCount; n++) await rm(join(cluster.dir, `node-${n}`), { recursive: true, force: true });
}

/**
 * A base port P whose S3 ports P..P+5 (TCP) and shard ports P+100..P+105 (TCP for TLS and TCP, UDP for QUIC)
 * were all free a moment ago. Drawn at random so parallel runs and hand-started clusters rarely collide.
 * Throws Error after clusterBasePortTries draws.
 */
export async function freeBasePort(): Promise<number> {
  for (let attempt = 0; attempt < clusterBasePortTries; attempt++) {
    const base = clusterBasePortMin + Math.floor(Math.random() * (clusterBasePortMax - clusterBasePortMin));
    const s3Ports = Array.from({ length: clusterNodeCount }, (_, i) => base + i);
    const shardPorts = s3Ports.map((port) => port + shardPortOffset);
    const free = await Promise.all([...s3Ports, ...shardPorts].map(tcpPortFree));
    if (free.every(Boolean) && (await Promise.all(shardPorts.map(udpPortFree))).every(Boolean)) return base;
  }
  throw new Error(`no free range of ${clusterNodeCount} S3 and shard ports in ${clusterBasePortMin}..${clusterBasePortMax} after ${clusterBasePortTries} tries`);
}

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}
