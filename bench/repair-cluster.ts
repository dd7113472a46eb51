// What the repair bench does to a running bench cluster and reads back from it: shard files on the
// nodes' drives (listing, settling, hashing, the full-redundancy check), a node's disk loss (SIGKILL,
// its shard files deleted, restart), `s3d admin heal --wait` rounds and `s3d admin status` counters,
// and warnings in the node logs. Used by repair.bench.ts, which measures and reports.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { ClusterReport } from '../src/cli/admin.js';
import { assert } from '../src/util/assert.js';
import { clusterNodeCount, clusterReadyTimeoutMs, type SpawnedCluster } from './cluster-process.js';
import { megabytesPerSecond } from './report.js';
import { logTail, spawnLogged, waitForReady, type LoggedChild } from './server-process.js';

const MiB = 1024 * 1024;

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
/** pino's numeric levels from warn up. */
const logLevelNames: Readonly<Record<number, string>> = { 40: 'warn', 50: 'error', 60: 'fatal' };

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

/** Warn-or-worse log lines of one node with one message, and how often they came. */
export interface LogProblem {
  node: number;
  level: string;
  msg: string;
  count: number;
}

/**
 * Runs `s3d admin heal --wait` until a round's scans reached every shard (sum of scan.last.unreachable
 * is 0), at most repairHealRoundsMax times: what an operator does when `s3d admin status` shows a scan
 * with unreachable shards. `baseline` is the nodes' counters before the first round; `onCommandExit`
 * is called as each heal command exits, before the status it is judged by. Throws Error when a heal
 * exits non-zero or shards are still unreachable after the last round.
 */
export async function healRounds(
  binPath: string,
  dir: string,
  baseline: readonly RepairCounters[],
  onCommandExit?: () => void,
): Promise<{ rounds: HealRound[]; counters: RepairCounters[]; startedAt: number; finishedAt: number }> {
  const args = ['admin', 'heal', '--wait', '--timeout', String(repairHealTimeoutSeconds), '--config', nodeConfig(dir, 1)];
  const rounds: HealRound[] = [];
  let counters = [...baseline];
  const startedAt = performance.now();
  for (;;) {
    const roundStartedAt = performance.now();
    const heal = await runS3d(binPath, args, repairHealTimeoutSeconds * 1000 + repairCommandGraceMs);
    const finishedAt = performance.now();
    onCommandExit?.();
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
    repairProgress(`heal round ${rounds.length} finished after ${seconds.toFixed(1)} s, but its scans could not reach ${unreachable} shards: heal again...`);
  }
}

/** A node's disk loss as loseDisk made it. */
export interface DiskLoss {
  node: number;
  /** The shard files the node held, and their SHA-256 (hex) by path, taken before the loss. */
  lostFiles: ShardFile[];
  lostHashes: Map<string, string>;
  /** Every node's repair counters just before the loss, the lost node's zeroed (its restart counts from zero). */
  countersBaseline: RepairCounters[];
  /** performance.now() at the SIGKILL, and the seconds from it to the restarted node's "s3d ready". */
  killedAt: number;
  restartSeconds: number;
  /** The node's new process; the caller stops it. */
  restarted: LoggedChild;
}

/**
 * Loses node `node`'s disk: hashes its shard files among `files` (every node's, as listShardFiles
 * gave them), reads the counters, SIGKILLs the node's process `pid`, deletes those files and restarts
 * the node. Throws Error when the node does not die or does not come back (restartNode).
 */
export async function loseDisk(binPath: string, cluster: SpawnedCluster, node: number, pid: number, files: readonly ShardFile[]): Promise<DiskLoss> {
  assert(Number.isInteger(pid) && pid > 0, `no pid for node ${node}`); // kill(0) would signal our whole process group
  const lostFiles = files.filter((f) => f.node === node);
  const lostHashes = await hashFiles(lostFiles);
  const countersBaseline = restartBaseline(repairCounters(await adminStatus(binPath, cluster.dir)), node);
  repairProgress(`node ${node}: SIGKILL, delete its ${lostFiles.length} shard files, restart...`);
  const killedAt = performance.now();
  await killAndWait(pid, node);
  await Promise.all(lostFiles.map((f) => rm(f.path)));
  const restarted = await restartNode(binPath, cluster, node);
  return { node, lostFiles, lostHashes, countersBaseline, killedAt, restartSeconds: (performance.now() - killedAt) / 1000, restarted };
}

/** One shard file on a node's drive: DIR/node-N/drive-1/shards/<2 chars>/<dataId>.<shardIndex>. */
export interface ShardFile {
  node: number;
  path: string;
  dataId: string;
  shardIndex: number;
  sizeBytes: number;
}

const shardFileName = /^([0-9A-Za-z_-]+)\.(\d+)$/;

/** DIR/node-N.yaml, the config `s3d cluster init` wrote for node N. */
export function nodeConfig(dir: string, node: number): string {
  return join(dir, `node-${node}.yaml`);
}

/** The log of node `node` after its restart (node-N.log already holds an "s3d ready"). */
export function restartLogPath(dir: string, node: number): string {
  return join(dir, `node-${node}-restarted.log`);
}

/** Every shard file of every node, sorted by path. */
export async function listShardFiles(dir: string): Promise<ShardFile[]> {
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
export async function settledShardFiles(dir: string): Promise<ShardFile[]> {
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
export function incompleteDataItems(files: readonly ShardFile[]): string[] {
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
export async function redundancyProblems(before: readonly ShardFile[], after: readonly ShardFile[], lostHashes: ReadonlyMap<string, string>): Promise<string[]> {
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

/** Bytes of `files` together. */
export function totalBytes(files: readonly ShardFile[]): number {
  return files.reduce((sum, f) => sum + f.sizeBytes, 0);
}

/** SHA-256 (hex) of each file, by path. */
export async function hashFiles(files: readonly ShardFile[]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (const f of files) hashes.set(f.path, createHash('sha256').update(await readFile(f.path)).digest('hex'));
  return hashes;
}

/** SIGKILL node `node` (its `pid`), then wait until the pid is gone or a zombie (this process reaps it on its event loop). Throws Error after repairKillMaxMs. */
export async function killAndWait(pid: number, node: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const deadline = performance.now() + repairKillMaxMs;
  while (performance.now() < deadline) {
    if (!processAlive(pid)) return;
    await delay(repairKillPollMs);
  }
  throw new Error(`node ${node} (pid ${pid}) still running ${repairKillMaxMs} ms after SIGKILL`);
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

/**
 * Starts node `node` again with the config and credentials cluster-process.ts gave it, logging to a
 * fresh restartLogPath; resolves once it is ready. Throws Error with the log's tail when it is not.
 */
export async function restartNode(binPath: string, cluster: SpawnedCluster, node: number): Promise<LoggedChild> {
  const logPath = restartLogPath(cluster.dir, node);
  const env = { S3D_ACCESS_KEY: cluster.accessKey, S3D_SECRET_KEY: cluster.secretKey };
  const child = spawnLogged(binPath, ['server', '--config', nodeConfig(cluster.dir, node)], env, logPath);
  try {
    await waitForReady(logPath, child.exitedHow, clusterReadyTimeoutMs);
  } catch (err) {
    await child.kill();
    throw new Error(`node ${node} after restart: ${(err as Error).message}; log:\n${logTail(logPath)}`);
  }
  return child;
}

export interface S3dRun {
  /** Exit code; null when killed (timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <binPath> ...args`; resolves on any exit, rejects only when it cannot start. */
export function runS3d(binPath: string, args: readonly string[], timeoutMs: number): Promise<S3dRun> {
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
export async function adminStatus(binPath: string, dir: string): Promise<ClusterReport> {
  const run = await runS3d(binPath, ['admin', 'status', '--json', '--config', nodeConfig(dir, 1)], repairStatusTimeoutMs);
  try {
    return JSON.parse(run.stdout) as ClusterReport;
  } catch {
    throw new Error(`\`s3d admin status --json\` exited ${run.code ?? 'by a signal'} without a JSON report: ${lastLine(run.stderr)}`);
  }
}

export interface RepairCounters {
  nodeId: string;
  rebuilt: number;
  rebuiltBytes: number;
  failed: number;
}

/** Each node's reconstructor counters, node 1 first; throws when a node did not answer. */
export function repairCounters(report: ClusterReport): RepairCounters[] {
  return report.nodes.map((n) => {
    if (n.status === undefined) throw new Error(`\`s3d admin status\`: ${n.nodeId} is down (${n.error ?? 'no answer'})`);
    const { rebuilt, rebuiltBytes, failed } = n.status.repair;
    return { nodeId: n.nodeId, rebuilt, rebuiltBytes, failed };
  });
}

/** Counters are per process: after the restart node `node` counts from zero, the others from their value in `before`. */
export function restartBaseline(before: readonly RepairCounters[], node: number): RepairCounters[] {
  const lostNodeId = `node-${node}`;
  return before.map((c) => (c.nodeId === lostNodeId ? { nodeId: c.nodeId, rebuilt: 0, rebuiltBytes: 0, failed: 0 } : c));
}

/** `after` minus `before`, node by node (matched by node id; a node missing from `before` counts from zero). */
export function subtractCounters(after: readonly RepairCounters[], before: readonly RepairCounters[]): RepairCounters[] {
  return after.map((a) => {
    const b = before.find((c) => c.nodeId === a.nodeId);
    return { nodeId: a.nodeId, rebuilt: a.rebuilt - (b?.rebuilt ?? 0), rebuiltBytes: a.rebuiltBytes - (b?.rebuiltBytes ?? 0), failed: a.failed - (b?.failed ?? 0) };
  });
}

/** `field` summed over the nodes. */
export function sumOf(counters: readonly RepairCounters[], field: 'rebuilt' | 'rebuiltBytes' | 'failed'): number {
  return counters.reduce((sum, c) => sum + c[field], 0);
}

/** What one heal (its rounds, from a node's SIGKILL) did, as both repair phases report it. */
export interface HealFigures {
  /** From the start of the first `s3d admin heal --wait` to the exit 0 of the last, in seconds. */
  healSeconds: number;
  /** SIGKILL to the last heal command's exit 0: restart + heal, in seconds. */
  lossToRedundancySeconds: number;
  /** Sums over the nodes of repair.rebuilt / rebuiltBytes / failed, minus the values before the loss. */
  rebuiltShards: number;
  rebuiltBytes: number;
  failedRepairs: number;
  /** Rebuilt shards per node, node 1 first. */
  rebuiltShardsByNode: number[];
  /** rebuiltBytes / healSeconds / 10^6. */
  repairMegabytesPerSecond: number;
  /** Each `s3d admin heal --wait` run, in order. */
  healRounds: HealRound[];
}

/** The figures of `heal` (healRounds' result) for a loss at `killedAt` (performance.now() ms), counters minus `baseline`. */
export function healFigures(heal: Awaited<ReturnType<typeof healRounds>>, baseline: readonly RepairCounters[], killedAt: number): HealFigures {
  const healSeconds = (heal.finishedAt - heal.startedAt) / 1000;
  const counters = subtractCounters(heal.counters, baseline);
  const rebuiltBytes = sumOf(counters, 'rebuiltBytes');
  return {
    healSeconds,
    lossToRedundancySeconds: (heal.finishedAt - killedAt) / 1000,
    rebuiltShards: sumOf(counters, 'rebuilt'),
    rebuiltBytes,
    failedRepairs: sumOf(counters, 'failed'),
    rebuiltShardsByNode: counters.map((c) => c.rebuilt),
    repairMegabytesPerSecond: megabytesPerSecond(rebuiltBytes, healSeconds),
    healRounds: heal.rounds,
  };
}

/** Warn-or-worse JSON log lines, grouped by node and message, most frequent first, at most repairLogProblemsMax. */
export async function logProblems(logPaths: readonly string[]): Promise<LogProblem[]> {
  const counts = new Map<string, LogProblem>();
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

/** The last line of `text`, trimmed ('' for none). */
export function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** A progress line on stderr, as the repair bench writes them. */
export function repairProgress(line: string): void {
  process.stderr.write(`bench: repair: ${line}\n`);
}
