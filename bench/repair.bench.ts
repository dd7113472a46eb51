// Repair bench (issue 5, "Figures"): a fresh 6-node 4+2 QUIC cluster gets a known amount of data, then
// node 3's disk loses every shard file (SIGKILL, wipe, restart) and the operator runs `s3d admin heal
// --wait`. Reports rebuild MB/s and the time from the loss to full redundancy, proven from the files:
// every data item has shards 0..k+m-1 again, total shard bytes are back, node 3's files are
// byte-identical to the lost ones. Standalone: `node dist/bench/repair.bench.js [--quick] [--data-mib N]`.

import { Command, InvalidArgumentError } from 'commander';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ClusterReport } from '../src/cli/admin.js';
import { assert } from '../src/util/assert.js';
import { clusterNodeCount, clusterParityShards, clusterReadyTimeoutMs, startCluster, type SpawnedCluster } from './cluster-process.js';
import { BenchClient, putObjects } from './load.js';
import { megabytesPerSecond } from './report.js';
import { findRepoRoot, logTail, spawnLogged, waitForReady, type LoggedChild } from './server-process.js';

const MiB = 1024 * 1024;

/** Data written before the loss, in MiB: full run and --quick. */
export const repairDataMibDefault = 512;
export const repairDataMibQuick = 128;
/** Object size in MiB: well above the 128 KiB inline limit, so every object is k + m shard files. */
export const repairObjectMib = 16;
/** PUTs in flight while writing the data (round-robin over the nodes). */
export const repairPutConcurrency = 4;
/** The node whose disk is lost (1-based). */
export const repairLostNode = 3;
/** `s3d admin heal --timeout`, in seconds; the command is killed this much later still (repairCommandGraceMs). */
export const repairHealTimeoutSeconds = 600;
export const repairCommandGraceMs = 60_000;
/** Heal commands run at most this many times while their scans report unreachable shards (see healRounds). */
export const repairHealRoundsMax = 3;
/** Deadline of one `s3d admin status --json`, in ms (each node counts its shard files). */
export const repairStatusTimeoutMs = 60_000;
/** After the PUTs, how long every object may take to have all k + m shard files, in ms, and the poll period. */
export const repairSettleMaxMs = 30_000;
export const repairSettlePollMs = 200;
/** How long the SIGKILLed node may take to be gone, in ms, and the poll period. */
export const repairKillMaxMs = 10_000;
export const repairKillPollMs = 20;
/** Distinct warn/error log messages kept in the result, and redundancy problems named in an error. */
export const repairLogProblemsMax = 12;
export const repairProblemsShownMax = 5;
/** Log files larger than this are not scanned for warnings, in bytes. */
export const repairLogScanMaxBytes = 64 * MiB;

/** Bucket the repair bench writes to. */
export const repairBucket = 'tessera-bench-repair';
/** pino's numeric levels from warn up. */
const logLevelNames: Readonly<Record<number, string>> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/** What one run measured. Sizes in bytes, times in seconds, MB = 10^6 bytes. */
export interface RepairResult {
  nodes: number;
  dataShards: number;
  parityShards: number;
  transport: 'quic';
  objects: number;
  objectBytes: number;
  /** Object bytes written (objects x objectBytes). */
  dataBytes: number;
  putMegabytesPerSecond: number;
  /** Shard files and their bytes on all nodes before the loss (and again after the heal). */
  shardFiles: number;
  shardBytes: number;
  /** Data items (distinct data ids) with shard files. */
  dataItems: number;
  lostNode: number;
  /** Shard files and bytes node `lostNode` held, deleted with its disk. */
  lostShardFiles: number;
  lostShardBytes: number;
  /** SIGKILL of the node to its "s3d ready" after restart. */
  restartSeconds: number;
  /**
   * From the start of the first `s3d admin heal --wait` (right after the restart) to the exit 0 of
   * the last: more than one round when a scan could not reach a node (HealRound.unreachable).
   */
  healSeconds: number;
  /** SIGKILL to the last heal command's exit 0: restart + heal. */
  lossToRedundancySeconds: number;
  /** Sums over the nodes of repair.rebuilt / rebuiltBytes / failed from `s3d admin status --json`, minus the values before the loss. */
  rebuiltShards: number;
  rebuiltBytes: number;
  failedRepairs: number;
  /** Rebuilt shards per node, node 1 first. */
  rebuiltShardsByNode: number[];
  /** rebuiltBytes / healSeconds / 10^6. */
  repairMegabytesPerSecond: number;
  /** rebuiltBytes / 10^6 over the seconds of only the heal rounds that rebuilt something (equal to the above with one round). */
  rebuildingRoundsMegabytesPerSecond: number;
  /** Each `s3d admin heal --wait` run, in order. */
  healRounds: HealRound[];
  /** Warn and worse lines in the node logs, grouped by node and message. */
  logProblems: Array<{ node: number; level: string; msg: string; count: number }>;
}

/** One `s3d admin heal --wait` that exited 0, and what `s3d admin status` said after it. */
export interface HealRound {
  /** The command's duration, in seconds. */
  seconds: number;
  /** Shards (and shard file bytes) rebuilt by all nodes during the round. */
  rebuiltShards: number;
  rebuiltBytes: number;
  /** Shards the round's scans could not check (node or drive did not answer; not queued, so not healed). */
  unreachable: number;
  /** The command's last line of output. */
  output: string;
}

/** A run's outcome: an error when it stopped or full redundancy was not proven (result still set when the heal ran). */
export interface RepairRun {
  result: RepairResult | undefined;
  error: string | undefined;
}

/** Options for runRepairBench. */
export interface RepairBenchOptions {
  /** Path to bin/s3d. */
  binPath: string;
  /** Data written before the loss, in MiB; a multiple of repairObjectMib is written (rounded up). */
  dataMib: number;
  /** Parent of the cluster's temp dir; default os.tmpdir(). */
  dataDirParent: string | undefined;
  /** Keep the cluster dir (configs, logs, data) instead of deleting it. */
  keepData: boolean;
  /** Called once the cluster runs, with a stop for a signal handler. */
  onCluster?: (handle: { stop: () => Promise<unknown> }) => void;
}

/**
 * Starts a cluster, writes the data, loses node repairLostNode's disk, heals and verifies; stops the
 * cluster and deletes its dir, also on failure. Never throws for a failure of the cluster or the heal:
 * it is the returned `error`. Progress goes to stderr.
 */
export async function runRepairBench(options: RepairBenchOptions): Promise<RepairRun> {
  // A parent of our own: startCluster keeps a cluster dir it could not start (for its logs), and this bench leaves nothing behind.
  const parent = await mkdtemp(join(options.dataDirParent ?? tmpdir(), 'tessera-bench-repair-'));
  const restarted: { node: LoggedChild | undefined } = { node: undefined };
  let cluster: SpawnedCluster | undefined;
  const stopAll = async (): Promise<void> => {
    await cluster?.stop();
    await restarted.node?.stop();
  };
  try {
    progress(`starting a ${clusterNodeCount}-node ${clusterNodeCount - clusterParityShards}+${clusterParityShards} QUIC cluster...`);
    try {
      cluster = await startCluster({ binPath: options.binPath, transport: 'quic', dataDirParent: parent });
    } catch (err) {
      return { result: undefined, error: `cluster did not start: ${(err as Error).message}` };
    }
    options.onCluster?.({ stop: stopAll });
    return await measure(options, cluster, restarted);
  } catch (err) {
    return { result: undefined, error: (err as Error).message };
  } finally {
    await stopAll();
    if (options.keepData) progress(`kept ${parent}`);
    else await rm(parent, { recursive: true, force: true });
  }
}

async function measure(options: RepairBenchOptions, cluster: SpawnedCluster, restarted: { node: LoggedChild | undefined }): Promise<RepairRun> {
  const objects = Math.max(1, Math.ceil(options.dataMib / repairObjectMib));
  const objectBytes = repairObjectMib * MiB;
  progress(`PUT ${objects} x ${repairObjectMib} MiB...`);
  const putMegabytesPerSecond = await writeObjects(cluster, objects, objectBytes);
  const before = await settledShardFiles(cluster.dir);
  const lostFiles = before.filter((f) => f.node === repairLostNode);
  const lostHashes = await hashFiles(lostFiles);
  const countersBefore = repairCounters(await adminStatus(options.binPath, cluster.dir));

  progress(`node ${repairLostNode}: SIGKILL, delete its ${lostFiles.length} shard files, restart...`);
  const lostPid = cluster.pids[repairLostNode - 1];
  assert(lostPid !== undefined && lostPid > 0, `no pid for node ${repairLostNode}`); // kill(0) would signal our whole process group
  const killedAt = performance.now();
  await killAndWait(lostPid);
  await Promise.all(lostFiles.map((f) => rm(f.path)));
  restarted.node = await restartNode(options.binPath, cluster);
  const restartSeconds = (performance.now() - killedAt) / 1000;

  progress(`s3d admin heal --wait (node ${repairLostNode} ready after ${restartSeconds.toFixed(1)} s)...`);
  const heal = await healRounds(options.binPath, cluster.dir, restartBaseline(countersBefore));
  const healSeconds = (heal.finishedAt - heal.startedAt) / 1000;
  const counters = subtractCounters(heal.counters, restartBaseline(countersBefore));

  const after = await listShardFiles(cluster.dir);
  const problems = await redundancyProblems(before, after, lostHashes);
  const rebuiltBytes = sumOf(counters, 'rebuiltBytes');
  const result: RepairResult = {
    nodes: clusterNodeCount,
    dataShards: clusterNodeCount - clusterParityShards,
    parityShards: clusterParityShards,
    transport: 'quic',
    objects,
    objectBytes,
    dataBytes: objects * objectBytes,
    putMegabytesPerSecond,
    shardFiles: before.length,
    shardBytes: totalBytes(before),
    dataItems: new Set(before.map((f) => f.dataId)).size,
    lostNode: repairLostNode,
    lostShardFiles: lostFiles.length,
    lostShardBytes: totalBytes(lostFiles),
    restartSeconds,
    healSeconds,
    lossToRedundancySeconds: (heal.finishedAt - killedAt) / 1000,
    rebuiltShards: sumOf(counters, 'rebuilt'),
    rebuiltBytes,
    failedRepairs: sumOf(counters, 'failed'),
    rebuiltShardsByNode: counters.map((c) => c.rebuilt),
    repairMegabytesPerSecond: megabytesPerSecond(rebuiltBytes, healSeconds),
    rebuildingRoundsMegabytesPerSecond: megabytesPerSecond(rebuiltBytes, heal.rounds.filter((r) => r.rebuiltShards > 0).reduce((sum, r) => sum + r.seconds, 0)),
    healRounds: heal.rounds,
    logProblems: await logProblems([...cluster.logPaths, restartLogPath(cluster.dir)]),
  };
  const error = problems.length === 0 ? undefined : `no full redundancy after the heal: ${problems.length} problems, e.g. ${problems.slice(0, repairProblemsShownMax).join('; ')}`;
  return { result, error };
}

// The objects share one random payload; each starts with 16 bytes of its key's hash (load.ts), so no two data items are equal.
async function writeObjects(cluster: SpawnedCluster, objects: number, objectBytes: number): Promise<number> {
  const credentials = { accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: 'us-east-1' };
  const client = new BenchClient({ endpoints: cluster.endpoints, credentials, ca: cluster.ca, connections: repairPutConcurrency });
  try {
    await client.createBucket(repairBucket);
    const keys = Array.from({ length: objects }, (_, i) => `repair/${i}`);
    const startMs = performance.now();
    await putObjects(client, repairBucket, keys, randomBytes(objectBytes), repairPutConcurrency);
    return (objects * objectBytes) / 1e6 / ((performance.now() - startMs) / 1000);
  } finally {
    await client.close();
  }
}

/**
 * Runs `s3d admin heal --wait` until a round's scans reached every shard (sum of scan.last.unreachable
 * is 0), at most repairHealRoundsMax times: what an operator does when `s3d admin status` shows a scan
 * with unreachable shards. `baseline` is the nodes' counters before the first round. Throws Error
 * when a heal exits non-zero or shards are still unreachable after the last round.
 */
async function healRounds(binPath: string, dir: string, baseline: readonly RepairCounters[]): Promise<{ rounds: HealRound[]; counters: RepairCounters[]; startedAt: number; finishedAt: number }> {
  const args = ['admin', 'heal', '--wait', '--timeout', String(repairHealTimeoutSeconds), '--config', nodeConfig(dir, 1)];
  const rounds: HealRound[] = [];
  let counters = [...baseline];
  const startedAt = performance.now();
  for (;;) {
    const roundStartedAt = performance.now();
    const heal = await runS3d(binPath, args, repairHealTimeoutSeconds * 1000 + repairCommandGraceMs);
    const finishedAt = performance.now();
    const seconds = (finishedAt - roundStartedAt) / 1000;
    const incomplete = heal.code === 1 && heal.stdout.includes('heal incomplete'); // its scans could not reach some shards
    if (heal.code !== 0 && !incomplete) throw new Error(`\`s3d admin heal --wait\` (round ${rounds.length + 1}) exited ${heal.code ?? 'by a signal'} after ${seconds.toFixed(1)} s: ${lastLine(heal.stderr) || lastLine(heal.stdout)}`);
    const status = await adminStatus(binPath, dir);
    const now = repairCounters(status);
    const delta = subtractCounters(now, counters);
    counters = now;
    const unreachable = status.nodes.reduce((sum, n) => sum + (n.status?.scan.last?.unreachable ?? 0), 0);
    rounds.push({ seconds, rebuiltShards: sumOf(delta, 'rebuilt'), rebuiltBytes: sumOf(delta, 'rebuiltBytes'), unreachable, output: lastLine(heal.stdout) });
    if (unreachable === 0) return { rounds, counters, startedAt, finishedAt };
    if (rounds.length >= repairHealRoundsMax) throw new Error(`${unreachable} shards still unreachable by the scans after ${rounds.length} heal rounds`);
    progress(`heal round ${rounds.length} finished after ${seconds.toFixed(1)} s, but its scans could not reach ${unreachable} shards: heal again...`);
  }
}

/** One shard file on a node's drive: DIR/node-N/drive-1/shards/<2 chars>/<dataId>.<shardIndex>. */
interface ShardFile {
  node: number;
  path: string;
  dataId: string;
  shardIndex: number;
  sizeBytes: number;
}

const shardFileName = /^([0-9A-Za-z_-]+)\.(\d+)$/;

function nodeConfig(dir: string, node: number): string {
  return join(dir, `node-${node}.yaml`);
}

function restartLogPath(dir: string): string {
  return join(dir, `node-${repairLostNode}-restarted.log`);
}

/** Every shard file of every node, sorted by path. */
async function listShardFiles(dir: string): Promise<ShardFile[]> {
  const files: ShardFile[] = [];
  for (let node = 1; node <= clusterNodeCount; node++) {
    const shardsDir = join(dir, `node-${node}`, 'drive-1', 'shards');
    if (!existsSync(shardsDir)) continue;
    for (const fanOut of await readdir(shardsDir, { withFileTypes: true })) {
      if (!fanOut.isDirectory()) continue;
      for (const entry of await readdir(join(shardsDir, fanOut.name), { withFileTypes: true })) {
        const match = shardFileName.exec(entry.name);
        if (!entry.isFile() || match === null) continue;
        const path = join(shardsDir, fanOut.name, entry.name);
        files.push({ node, path, dataId: match[1] ?? '', shardIndex: Number(match[2]), sizeBytes: (await stat(path)).size });
      }
    }
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

// A PUT answers at write quorum, so the last shard file may land a moment later: wait until every data item is complete.
async function settledShardFiles(dir: string): Promise<ShardFile[]> {
  const deadline = performance.now() + repairSettleMaxMs;
  for (;;) {
    const files = await listShardFiles(dir);
    const incomplete = incompleteDataItems(files);
    if (files.length > 0 && incomplete.length === 0) return files;
    if (performance.now() > deadline) {
      throw new Error(`before the loss: ${incomplete.length} data items without all ${clusterNodeCount} shard files ${repairSettleMaxMs} ms after the PUTs, e.g. ${incomplete.slice(0, repairProblemsShownMax).join('; ')}`);
    }
    await delay(repairSettlePollMs);
  }
}

/** "dataId: shards 0,1,3,4,5" for every data item whose shard files are not exactly 0..width-1. */
function incompleteDataItems(files: readonly ShardFile[]): string[] {
  const indices = new Map<string, number[]>();
  for (const f of files) indices.set(f.dataId, [...(indices.get(f.dataId) ?? []), f.shardIndex]);
  const complete = Array.from({ length: clusterNodeCount }, (_, i) => i).join(',');
  const problems: string[] = [];
  for (const [dataId, list] of indices) {
    const got = list.sort((a, b) => a - b).join(',');
    if (got !== complete) problems.push(`${dataId}: shards ${got}`);
  }
  return problems;
}

/** Full redundancy from the files: every data item complete, total bytes as before, the lost node's files byte-identical. */
async function redundancyProblems(before: readonly ShardFile[], after: readonly ShardFile[], lostHashes: ReadonlyMap<string, string>): Promise<string[]> {
  const problems = incompleteDataItems(after);
  const items = (files: readonly ShardFile[]): number => new Set(files.map((f) => f.dataId)).size;
  if (items(after) !== items(before)) problems.push(`${items(after)} data items, ${items(before)} before the loss`);
  if (totalBytes(after) !== totalBytes(before)) problems.push(`${totalBytes(after)} shard bytes, ${totalBytes(before)} before the loss`);
  const rebuilt = await hashFiles(after.filter((f) => lostHashes.has(f.path)));
  for (const [path, digest] of lostHashes) {
    const now = rebuilt.get(path);
    if (now === undefined) problems.push(`${path}: not rebuilt`);
    else if (now !== digest) problems.push(`${path}: differs from the lost file`);
  }
  return problems;
}

function totalBytes(files: readonly ShardFile[]): number {
  return files.reduce((sum, f) => sum + f.sizeBytes, 0);
}

/** SHA-256 (hex) of each file, by path. */
async function hashFiles(files: readonly ShardFile[]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const f of files) hashes.set(f.path, createHash('sha256').update(await readFile(f.path)).digest('hex'));
  return hashes;
}

// SIGKILL, then wait until the pid is gone or a zombie (this process reaps it on its event loop).
async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const deadline = performance.now() + repairKillMaxMs;
  while (performance.now() < deadline) {
    if (!processAlive(pid)) return;
    await delay(repairKillPollMs);
  }
  throw new Error(`node ${repairLostNode} (pid ${pid}) still running ${repairKillMaxMs} ms after SIGKILL`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// Same config and credentials as cluster-process.ts gives it; a fresh log, because node-N.log already holds an "s3d ready".
async function restartNode(binPath: string, cluster: SpawnedCluster): Promise<LoggedChild> {
  const logPath = restartLogPath(cluster.dir);
  const env = { S3D_ACCESS_KEY: cluster.accessKey, S3D_SECRET_KEY: cluster.secretKey };
  const node = spawnLogged(binPath, ['server', '--config', nodeConfig(cluster.dir, repairLostNode)], env, logPath);
  try {
    await waitForReady(logPath, node.exitedHow, clusterReadyTimeoutMs);
  } catch (err) {
    await node.kill();
    throw new Error(`node ${repairLostNode} after restart: ${(err as Error).message}; log:\n${logTail(logPath)}`);
  }
  return node;
}

interface S3dRun {
  /** Exit code; null when killed (timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <binPath> ...args`; resolves on any exit, rejects only when it cannot start. */
function runS3d(binPath: string, args: readonly string[], timeoutMs: number): Promise<S3dRun> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, [binPath, ...args], { timeout: timeoutMs, maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err === null) return resolvePromise({ code: 0, stdout, stderr });
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number') return resolvePromise({ code, stdout, stderr });
      if ((err as { killed?: boolean }).killed === true) return resolvePromise({ code: null, stdout, stderr: `${stderr}\nkilled after ${timeoutMs} ms` });
      reject(new Error(`s3d ${args.join(' ')}: ${err.message}`));
    });
  });
}

/** `s3d admin status --json` through node 1 (exit 1 only means "degraded": the JSON is still printed). */
async function adminStatus(binPath: string, dir: string): Promise<ClusterReport> {
  const run = await runS3d(binPath, ['admin', 'status', '--json', '--config', nodeConfig(dir, 1)], repairStatusTimeoutMs);
  try {
    return JSON.parse(run.stdout) as ClusterReport;
  } catch {
    throw new Error(`\`s3d admin status --json\` exited ${run.code ?? 'by a signal'} without a JSON report: ${lastLine(run.stderr)}`);
  }
}

interface RepairCounters {
  nodeId: string;
  rebuilt: number;
  rebuiltBytes: number;
  failed: number;
}

/** Each node's reconstructor counters, node 1 first; throws when a node did not answer. */
function repairCounters(report: ClusterReport): RepairCounters[] {
  return report.nodes.map((n) => {
    if (n.status === undefined) throw new Error(`\`s3d admin status\`: ${n.nodeId} is down (${n.error ?? 'no answer'})`);
    const { rebuilt, rebuiltBytes, failed } = n.status.repair;
    return { nodeId: n.nodeId, rebuilt, rebuiltBytes, failed };
  });
}

// Counters are per process: after the restart the lost node counts from zero, the others from their value before the loss.
function restartBaseline(before: readonly RepairCounters[]): RepairCounters[] {
  const lostNodeId = `node-${repairLostNode}`;
  return before.map((c) => (c.nodeId === lostNodeId ? { nodeId: c.nodeId, rebuilt: 0, rebuiltBytes: 0, failed: 0 } : c));
}

/** `after` minus `before`, node by node (matched by node id; a node missing from `before` counts from zero). */
function subtractCounters(after: readonly RepairCounters[], before: readonly RepairCounters[]): RepairCounters[] {
  return after.map((a) => {
    const b = before.find((c) => c.nodeId === a.nodeId);
    return { nodeId: a.nodeId, rebuilt: a.rebuilt - (b?.rebuilt ?? 0), rebuiltBytes: a.rebuiltBytes - (b?.rebuiltBytes ?? 0), failed: a.failed - (b?.failed ?? 0) };
  });
}

function sumOf(counters: readonly RepairCounters[], field: 'rebuilt' | 'rebuiltBytes' | 'failed'): number {
  return counters.reduce((sum, c) => sum + c[field], 0);
}

/** Warn-or-worse JSON log lines, grouped by node and message, most frequent first, at most repairLogProblemsMax. */
async function logProblems(logPaths: readonly string[]): Promise<RepairResult['logProblems']> {
  const counts = new Map<string, { node: number; level: string; msg: string; count: number }>();
  for (const path of logPaths) {
    const node = Number(/node-(\d+)/.exec(path)?.[1] ?? 0);
    if (!existsSync(path) || (await stat(path)).size > repairLogScanMaxBytes) continue;
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      const entry = parseLogLine(line);
      const level = entry === undefined ? undefined : logLevelNames[entry.level];
      if (entry === undefined || level === undefined) continue;
      const key = `${node} ${level} ${entry.msg}`;
      const seen = counts.get(key) ?? { node, level, msg: entry.msg, count: 0 };
      seen.count++;
      counts.set(key, seen);
    }
  }
  return [...counts.values()].sort((a, b) => b.count - a.count).slice(0, repairLogProblemsMax);
}

function parseLogLine(line: string): { level: number; msg: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
    if (typeof entry.level !== 'number' || entry.level < 40) return undefined;
    const detail = typeof entry.err?.message === 'string' ? `: ${entry.err.message}` : '';
    return { level: entry.level, msg: `${typeof entry.msg === 'string' ? entry.msg : ''}${detail}` };
  } catch {
    return undefined;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

function progress(line: string): void {
  process.stderr.write(`bench: repair: ${line}\n`);
}

/** The Markdown table of one run: one row per figure. MiB = 2^20 bytes, MB/s = 10^6 bytes per second. */
export function repairMarkdownTable(result: RepairResult): string {
  const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;
  const seconds = (s: number): string => `${s.toFixed(1)} s`;
  const rows: Array<[string, string]> = [
    [`data written (${result.objects} x ${result.objectBytes / MiB} MiB objects, PUT ${result.putMegabytesPerSecond.toFixed(1)} MB/s)`, mib(result.dataBytes)],
    [`shard files on ${result.nodes} nodes before the loss (${result.dataItems} data items)`, `${result.shardFiles} files, ${mib(result.shardBytes)}`],
    [`lost with node ${result.lostNode}'s disk`, `${result.lostShardFiles} files, ${mib(result.lostShardBytes)}`],
    [`node ${result.lostNode} restart (SIGKILL to "s3d ready")`, seconds(result.restartSeconds)],
    [`\`s3d admin heal --wait\`${healRoundsNote(result.healRounds)}`, seconds(result.healSeconds)],
    ['**node loss to full redundancy**', `**${seconds(result.lossToRedundancySeconds)}**`],
    [`shards rebuilt (per node: ${result.rebuiltShardsByNode.join(' ')}${result.failedRepairs > 0 ? `; ${result.failedRepairs} failed attempts` : ''})`, `${result.rebuiltShards} (${mib(result.rebuiltBytes)})`],
    ['**repair throughput** (rebuilt shard bytes / heal duration)', `**${result.repairMegabytesPerSecond.toFixed(1)} MB/s**`],
  ];
  if (result.healRounds.length > 1) rows.push(['repair throughput over the heal rounds that rebuilt', `${result.rebuildingRoundsMegabytesPerSecond.toFixed(1)} MB/s`]);
  return ['| figure | value |', '|---|--:|', ...rows.map(([figure, value]) => `| ${figure} | ${value} |`)].join('\n');
}

// One round is the normal case; more mean a round's scans could not reach some shards (they were not healed).
function healRoundsNote(rounds: readonly HealRound[]): string {
  if (rounds.length <= 1) return '';
  const each = rounds.map((r, i) => `${i + 1}: ${r.seconds.toFixed(1)} s, ${r.rebuiltShards} rebuilt${r.unreachable > 0 ? `, ${r.unreachable} unreachable` : ''}`);
  return `, ${rounds.length} rounds (${each.join('; ')})`;
}

/** Log problems as Markdown lines (empty when the logs had no warnings). */
export function repairLogLines(result: RepairResult): string[] {
  return result.logProblems.map((p) => `- node ${p.node} ${p.level} x${p.count}: ${p.msg}`);
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('repair.bench')
    .description('time from one node\'s disk loss to full redundancy, and repair MB/s, on a 6-node 4+2 QUIC cluster')
    .option('--quick', `write ${repairDataMibQuick} MiB instead of ${repairDataMibDefault} MiB`, false)
    .option('--data-mib <n>', 'MiB written before the loss (overrides --quick)', positiveInteger)
    .option('--data-dir-parent <dir>', 'where the cluster dir is made (default: the OS temp dir)')
    .option('--server-bin <path>', 'the s3d executable (default: bin/s3d)')
    .option('--keep-data', 'keep the cluster dir (configs, node logs, data)', false);
  program.parse(argv);
  const opts = program.opts<{ quick: boolean; dataMib?: number; dataDirParent?: string; serverBin?: string; keepData: boolean }>();
  const dataMib = opts.dataMib ?? (opts.quick ? repairDataMibQuick : repairDataMibDefault);
  const run = await runRepairBench({ binPath: opts.serverBin ?? join(findRepoRoot(), 'bin', 's3d'), dataMib, dataDirParent: opts.dataDirParent, keepData: opts.keepData });
  if (run.result !== undefined) process.stdout.write(`${repairMarkdownTable(run.result)}\n${repairLogLines(run.result).map((l) => `${l}\n`).join('')}`);
  if (run.error !== undefined) process.stdout.write(`\nRepair bench FAILED: ${run.error}\n`);
  process.stdout.write(`${JSON.stringify({ dataMib, ...run }, null, 2)}\n`);
  return run.error === undefined ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`repair bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
