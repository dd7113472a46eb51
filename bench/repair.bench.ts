// Repair bench (issues 5 and 13): a fresh 6-node 4+2 QUIC cluster gets 512 MiB of 16 MiB objects (and
// the 1 MiB objects of a GET workload, measured once as a baseline), then node 3's disk loses every
// shard file (SIGKILL, wipe, restart) and the operator runs `s3d admin heal --wait`. Reports rebuild
// MB/s and the time from the loss to full redundancy, proven from the files: every data item has
// shards 0..k+m-1 again, total shard bytes are back, node 3's files are byte-identical to the lost
// ones. Then node 4's disk is lost and healed while the GET workload runs (repair-load.ts): its p99
// against the baseline's, and the rebuild rate under load, redundancy proven the same way.
// Standalone: `node dist/bench/repair.bench.js [--quick] [--data-mib N] [--transport quic|tls|tcp]`.

import { Command, InvalidArgumentError, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { clusterNodeCount, clusterParityShards, startCluster, type ClusterTransport, type SpawnedCluster } from './cluster-process.js';
import { transportKinds } from '../src/config/schema.js';
import { putObjects } from './load.js';
import {
  healRounds, listShardFiles, logProblems, loseDisk, redundancyProblems, repairProblemsShownMax, repairProgress as progress, restartLogPath,
  healFigures, settledShardFiles, totalBytes, type HealFigures, type HealRound, type LogProblem, type ShardFile,
} from './repair-cluster.js';
import {
  clusterClient, getLoadFigures, repairLoadConcurrency, repairLoadLostNode, repairLoadObjectBytes, repairLoadObjects, repairLoadWindowMs,
  repairLoadWindowQuickMs, repairUnderLoad, runGetLoad, writeGetSet, type GetLoadFigures, type GetSet, type RepairUnderLoad,
} from './repair-load.js';
import { megabytesPerSecond } from './report.js';
import { findRepoRoot, type LoggedChild } from './server-process.js';

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
/** Bucket the repair bench writes to. */
export const repairBucket = 'tessera-bench-repair';

/**
 * What one run measured. Sizes in bytes, times in seconds, MB = 10^6 bytes. The heal figures
 * (HealFigures) are the first phase's: more than one heal round when a scan could not reach a node.
 */
export interface RepairResult extends HealFigures {
  nodes: number;
  dataShards: number;
  parityShards: number;
  transport: ClusterTransport;
  objects: number;
  objectBytes: number;
  /** Object bytes written (objects x objectBytes), not counting the GET workload's objects. */
  dataBytes: number;
  putMegabytesPerSecond: number;
  /**
   * The GET workload with no repair running, after the first heal (its objects are written then, so
   * the first loss is exactly the data above); undefined when a GET failed (the run's error says how).
   */
  getBaseline: GetLoadFigures | undefined;
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
  /** rebuiltBytes / 10^6 over the seconds of only the heal rounds that rebuilt something (equal to repairMegabytesPerSecond with one round). */
  rebuildingRoundsMegabytesPerSecond: number;
  /**
   * The second phase: node repairLoadLostNode's disk lost after the first heal and healed under the
   * GET workload; undefined when it did not run (an earlier failure) or failed (the run's error).
   */
  underLoad: RepairUnderLoad | undefined;
  /** Warn and worse lines in the node logs (both restarted nodes' included), grouped by node and message. */
  logProblems: LogProblem[];
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
  /** The GET workload's baseline window, in ms (repairLoadWindowMs, --quick repairLoadWindowQuickMs). */
  loadWindowMs: number;
  /** Parent of the cluster's temp dir; default os.tmpdir(). */
  dataDirParent: string | undefined;
  /** Node-to-node transport of the cluster (default quic, what issue 13's figure is judged on). */
  transport?: ClusterTransport;
  /** Keep the cluster dir (configs, logs, data) instead of deleting it. */
  keepData: boolean;
  /** Called once the cluster runs, with a stop for a signal handler. */
  onCluster?: (handle: { stop: () => Promise<unknown> }) => void;
}

/**
 * Starts a cluster, writes the data, loses node repairLostNode's disk, heals and verifies; then
 * writes the GET objects, measures the GET baseline, loses node repairLoadLostNode's disk and heals
 * it under the GET workload (repairUnderLoad); stops the cluster and deletes its dir, also on failure. Never throws for a failure of the cluster or the heal:
 * it is the returned `error`. Progress goes to stderr.
 */
export async function runRepairBench(options: RepairBenchOptions): Promise<RepairRun> {
  // A parent of our own: startCluster keeps a cluster dir it could not start (for its logs), and this bench leaves nothing behind.
  const parent = await mkdtemp(join(options.dataDirParent ?? tmpdir(), 'tessera-bench-repair-'));
  const restarted: LoggedChild[] = [];
  let cluster: SpawnedCluster | undefined;
  const stopAll = async (): Promise<void> => {
    await cluster?.stop();
    await Promise.all(restarted.map((node) => node.stop()));
  };
  try {
    const transport = options.transport ?? 'quic';
    progress(`starting a ${clusterNodeCount}-node ${clusterNodeCount - clusterParityShards}+${clusterParityShards} ${transport.toUpperCase()} cluster...`);
    try {
      cluster = await startCluster({ binPath: options.binPath, transport, dataDirParent: parent });
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

async function measure(options: RepairBenchOptions, cluster: SpawnedCluster, restarted: LoggedChild[]): Promise<RepairRun> {
  const objects = Math.max(1, Math.ceil(options.dataMib / repairObjectMib));
  const objectBytes = repairObjectMib * MiB;
  progress(`PUT ${objects} x ${repairObjectMib} MiB...`);
  const putMegabytesPerSecond = await writeObjects(cluster, objects, objectBytes);
  const before = await settledShardFiles(cluster.dir);
  const errors: string[] = [];

  const loss = await loseDisk(options.binPath, cluster, repairLostNode, pidOf(cluster, repairLostNode), before);
  restarted.push(loss.restarted);
  progress(`s3d admin heal --wait (node ${repairLostNode} ready after ${loss.restartSeconds.toFixed(1)} s)...`);
  const heal = await healRounds(options.binPath, cluster.dir, loss.countersBaseline);
  const figures = healFigures(heal, loss.countersBaseline, loss.killedAt);

  const after = await listShardFiles(cluster.dir);
  const problems = await redundancyProblems(before, after, loss.lostHashes);
  const result: RepairResult = {
    nodes: clusterNodeCount,
    dataShards: clusterNodeCount - clusterParityShards,
    parityShards: clusterParityShards,
    transport: options.transport ?? 'quic',
    objects,
    objectBytes,
    dataBytes: objects * objectBytes,
    putMegabytesPerSecond,
    getBaseline: undefined,
    shardFiles: before.length,
    shardBytes: totalBytes(before),
    dataItems: new Set(before.map((f) => f.dataId)).size,
    lostNode: repairLostNode,
    lostShardFiles: loss.lostFiles.length,
    lostShardBytes: totalBytes(loss.lostFiles),
    restartSeconds: loss.restartSeconds,
    ...figures,
    rebuildingRoundsMegabytesPerSecond: megabytesPerSecond(figures.rebuiltBytes, heal.rounds.filter((r) => r.rebuiltShards > 0).reduce((sum, r) => sum + r.seconds, 0)),
    underLoad: undefined,
    logProblems: [],
  };
  if (problems.length > 0) errors.push(`no full redundancy after the heal: ${problemsText(problems)}`);
  else {
    // The GET objects come after the first loss, so its case is exactly the data written above.
    progress(`PUT ${repairLoadObjects} x ${repairLoadObjectBytes / MiB} MiB, then GET c${repairLoadConcurrency} for ${(options.loadWindowMs / 1000).toFixed(1)} s with no repair running...`);
    const getSet = await writeGetSet(cluster, repairBucket);
    const baseline = await runGetLoad(cluster, getSet, { windowMs: options.loadWindowMs });
    if (baseline.error !== undefined) errors.push(`GET with no repair running failed: ${baseline.error.code} ${baseline.error.message}`);
    else result.getBaseline = getLoadFigures(getSet, baseline);
    // The second phase needs a cluster at full redundancy and a baseline to compare with.
    if (result.getBaseline !== undefined) errors.push(...(await secondPhase(options, cluster, restarted, getSet, await settledShardFiles(cluster.dir), result)));
  }
  const restartLogs = [repairLostNode, repairLoadLostNode].map((node) => restartLogPath(cluster.dir, node));
  result.logProblems = await logProblems([...cluster.logPaths, ...restartLogs]);
  return { result, error: errors.length === 0 ? undefined : errors.join('; ') };
}

// Runs repairUnderLoad into result.underLoad; returns its errors (a failure, or redundancy not proven).
async function secondPhase(
  options: RepairBenchOptions,
  cluster: SpawnedCluster,
  restarted: LoggedChild[],
  getSet: GetSet,
  files: readonly ShardFile[],
  result: RepairResult,
): Promise<string[]> {
  try {
    const onRestarted = (node: LoggedChild): void => void restarted.push(node);
    const phase = await repairUnderLoad(options.binPath, cluster, pidOf(cluster, repairLoadLostNode), getSet, files, result.getBaseline, onRestarted);
    result.underLoad = phase.underLoad;
    return phase.problems.length === 0 ? [] : [`no full redundancy after the heal under client load: ${problemsText(phase.problems)}`];
  } catch (err) {
    return [`repair under client load: ${(err as Error).message}`];
  }
}

function pidOf(cluster: SpawnedCluster, node: number): number {
  return cluster.pids[node - 1] ?? 0;
}

function problemsText(problems: readonly string[]): string {
  return `${problems.length} problems, e.g. ${problems.slice(0, repairProblemsShownMax).join('; ')}`;
}

// The objects share one random payload; each starts with 16 bytes of its key's hash (load.ts), so no two data items are equal.
async function writeObjects(cluster: SpawnedCluster, objects: number, objectBytes: number): Promise<number> {
  const client = clusterClient(cluster, repairPutConcurrency);
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

/** The Markdown table of one run: one row per figure. MiB = 2^20 bytes, MB/s = 10^6 bytes per second. */
export function repairMarkdownTable(result: RepairResult): string {
  const rows: Array<[string, string]> = [
    [`data written (${result.objects} x ${result.objectBytes / MiB} MiB objects, PUT ${result.putMegabytesPerSecond.toFixed(1)} MB/s)`, mib(result.dataBytes)],
    ...baselineRows(result.getBaseline),
    [`shard files on ${result.nodes} nodes before the loss (${result.dataItems} data items)`, `${result.shardFiles} files, ${mib(result.shardBytes)}`],
    [`lost with node ${result.lostNode}'s disk`, `${result.lostShardFiles} files, ${mib(result.lostShardBytes)}`],
    [`node ${result.lostNode} restart (SIGKILL to "s3d ready")`, seconds(result.restartSeconds)],
    [`\`s3d admin heal --wait\`${healRoundsNote(result.healRounds)}`, seconds(result.healSeconds)],
    ['**node loss to full redundancy**', `**${seconds(result.lossToRedundancySeconds)}**`],
    [`shards rebuilt (per node: ${result.rebuiltShardsByNode.join(' ')}${result.failedRepairs > 0 ? `; ${result.failedRepairs} failed attempts` : ''})`, `${result.rebuiltShards} (${mib(result.rebuiltBytes)})`],
    ['**repair throughput** (rebuilt shard bytes / heal duration)', `**${result.repairMegabytesPerSecond.toFixed(1)} MB/s**`],
  ];
  if (result.healRounds.length > 1) rows.push(['repair throughput over the heal rounds that rebuilt', `${result.rebuildingRoundsMegabytesPerSecond.toFixed(1)} MB/s`]);
  if (result.underLoad !== undefined) rows.push(...underLoadRows(result.underLoad));
  return ['| figure | value |', '|---|--:|', ...rows.map(([figure, value]) => `| ${figure} | ${value} |`)].join('\n');
}

function baselineRows(baseline: GetLoadFigures | undefined): Array<[string, string]> {
  if (baseline === undefined) return [];
  return [[`GET ${getLoadLabel(baseline)} with no repair running (${getWindowNote(baseline)})`, getLatencies(baseline)]];
}

function underLoadRows(u: RepairUnderLoad): Array<[string, string]> {
  return [
    [`then lost with node ${u.lostNode}'s disk (SIGKILL, files deleted, restart in ${seconds(u.restartSeconds)})`, `${u.lostShardFiles} files, ${mib(u.lostShardBytes)}`],
    [`\`s3d admin heal --wait\` under the GET load${healRoundsNote(u.healRounds)}; node loss to full redundancy ${seconds(u.lossToRedundancySeconds)}`, seconds(u.healSeconds)],
    [`shards rebuilt under load (per node: ${u.rebuiltShardsByNode.join(' ')}${u.failedRepairs > 0 ? `; ${u.failedRepairs} failed attempts` : ''})`, `${u.rebuiltShards} (${mib(u.rebuiltBytes)})`],
    [`GET ${getLoadLabel(u.duringRepair)} during the heal (${getWindowNote(u.duringRepair)})`, getLatencies(u.duringRepair)],
    ['**repair throughput under client load**', `**${u.repairMegabytesPerSecond.toFixed(1)} MB/s**`],
  ];
}

/**
 * The one-line summary of the second phase: "repair under client load: GET 1 MiB c4 p99 X ms during
 * repair vs Y ms before (R x), rebuild Z MB/s"; undefined when it did not run.
 */
export function repairUnderLoadLine(result: RepairResult): string | undefined {
  const u = result.underLoad;
  const before = result.getBaseline;
  if (u === undefined || before === undefined) return undefined;
  const ratio = u.p99Ratio === undefined ? 'no ratio: a window completed no GET' : `${u.p99Ratio.toFixed(2)}x`;
  return (
    `repair under client load: GET ${getLoadLabel(u.duringRepair)} p99 ${milliseconds(u.duringRepair)} during repair vs ` +
    `${milliseconds(before)} before (${ratio}), rebuild ${u.repairMegabytesPerSecond.toFixed(1)} MB/s`
  );
}

function getLoadLabel(f: GetLoadFigures): string {
  return `${f.objectBytes / MiB} MiB c${f.concurrency}`;
}

function getWindowNote(f: GetLoadFigures): string {
  return `${f.ops} GETs in ${seconds(f.seconds)}, ${f.megabytesPerSecond.toFixed(1)} MB/s, over ${f.objects} objects`;
}

function getLatencies(f: GetLoadFigures): string {
  return f.ops === 0 ? '-' : `p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms`;
}

function milliseconds(f: GetLoadFigures): string {
  return f.ops === 0 ? '-' : `${f.p99Ms.toFixed(1)} ms`;
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

function seconds(s: number): string {
  return `${s.toFixed(1)} s`;
}

// One round is the normal case; more mean a round's scans could not reach some shards (they were not healed).
function healRoundsNote(rounds: readonly HealRound[]): string {
  if (rounds.length <= 1) return '';
  const each = rounds.map((r, i) => `${i + 1}: ${r.seconds.toFixed(1)} s, ${r.rebuiltShards} rebuilt${r.unreachable > 0 ? `, ${r.unreachable} unreachable` : ''}`);
  return `, ${rounds.length} rounds (${each.join('; ')})`;
}

/** The table, the under-load line (when the second phase ran) and the log problems, as Markdown. */
export function repairMarkdown(result: RepairResult): string {
  const line = repairUnderLoadLine(result);
  return [repairMarkdownTable(result), ...(line === undefined ? [] : ['', line]), ...repairLogLines(result)].join('\n');
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
    .description('time from one node\'s disk loss to full redundancy and repair MB/s, then a second loss healed under a GET load (p99 against before), on a 6-node 4+2 cluster (QUIC unless --transport)')
    .option('--quick', `write ${repairDataMibQuick} MiB instead of ${repairDataMibDefault} MiB, GET baseline ${repairLoadWindowQuickMs} ms instead of ${repairLoadWindowMs} ms`, false)
    .option('--data-mib <n>', 'MiB written before the loss (overrides --quick)', positiveInteger)
    .option('--data-dir-parent <dir>', 'where the cluster dir is made (default: the OS temp dir)')
    .option('--server-bin <path>', 'the s3d executable (default: bin/s3d)')
    .option('--keep-data', 'keep the cluster dir (configs, node logs, data)', false)
    .addOption(new Option('--transport <kind>', 'the cluster\'s node-to-node transport').choices([...transportKinds]).default('quic'));
  program.parse(argv);
  const opts = program.opts<{ quick: boolean; dataMib?: number; dataDirParent?: string; serverBin?: string; keepData: boolean; transport: ClusterTransport }>();
  const dataMib = opts.dataMib ?? (opts.quick ? repairDataMibQuick : repairDataMibDefault);
  const loadWindowMs = opts.quick ? repairLoadWindowQuickMs : repairLoadWindowMs;
  const run = await runRepairBench({ binPath: opts.serverBin ?? join(findRepoRoot(), 'bin', 's3d'), dataMib, loadWindowMs, dataDirParent: opts.dataDirParent, keepData: opts.keepData, transport: opts.transport });
  if (run.result !== undefined) process.stdout.write(`${repairMarkdown(run.result)}\n`);
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
