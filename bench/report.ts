// Machine description and the two outputs of `make bench`: Markdown tables for humans and a JSON
// document under bench/results/. schemaVersion 4: scenarios (single node or cluster), cells tagged by
// scenario with server figures over one or several processes, repair, transport and codec results.
// Version 3 had no repair section; version 2 no cluster scenarios and no transport section.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
// Type only: codec.bench.ts imports sizeLabel from here, so its table arrives rendered (see markdownReport).
import type { CodecResult } from './codec.bench.js';
import type { CellMeasurement } from './load.js';
import type { RepairResult } from './repair.bench.js';

const MiB = 1024 * 1024;

/** Where the numbers were measured. */
export interface MachineInfo {
  /** "model name" from /proc/cpuinfo, or "unknown". */
  cpuModel: string;
  /** Logical CPUs available to this process. */
  cores: number;
  memoryBytes: number;
  nodeVersion: string;
  /** `git rev-parse --short HEAD`, or "unknown". */
  gitCommit: string;
  /** True when tracked files differ from HEAD (the numbers are for uncommitted code). */
  gitDirty: boolean;
  /** Filesystem type of the server's data dir (e.g. "ext2/ext3", "tmpfs"), or "unknown". */
  dataDirFilesystem: string;
}

/** Collects MachineInfo; `repoRoot` is the git work tree, `dataDir` the server's data dir (if any). */
export function machineInfo(repoRoot: string, dataDir: string | undefined): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    gitCommit: run('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']) ?? 'unknown',
    // --no-optional-locks: others share this work tree, so never take the index lock.
    gitDirty: (run('git', ['-C', repoRoot, '--no-optional-locks', 'status', '--porcelain', '-uno']) ?? '') !== '',
    dataDirFilesystem: dataDir === undefined ? 'unknown' : (run('stat', ['-f', '-c', '%T', dataDir]) ?? 'unknown'),
  };
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return match?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

/** One row of the table: a cell's spec, what the client measured, and the server's resource use during it. */
export interface CellReport extends CellMeasurement {
  /** Name of the scenario (server set-up) the cell ran against, e.g. "single node, 1 drive". */
  scenario: string;
  op: 'PUT' | 'GET';
  sizeBytes: number;
  concurrency: number;
  /** Server processes sampled: 1 for a single server, the node count for a cluster; undefined when unknown. */
  serverProcesses: number | undefined;
  /** Server utime + stime during the cell, summed over the server processes, in seconds; undefined when unknown. */
  serverCpuSeconds: number | undefined;
  /** Highest VmRSS of any one server process seen during the cell, in bytes; undefined when unknown. */
  serverPeakRssBytes: number | undefined;
  /** Highest sum of the server processes' VmRSS seen at one poll during the cell, in bytes; undefined when unknown. */
  serverPeakRssSumBytes: number | undefined;
  /** This (client) process's user + system CPU during the cell, in seconds. */
  clientCpuSeconds: number;
  /**
   * Machine-wide busy CPU during the cell not used by the server or this client, in seconds (other
   * processes, steal; includes the server when its pid is unknown). High values mean a noisy cell.
   */
  otherCpuSeconds: number | undefined;
}

/** One server set-up the cells ran against (or why it did not run). */
export interface ScenarioReport {
  /** e.g. "single node, 1 drive", "single node, 6 drives (4+2)", "external". */
  name: string;
  /** Drives given to the server (1: no --drives, today's DATA/drive-1); undefined for an external server. */
  drives: number | undefined;
  /** --parity given with --drives, or the cluster's; undefined when not passed. */
  parityShards: number | undefined;
  /** Cluster nodes (one process each); undefined for a single server. */
  nodes: number | undefined;
  /** Node-to-node transport of a cluster; undefined for a single server. */
  transport: 'quic' | 'tls' | undefined;
  /** Why the scenario did not run (e.g. the server has no --drives); undefined when it ran. */
  skipped: string | undefined;
  /** Why it stopped before its cells ran (e.g. the server did not start); undefined otherwise. */
  error: string | undefined;
  server:
    | {
        mode: 'spawned' | 'external';
        /** The S3 endpoint the cells used; for a cluster, every endpoint requests went to, space-separated. */
        endpoint: string;
        /** The server's pid; a cluster's node 1. */
        pid: number | undefined;
        /** Every server process sampled (a cluster's nodes in order); empty when unknown. */
        pids: number[];
        /** Largest VmHWM of one process at the end of the scenario, in bytes. */
        peakRssBytes: number | undefined;
        /** VmHWM summed over the processes (each its own peak), in bytes. */
        peakRssSumBytes: number | undefined;
        /** utime + stime over the scenario (start-up included), summed over the processes, in seconds. */
        cpuSeconds: number | undefined;
        /** How the spawned server ended ("exit 0", "SIGKILL"), per node for a cluster; undefined for external servers. */
        exit: string | undefined;
      }
    | undefined;
}

/** The erasure codec micro-benchmark (bench/codec.bench.ts), or why it did not run. */
export interface CodecReport {
  quick: boolean;
  skipped: string | undefined;
  results: CodecResult[];
}

/** Node-to-node transport bench (bench/transport.bench.ts, run as a child process), or why it did not run. */
export interface TransportReport {
  quick: boolean;
  /** Why it did not run (--no-transport, not built); undefined when it ran. */
  skipped: string | undefined;
  /** Why it failed (non-zero exit, a "failed" cell, no JSON); undefined when it did not. */
  error: string | undefined;
  /** Its Markdown table, as it printed it. */
  markdown: string;
  /** Its JSON document (machine, options, cells); undefined when it did not print one. */
  result: { cells: Array<{ transport: string; cell: string; value: number; unit: string; note?: string }> } | undefined;
}

/** Repair after one node's disk loss (bench/repair.bench.ts, in process), or why it did not run. */
export interface RepairReport {
  quick: boolean;
  /** MiB written before the loss. */
  dataMib: number;
  /** Why it did not run (--no-repair); undefined when it ran. */
  skipped: string | undefined;
  /** Why it failed (cluster, PUT, kill/restart, heal, or full redundancy not proven); undefined when it did not. */
  error: string | undefined;
  /** Its Markdown table (repairMarkdownTable) and log warnings, rendered; empty when there is no result. */
  markdown: string;
  /** Its figures; may be present with an `error` (the heal ran but redundancy was not proven). */
  result: RepairResult | undefined;
}

/** The whole run, as written to bench/results/<timestamp>.json. */
export interface BenchReport {
  schemaVersion: 4;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** The effective options (durations, sizes, concurrencies, endpoint mode, scenarios). */
  options: Record<string, unknown>;
  scenarios: ScenarioReport[];
  cells: CellReport[];
  repair: RepairReport;
  transport: TransportReport;
  codec: CodecReport;
}

/** "4 KiB", "1 MiB", "64 MiB" for power-of-two sizes; bytes otherwise. */
export function sizeLabel(sizeBytes: number): string {
  if (sizeBytes >= MiB && sizeBytes % MiB === 0) return `${sizeBytes / MiB} MiB`;
  if (sizeBytes >= 1024 && sizeBytes % 1024 === 0) return `${sizeBytes / 1024} KiB`;
  return `${sizeBytes} B`;
}

/**
 * Markdown: machine line, the cell table (with its scenario), a side-by-side table of the scenarios,
 * per-scenario server totals, failures, the repair and transport sections, then the codec section
 * around `codecTable` (codecMarkdownTable's output).
 */
export function markdownReport(report: BenchReport, codecTable: string): string {
  const m = report.machine;
  const lines = [
    `## Tessera bench ${report.startedAt}`,
    '',
    `${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, node ${m.nodeVersion}, ` +
      `commit ${m.gitCommit}${m.gitDirty ? ' (dirty)' : ''}, data dirs on ${m.dataDirFilesystem}`,
    '',
    '| scenario | op | size | conc | ops | MB/s | ops/s | p50 ms | p99 ms | server CPU s | server RSS peak MiB | client CPU s | other CPU s |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of report.cells) {
    lines.push(
      `| ${c.scenario} | ${c.op} | ${sizeLabel(c.sizeBytes)} | ${c.concurrency} | ${c.ops}${c.error === undefined ? '' : ' (failed)'} | ` +
        `${fixed(c.megabytesPerSecond, 1)} | ${fixed(c.opsPerSecond, c.opsPerSecond < 100 ? 1 : 0)} | ` +
        `${fixed(c.p50Ms, 2)} | ${fixed(c.p99Ms, 2)} | ${optional(c.serverCpuSeconds, 1)} | ` +
        `${rssColumn(c)} | ${fixed(c.clientCpuSeconds, 1)} | ${optional(c.otherCpuSeconds, 1)} |`,
    );
  }
  lines.push('', 'MB/s is 10^6 bytes per second of object data; latency is send to last response byte.');
  const clusterCell = report.cells.find((c) => (c.serverProcesses ?? 1) > 1);
  if (clusterCell !== undefined) {
    lines.push(
      `Cluster rows (${clusterCell.serverProcesses} node processes): server CPU s is the sum over the nodes; ` +
        'server RSS peak is "largest node / all nodes together" (sum of VmRSS at one poll).',
    );
  }
  lines.push(sharedMachineLine(report));
  lines.push(...sideBySide(report));
  for (const s of report.scenarios) {
    if (s.skipped !== undefined) lines.push(`Scenario "${s.name}" skipped: ${s.skipped}`);
    if (s.error !== undefined) lines.push(`Scenario "${s.name}" FAILED: ${s.error}`);
    const line = serverTotalsLine(s);
    if (line !== undefined) lines.push(line);
  }
  for (const c of report.cells.filter((cell) => cell.error !== undefined)) {
    lines.push(`FAILED ${c.scenario}: ${c.op} ${sizeLabel(c.sizeBytes)} c${c.concurrency}: ${c.error?.code} ${c.error?.message}`);
  }
  lines.push('', ...repairSection(report.repair));
  lines.push('', ...transportSection(report.transport));
  lines.push('', ...codecSection(report.codec, codecTable));
  return `${lines.join('\n')}\n`;
}

function rssColumn(c: CellReport): string {
  const mib = (bytes: number | undefined): string => optional(bytes === undefined ? undefined : bytes / MiB, 0);
  if ((c.serverProcesses ?? 1) <= 1) return mib(c.serverPeakRssBytes);
  return `${mib(c.serverPeakRssBytes)} / ${mib(c.serverPeakRssSumBytes)}`;
}

function serverTotalsLine(s: ScenarioReport): string | undefined {
  const server = s.server;
  if (server === undefined || (server.peakRssBytes === undefined && server.cpuSeconds === undefined)) return undefined;
  const mib = (bytes: number | undefined): string => optional(bytes === undefined ? undefined : bytes / MiB, 0);
  if (server.pids.length <= 1) {
    return `Server totals, ${s.name} (${server.mode} at ${server.endpoint}): peak RSS (VmHWM) ${mib(server.peakRssBytes)} MiB, CPU ${optional(server.cpuSeconds, 1)} s.`;
  }
  const endpoints = server.endpoint.split(' ');
  const target = endpoints.length > 1 ? `requests round-robin over ${endpoints.length} endpoints from ${endpoints[0] ?? ''}` : `requests to ${server.endpoint}`;
  const exits = [...new Set((server.exit ?? '-').split(', '))];
  return (
    `Server totals, ${s.name} (${server.pids.length} nodes, ${target}): peak RSS (VmHWM) largest node ${mib(server.peakRssBytes)} MiB, ` +
    `all nodes ${mib(server.peakRssSumBytes)} MiB; CPU ${optional(server.cpuSeconds, 1)} s over all nodes; ${exits.length === 1 ? `every node ${exits[0] ?? '-'}` : `exits ${server.exit ?? '-'}`}.`
  );
}

function repairSection(repair: RepairReport): string[] {
  if (repair.skipped !== undefined) return [`Repair bench skipped: ${repair.skipped}`];
  const lines = [
    `### Repair after a node's disk loss, 6 nodes (4+2) over QUIC (bench/repair.bench.ts)${repair.quick ? ' (--quick: less data)' : ''}`,
    '',
  ];
  if (repair.result !== undefined) {
    const node = `node ${repair.result.lostNode}`;
    lines.push(
      repair.markdown,
      '',
      `Node ${repair.result.lostNode} is SIGKILLed, its shard files deleted, and it is restarted; the operator's \`s3d admin heal --wait\` starts right after. ` +
        `Full redundancy is checked from the files (every data item has all its shards, total shard bytes as before, ` +
        `${node}'s files byte-identical to the lost ones). MB/s = 10^6 shard-file bytes written by rebuilds per second of heal.`,
    );
  }
  if (repair.error !== undefined) lines.push('', `Repair bench FAILED: ${repair.error}`);
  return lines;
}

function transportSection(transport: TransportReport): string[] {
  if (transport.skipped !== undefined) return [`Node-to-node transport bench skipped: ${transport.skipped}`];
  const lines = [
    `### Node-to-node transport, two processes (bench/transport.bench.ts)${transport.quick ? ' (--quick: small bulk, short ops cells)' : ''}`,
    '',
    transport.markdown === '' ? '(no table)' : transport.markdown,
  ];
  if (transport.error !== undefined) lines.push('', `Transport bench FAILED: ${transport.error}`);
  return lines;
}

// The same op x size x concurrency in each scenario that ran, next to each other, with the ratio to the first.
function sideBySide(report: BenchReport): string[] {
  const scenarios = [...new Set(report.cells.map((c) => c.scenario))];
  if (scenarios.length < 2) return [];
  const keyOf = (c: CellReport): string => `${c.op} ${c.sizeBytes} ${c.concurrency}`;
  const header = ['op', 'size', 'conc', ...scenarios.map((s) => `${s}: MB/s (ops/s)`), ...scenarios.slice(1).map((s) => `MB/s ratio: ${s} / first`)];
  const lines = ['', `| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`];
  for (const key of new Set(report.cells.map(keyOf))) {
    const cells = scenarios.map((s) => report.cells.find((c) => c.scenario === s && keyOf(c) === key));
    const first = cells.find((c) => c !== undefined)!;
    const row = [first.op, sizeLabel(first.sizeBytes), String(first.concurrency)];
    for (const c of cells) row.push(c === undefined ? '-' : `${fixed(c.megabytesPerSecond, 1)} (${fixed(c.opsPerSecond, c.opsPerSecond < 100 ? 1 : 0)})${c.error === undefined ? '' : ' failed'}`);
    const base = cells[0];
    for (const c of cells.slice(1)) {
      row.push(base === undefined || c === undefined || base.megabytesPerSecond === 0 ? '-' : `${(c.megabytesPerSecond / base.megabytesPerSecond).toFixed(2)}x`);
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function codecSection(codec: CodecReport, table: string): string[] {
  if (codec.skipped !== undefined) return [`Erasure codec bench skipped: ${codec.skipped}`];
  return [
    `### Erasure codec, single thread${codec.quick ? ' (--quick: short cells)' : ''}`,
    '',
    'MB/s = 10^6 bytes of data shards per wall-clock second (median slice); MB/CPU-s = the same per second of CPU time.',
    '',
    table,
  ];
}

// Other processes' CPU as a share of the machine's capacity over the cells: the run's noise level.
function sharedMachineLine(report: BenchReport): string {
  const cells = report.cells.filter((c) => c.otherCpuSeconds !== undefined);
  const other = cells.reduce((sum, c) => sum + (c.otherCpuSeconds ?? 0), 0);
  const capacity = (cells.reduce((sum, c) => sum + c.elapsedMs, 0) / 1000) * report.machine.cores;
  if (capacity === 0) return 'Other load: unknown.';
  const share = (100 * other) / capacity;
  const verdict = share > otherLoadNoisyPercent ? ' NOISY: the machine was shared; treat these numbers as indicative only.' : '';
  return `Other load: ${other.toFixed(1)} CPU s by other processes during the cells (${share.toFixed(0)}% of ${report.machine.cores} cores).${verdict}`;
}

/** Above this share of machine CPU used by other processes during the cells, the run is flagged NOISY. */
export const otherLoadNoisyPercent = 10;

function fixed(value: number, digits: number): string {
  return value.toFixed(digits);
}

function optional(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

/** Writes `report` to <resultsDir>/<startedAt with ':' and '.' as '-'>.json and returns the path. */
export async function writeJsonReport(resultsDir: string, report: BenchReport): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const path = join(resultsDir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
