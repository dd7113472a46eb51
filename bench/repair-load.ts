// Repair under client load (issue 13, "Repair yields to clients"): a 1 MiB GET workload at
// concurrency 4 over every node's S3 endpoint, once with no repair running (the baseline) and once while
// `s3d admin heal --wait` (normal priority) rebuilds a second node's lost disk; p99 of both, their
// ratio, and the rebuild rate under load. The GETs check like every bench cell (load.ts): length and
// the object's own prefix always, every byte of one in verifyContentEvery.

import { randomBytes } from 'node:crypto';
import { verifyContentEvery } from './cells.js';
import type { SpawnedCluster } from './cluster-process.js';
import { BenchClient, putObjects, runCell, type CellMeasurement, type CellSpec } from './load.js';
import {
  adminStatus, healRounds, listShardFiles, loseDisk, redundancyProblems, repairCommandGraceMs, repairCounters, repairHealRoundsMax,
  repairHealTimeoutSeconds, repairProgress, subtractCounters, sumOf, totalBytes, healFigures, type HealFigures, type RepairCounters, type ShardFile,
} from './repair-cluster.js';
import type { LoggedChild } from './server-process.js';

const MiB = 1024 * 1024;

/** The GET workload: this many objects of this size, read in turn by this many closed-loop workers. */
export const repairLoadObjects = 64;
export const repairLoadObjectBytes = 1 * MiB;
export const repairLoadConcurrency = 4;
/** PUTs in flight while writing the GET objects. */
export const repairLoadPutConcurrency = 4;
/** The baseline's measured window, in ms: full run and --quick. */
export const repairLoadWindowMs = 6_000;
export const repairLoadWindowQuickMs = 1_500;
/** Unmeasured warm-up before each window, in ms (connections up, the restarted node's first requests). */
export const repairLoadWarmupMs = 400;
/** The node whose disk the second phase loses (1-based; another node than the first phase's). */
export const repairLoadLostNode = 4;
/**
 * The window under repair ends when the heal command exits; this only bounds it should the command
 * hang (it is killed by then: repairHealTimeoutSeconds, then repairCommandGraceMs).
 */
const repairLoadWindowMaxMs = repairHealTimeoutSeconds * 1000 * repairHealRoundsMax + repairCommandGraceMs;

/** The objects the workload reads: keys in `bucket`, all with `payload`'s bytes after their own 16-byte prefix. */
export interface GetSet {
  bucket: string;
  keys: string[];
  payload: Buffer;
}

/** One measured window of the GET workload. MB = 10^6 bytes. */
export interface GetLoadFigures {
  objects: number;
  objectBytes: number;
  concurrency: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  /** GETs completed inside the window, and how many of them had every byte compared. */
  ops: number;
  contentVerifiedOps: number;
  megabytesPerSecond: number;
  /** Nearest-rank latency percentiles and maximum of the GETs completed inside the window, in ms (0 when none). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The second phase: another node's disk lost after the first heal, healed while the GET workload runs. */
export interface RepairUnderLoad extends HealFigures {
  lostNode: number;
  lostShardFiles: number;
  lostShardBytes: number;
  /** SIGKILL to the restarted node's "s3d ready", in seconds. */
  restartSeconds: number;
  /** The workload from the heal's start to the exit of its first command. */
  duringRepair: GetLoadFigures;
  /** duringRepair.p99Ms / the baseline's p99Ms; undefined when either window completed no GET. */
  p99Ratio: number | undefined;
}

/** A BenchClient over every node's S3 endpoint of `cluster` with its root credentials; close() it. */
export function clusterClient(cluster: SpawnedCluster, connections: number): BenchClient {
  const credentials = { accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: 'us-east-1' };
  return new BenchClient({ endpoints: cluster.endpoints, credentials, ca: cluster.ca, connections });
}

/** PUTs the workload's repairLoadObjects objects into `bucket` (which exists). Throws LoadError. */
export async function writeGetSet(cluster: SpawnedCluster, bucket: string): Promise<GetSet> {
  const getSet: GetSet = { bucket, keys: Array.from({ length: repairLoadObjects }, (_, i) => `get/${i}`), payload: randomBytes(repairLoadObjectBytes) };
  const client = clusterClient(cluster, repairLoadPutConcurrency);
  try {
    await putObjects(client, bucket, getSet.keys, getSet.payload, repairLoadPutConcurrency);
  } finally {
    await client.close();
  }
  return getSet;
}

/**
 * Runs the GET workload for a warm-up and a window of `windowMs` (or until `window.windowEnd` aborts),
 * with `window.onWindow` at its edges. A failed GET ends it and is the measurement's `error`.
 */
export async function runGetLoad(cluster: SpawnedCluster, getSet: GetSet, window: Pick<CellSpec, 'windowMs' | 'onWindow' | 'windowEnd'>): Promise<CellMeasurement> {
  const spec: CellSpec = {
    op: 'GET', bucket: getSet.bucket, sizeBytes: getSet.payload.length, concurrency: repairLoadConcurrency, warmupMs: repairLoadWarmupMs,
    newKey: (i) => `get/unused/${i}`, readKeys: getSet.keys, onStored: undefined, verifyContentEvery, listPrefix: '', listKeyCount: 0, ...window,
  };
  const client = clusterClient(cluster, repairLoadConcurrency);
  try {
    return await runCell(client, spec, getSet.payload);
  } finally {
    await client.close();
  }
}

// What a heal that failed under load had done: the GETs' p99 and the shards rebuilt until then.
async function soFar(binPath: string, cluster: SpawnedCluster, baseline: readonly RepairCounters[], getSet: GetSet, during: CellMeasurement): Promise<string> {
  const f = getLoadFigures(getSet, during);
  const gets = `meanwhile ${f.ops} GETs in ${f.seconds.toFixed(1)} s, p99 ${f.p99Ms.toFixed(1)} ms`;
  try {
    const counters = subtractCounters(repairCounters(await adminStatus(binPath, cluster.dir)), baseline);
    return `${gets}; ${sumOf(counters, 'rebuilt')} shards rebuilt (${(sumOf(counters, 'rebuiltBytes') / MiB).toFixed(1)} MiB)`;
  } catch (err) {
    return `${gets}; rebuilt shards unknown: ${(err as Error).message}`;
  }
}

/** The figures of one window of the GET workload over `getSet`. */
export function getLoadFigures(getSet: GetSet, m: CellMeasurement): GetLoadFigures {
  return {
    objects: getSet.keys.length, objectBytes: getSet.payload.length, concurrency: repairLoadConcurrency, seconds: m.elapsedMs / 1000,
    ops: m.ops, contentVerifiedOps: m.contentVerifiedOps, megabytesPerSecond: m.megabytesPerSecond, p50Ms: m.p50Ms, p99Ms: m.p99Ms, maxMs: m.maxMs,
  };
}

/**
 * The second phase, on a cluster at full redundancy whose shard files are `files`: loses node
 * repairLoadLostNode's disk (its process `pid`; `onRestarted` gets the new one to stop later), starts
 * the GET workload, starts `s3d admin heal --wait` when the workload's window starts and ends the
 * window when the heal command exits, then checks full redundancy from the files as the first phase
 * does. Returns the figures and the redundancy problems (empty when proven). Throws Error when a GET
 * fails (after the heal ended), the heal fails (with the GETs' p99 and the shards rebuilt until
 * then), or the node does not come back.
 */
export async function repairUnderLoad(
  binPath: string,
  cluster: SpawnedCluster,
  pid: number,
  getSet: GetSet,
  files: readonly ShardFile[],
  baseline: GetLoadFigures | undefined,
  onRestarted: (child: LoggedChild) => void,
): Promise<{ underLoad: RepairUnderLoad; problems: string[] }> {
  const loss = await loseDisk(binPath, cluster, repairLoadLostNode, pid, files);
  onRestarted(loss.restarted);
  repairProgress(`GET ${repairLoadObjectBytes / MiB} MiB c${repairLoadConcurrency} while \`s3d admin heal --wait\` runs (node ${repairLoadLostNode} ready after ${loss.restartSeconds.toFixed(1)} s)...`);
  const healExited = new AbortController();
  let heal: ReturnType<typeof healRounds> | undefined;
  const onWindow = (edge: 'start' | 'end'): void => {
    if (edge !== 'start') return;
    heal = healRounds(binPath, cluster.dir, loss.countersBaseline, () => healExited.abort());
    // Awaited below; this keeps a failure from counting as unhandled meanwhile, and ends the window on it too.
    heal.catch(() => healExited.abort());
  };
  const during = await runGetLoad(cluster, getSet, { windowMs: repairLoadWindowMaxMs, onWindow, windowEnd: healExited.signal });
  if (heal === undefined) throw new Error(`GET failed before the heal started: ${during.error?.code ?? ''} ${during.error?.message ?? 'no window'}`);
  const healed = await heal.catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message} (${await soFar(binPath, cluster, loss.countersBaseline, getSet, during)})`);
  });
  if (during.error !== undefined) throw new Error(`GET failed during the heal: ${during.error.code} ${during.error.message}`);
  const problems = await redundancyProblems(files, await listShardFiles(cluster.dir), loss.lostHashes);
  const duringRepair = getLoadFigures(getSet, during);
  const underLoad: RepairUnderLoad = {
    lostNode: repairLoadLostNode,
    lostShardFiles: loss.lostFiles.length,
    lostShardBytes: totalBytes(loss.lostFiles),
    restartSeconds: loss.restartSeconds,
    duringRepair,
    p99Ratio: baseline === undefined || baseline.ops === 0 || duringRepair.ops === 0 ? undefined : duringRepair.p99Ms / baseline.p99Ms,
    ...healFigures(healed, loss.countersBaseline, loss.killedAt),
  };
  return { underLoad, problems };
}
