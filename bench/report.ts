// Machine description and the two outputs of `make bench`: Markdown tables for humans and a JSON
// document under bench/results/. schemaVersion 6: scenarios (single node or cluster), cells tagged by
// scenario with server figures over one or several processes (CPU over the measured window, and per GB
// moved), the machine's limits, repair (with a phase under client load), transport and codec results.
// Version 5 took a cell's CPU over the whole cell (warm-up included) and had no CPU per GB nor repair
// under load; 4 had no limits; 3 no repair section; 2 no cluster scenarios and no transport section.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
// Type only: codec.bench.ts imports sizeLabel from here, so its table arrives rendered (see markdownReport).
import type { TransportKind } from '../src/config/schema.js';
import type { CodecResult } from './codec.bench.js';
import type { GatewayProcessUse } from './gateway-stats.js';
import type { CellMeasurement } from './load.js';
import type { RepairResult } from './repair.bench.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Where the numbers were measured. */
export interface MachineInfo {
  /** "model name" from /proc/cpuinfo, or "unknown". */
  cpuModel: string;
  /** Logical CPUs available to this process. */
  cores: number;
  memoryBytes: number;
  /**
   * The Node.js the servers ran on: what `s3d --version` says when started as the bench starts it
   * (with this process's node, which bin/s3d leaves for the pinned Node 24 only when it is older than
   * 22); this process's version when there is no s3d to ask or it cannot say. versions.node is this process's.
   */
  nodeVersion: string;
  /** `git rev-parse --short HEAD`, or "unknown". */
  gitCommit: string;
  /** Versions of what was measured and what measured it: "tessera", "s3rver", "undici", "lmdb", "@matrixai/quic"... */
  versions: Record<string, string>;
  /** True when tracked files differ from HEAD (the numbers are for uncommitted code). */
  gitDirty: boolean;
  /** Filesystem type of the server's data dir (e.g. "ext2/ext3", "tmpfs"), or "unknown". */
  dataDirFilesystem: string;
}

/**
 * Collects MachineInfo; `repoRoot` is the git work tree, `dataDir` the server's data dir (if any),
 * `serverBin` the s3d executable the bench starts (if any), asked which Node it runs on.
 */
export function machineInfo(repoRoot: string, dataDir: string | undefined, serverBin?: string): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    nodeVersion: (serverBin === undefined ? undefined : serverNodeVersion(serverBin)) ?? process.version,
    gitCommit: run('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']) ?? 'unknown',
    // --no-optional-locks: others share this work tree, so never take the index lock.
    gitDirty: (run('git', ['-C', repoRoot, '--no-optional-locks', 'status', '--porcelain', '-uno']) ?? '') !== '',
    dataDirFilesystem: dataDir === undefined ? 'unknown' : (run('stat', ['-f', '-c', '%T', dataDir]) ?? 'unknown'),
    versions: versions(repoRoot),
  };
}

/** Packages whose versions go into MachineInfo.versions: the peer, the load generator, and the engine's parts. */
export const reportedPackages: readonly string[] = [
  's3rver',
  'undici',
  'lmdb',
  '@chainsafe/libp2p-quic',
  '@digitaldefiance/reed-solomon-erasure.wasm',
  'hash-wasm',
  'hashring',
];

// "tessera": package.json's version and the commit; then each reported package as installed.
function versions(repoRoot: string): Record<string, string> {
  const commit = run('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']) ?? 'unknown';
  const out: Record<string, string> = { tessera: `${packageVersion(repoRoot) ?? 'unknown'} (${commit})`, node: process.version };
  for (const name of reportedPackages) out[name] = packageVersion(join(repoRoot, 'node_modules', name)) ?? 'not installed';
  return out;
}

// "v24.22.3" from `s3d --version` ("0.1.0 (node v24.22.3)"); undefined for a build that does not print it.
function serverNodeVersion(serverBin: string): string | undefined {
  const line = run(process.execPath, [serverBin, '--version']);
  return line === undefined ? undefined : /\(node (v[0-9][^)\s]*)\)/.exec(line)?.[1];
}

function packageVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
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
  /** Name of the scenario (server set-up) the cell ran against, e.g. "single node, 1 drive", "peer: s3rver 3.7.1". */
  scenario: string;
  /** PUT, GET, MIXED (warp's mix: 45% GET, 30% HEAD, 15% PUT, 10% DELETE) or LIST (ListObjectsV2 of one prefix). */
  op: BenchOp;
  /** Object size in bytes (LIST: the size of the listed objects). */
  sizeBytes: number;
  concurrency: number;
  /** Server processes sampled: 1 for a single server, the node count for a cluster; undefined when unknown. */
  serverProcesses: number | undefined;
  /**
   * Server utime + stime during the measured window, summed over the server processes, in seconds;
   * undefined when unknown. Sampled at the window's two edges, where `bytes` is read, so 10 ms ticks
   * per process bound its precision.
   */
  serverCpuSeconds: number | undefined;
  /**
   * serverCpuSeconds per GB (10^9 bytes) of object data moved in the window (`bytes`): the server's
   * CPU cost per byte. Undefined when the CPU is unknown or no bytes moved (LIST, a failed cell).
   */
  serverCpuSecondsPerGB: number | undefined;
  /** Highest VmRSS of any one server process seen during the cell, in bytes; undefined when unknown. */
  serverPeakRssBytes: number | undefined;
  /** Highest sum of the server processes' VmRSS seen at one poll during the cell, in bytes; undefined when unknown. */
  serverPeakRssSumBytes: number | undefined;
  /** This (client) process's user + system CPU during the measured window, in seconds. */
  clientCpuSeconds: number;
  /**
   * Machine-wide busy CPU during the measured window not used by the server or this client, in seconds (other
   * processes, steal; includes the server when its pid is unknown). High values mean a noisy cell.
   */
  otherCpuSeconds: number | undefined;
  /** The whole machine's busy CPU over the window / (cores x window), 0..1; undefined when unknown. */
  machineBusyFraction?: number | undefined;
  /**
   * Each gateway process of each node over the window (config `workers`): its share of its node's
   * requests and its event loop utilization; undefined when the server writes no gateway-workers.json.
   */
  gatewayProcesses?: GatewayProcessUse[] | undefined;
}

/** Operations a cell measures (see CellReport.op). */
export type BenchOp = 'PUT' | 'GET' | 'MIXED' | 'LIST';

/** One server set-up the cells ran against (or why it did not run). */
export interface ScenarioReport {
  /** e.g. "single node, 1 drive", "single node, 6 drives (4+2)", "peer: s3rver 3.7.1", "external". */
  name: string;
  /** Whose server: Tessera's s3d, the peer server started by the bench, or one given with --endpoint. */
  kind: 'tessera' | 'peer' | 'external';
  /** Software and version, e.g. "s3d e986ac0", "s3rver 3.7.1"; undefined for an external server. */
  software: string | undefined;
  /** Drives given to the server (1: no --drives, today's DATA/drive-1); undefined for an external server. */
  drives: number | undefined;
  /** --parity given with --drives, or the cluster's; undefined when not passed. */
  parityShards: number | undefined;
  /** Cluster nodes (one process each); undefined for a single server. */
  nodes: number | undefined;
  /** Node-to-node transport of a cluster; undefined for a single server. */
  transport: TransportKind | undefined;
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

/** One of the machine's own limits, measured in the same run (bench/limits.ts). */
export interface LimitResult {
  /** Stable id for bench-compare, e.g. "fsync-write", "file-read", "https-upload-c16", "codec-encode-4+2". */
  id: string;
  /** What was measured, for the table, e.g. "sequential write + fsync, 1 GiB in 1 MiB writes". */
  label: string;
  /** 10^6 bytes per second. */
  megabytesPerSecond: number;
  /** How it was measured (sizes, streams, the file system); shown under the table. */
  detail: string;
}

/** The machine's limits section, or why it did not run. */
export interface LimitsReport {
  quick: boolean;
  skipped: string | undefined;
  /** Why a limit could not be measured (each failure, joined); undefined when all were. */
  error: string | undefined;
  results: LimitResult[];
}

/** The whole run, as written to bench/results/<timestamp>.json. */
export interface BenchReport {
  schemaVersion: 6;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** The effective options (durations, sizes, concurrencies, endpoint mode, scenarios). */
  options: Record<string, unknown>;
  scenarios: ScenarioReport[];
  cells: CellReport[];
  limits: LimitsReport;
  /** The SVG chart written next to the JSON (bench/results/<timestamp>.svg), relative to the repo; undefined when none. */
  chart: string | undefined;
  repair: RepairReport;
  transport: TransportReport;
  codec: CodecReport;
}

/** 10^6 bytes per second; 0 for no time. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

/** "4 KiB", "1 MiB", "64 MiB", "1 GiB" for whole binary units; bytes otherwise. */
export function sizeLabel(sizeBytes: number): string {
  if (sizeBytes >= GiB && sizeBytes % GiB === 0) return `${sizeBytes / GiB} GiB`;
  if (sizeBytes >= MiB && sizeBytes % MiB === 0) return `${sizeBytes / MiB} MiB`;
  if (sizeBytes >= 1024 && sizeBytes % 1024 === 0) return `${sizeBytes / 1024} KiB`;
  return `${sizeBytes} B`;
}

/**
 * Markdown: machine and versions, the machine's limits, the side-by-side table (each op x size x
 * concurrency across the scenarios, the peer last, with best Tessera / peer), every cell in full,
 * per-scenario server totals and failures, then the repair, transport and codec sections around
 * `codecTable` (codecMarkdownTable's output).
 */
export function markdownReport(report: BenchReport, codecTable: string): string {
  const m = report.machine;
  const lines = [
    `## Tessera bench ${report.startedAt}`,
    '',
    `${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, s3d on node ${m.nodeVersion}, ` +
      `commit ${m.gitCommit}${m.gitDirty ? ' (dirty)' : ''}, data dirs on ${m.dataDirFilesystem}`,
    '',
    `Versions: ${Object.entries(m.versions).map(([name, version]) => `${name} ${version}`).join(', ')}`,
    '',
    ...limitsSection(report.limits),
    '',
    ...sideBySide(report),
    '',
    ...cpuPerGigabyteTable(report),
    ...gatewayProcessTable(report),
    '',
    ...cellTable(report),
  ];
  for (const sc of report.scenarios) {
    if (sc.skipped !== undefined) lines.push(`Scenario "${sc.name}" skipped: ${sc.skipped}`);
    if (sc.error !== undefined) lines.push(`Scenario "${sc.name}" FAILED: ${sc.error}`);
    const line = serverTotalsLine(sc);
    if (line !== undefined) lines.push(line);
  }
  const peers = new Set(report.scenarios.filter((sc) => sc.kind === 'peer').map((sc) => sc.name));
  for (const c of report.cells.filter((cell) => cell.error !== undefined)) {
    const whose = peers.has(c.scenario) ? ' (the peer; not counted as a failure of the run)' : '';
    lines.push(`FAILED ${c.scenario}: ${c.op} ${sizeLabel(c.sizeBytes)} c${c.concurrency}: ${c.error?.code} ${c.error?.message}${whose}`);
  }
  lines.push('', ...repairSection(report.repair));
  lines.push('', ...transportSection(report.transport));
  lines.push('', ...codecSection(report.codec, codecTable));
  return `${lines.join('\n')}\n`;
}

function limitsSection(limits: LimitsReport): string[] {
  if (limits.skipped !== undefined) return [`The machine's limits: skipped (${limits.skipped})`];
  const lines = [`### The machine's limits${limits.quick ? ' (--quick: less data, shorter windows)' : ''}`, '', '| limit | MB/s | how |', '|---|--:|---|'];
  for (const r of limits.results) lines.push(`| ${r.label} | ${fixed(r.megabytesPerSecond, 0)} | ${r.detail} |`);
  if (limits.error !== undefined) lines.push('', `Not measured: ${limits.error}`);
  return lines;
}

/** Below this size a cell's headline figure is ops/s; from it up, MB/s. LIST cells always show ops/s. */
export const headlineMegabytesMinBytes = 1024 * 1024;

// A cell's headline figure: MB/s for 1 MiB and larger objects, ops/s for small objects and LIST.
function headline(c: CellReport): number {
  return c.op === 'LIST' || c.sizeBytes < headlineMegabytesMinBytes ? c.opsPerSecond : c.megabytesPerSecond;
}

function headlineText(c: CellReport | undefined): string {
  if (c === undefined) return '-';
  const failed = c.error === undefined ? '' : ' FAILED';
  if (c.op === 'LIST') return `${fixed(c.opsPerSecond, c.opsPerSecond < 100 ? 1 : 0)} (${fixed((c.opCounts?.['objects'] ?? 0) / (c.elapsedMs / 1000), 0)} obj/s)${failed}`;
  if (c.sizeBytes < headlineMegabytesMinBytes) return `${fixed(c.opsPerSecond, 0)} ops/s${failed}`;
  return `${fixed(c.megabytesPerSecond, 1)}${failed}`;
}

// The same op x size x concurrency in each scenario that ran, next to each other, the peer last,
// then the best Tessera scenario's headline over the peer's.
function sideBySide(report: BenchReport): string[] {
  const kinds = new Map(report.scenarios.map((sc) => [sc.name, sc.kind]));
  const ran = [...new Set(report.cells.map((c) => c.scenario))];
  const scenarios = [...ran.filter((name) => kinds.get(name) !== 'peer'), ...ran.filter((name) => kinds.get(name) === 'peer')];
  if (scenarios.length === 0) return [];
  const peer = scenarios.find((name) => kinds.get(name) === 'peer');
  const header = ['op', 'size', 'conc', ...scenarios, ...(peer === undefined ? [] : ['best Tessera / peer'])];
  const lines = [
    '### Side by side',
    '',
    'MB/s (10^6 bytes of object data per second) for 1 MiB and 64 MiB objects; ops/s for 4 KiB objects; LIST: ' +
      'ListObjectsV2 requests/s (each lists the whole prefix), with objects listed per second.',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i < 2 ? '---' : '--:')).join('|')}|`,
  ];
  const keyOf = (c: CellReport): string => `${c.op} ${c.sizeBytes} ${c.concurrency}`;
  for (const key of new Set(report.cells.map(keyOf))) {
    const cells = scenarios.map((name) => report.cells.find((c) => c.scenario === name && keyOf(c) === key));
    const first = cells.find((c) => c !== undefined)!;
    const row = [first.op, sizeLabel(first.sizeBytes), String(first.concurrency), ...cells.map(headlineText)];
    if (peer !== undefined) {
      const peerCell = cells[scenarios.indexOf(peer)];
      const best = Math.max(0, ...cells.filter((c, i) => c !== undefined && c.error === undefined && scenarios[i] !== peer).map((c) => headline(c!)));
      row.push(peerCell === undefined || peerCell.error !== undefined || headline(peerCell) === 0 || best === 0 ? '-' : `${(best / headline(peerCell)).toFixed(2)}x`);
    }
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

function cellTable(report: BenchReport): string[] {
  const lines = [
    '### Every cell',
    '',
    '| scenario | op | size | conc | ops | MB/s | ops/s | p50 ms | p99 ms | p99.9 ms | server CPU s | server CPU s/GB | server RSS peak MiB | client CPU s | other CPU s |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of report.cells) {
    lines.push(
      `| ${c.scenario} | ${c.op} | ${sizeLabel(c.sizeBytes)} | ${c.concurrency} | ${c.ops}${c.error === undefined ? '' : ' (failed)'} | ` +
        `${fixed(c.megabytesPerSecond, 1)} | ${fixed(c.opsPerSecond, c.opsPerSecond < 100 ? 1 : 0)} | ` +
        `${latency(c, c.p50Ms)} | ${latency(c, c.p99Ms)} | ${latency(c, c.p999Ms)} | ${optional(c.serverCpuSeconds, 1)} | ${perGigabyte(c.serverCpuSecondsPerGB)} | ` +
        `${rssColumn(c)} | ${fixed(c.clientCpuSeconds, 1)} | ${optional(c.otherCpuSeconds, 1)} |`,
    );
  }
  const windowMs = report.cells[0]?.elapsedMs;
  lines.push(
    '',
    `Each cell: closed-loop workers (conc) for a warm-up, then a measured window of about ${windowMs === undefined ? '-' : (windowMs / 1000).toFixed(1)} s; ` +
      'requests still in flight at its end are aborted. MB/s counts object bytes that moved inside the window (a 64 MiB request ' +
      'in flight counts the part sent or received), ops and latency the requests that completed inside it; latency is send to ' +
      'last response byte, "-" when none completed. MIXED is warp\'s mix (45% GET, 30% HEAD, 15% PUT, 10% DELETE; MB/s counts GET and PUT bytes). ' +
      'CPU columns are taken over the same window (server CPU s/GB = server CPU s per 10^9 bytes of object data moved in it); RSS over the whole cell.',
  );
  const clusterCell = report.cells.find((c) => (c.serverProcesses ?? 1) > 1);
  if (clusterCell !== undefined) {
    lines.push(
      `Cluster rows (${clusterCell.serverProcesses} node processes): server CPU s is the sum over the nodes; ` +
        'server RSS peak is "largest node / all nodes together" (sum of VmRSS at one poll).',
    );
  }
  lines.push(sharedMachineLine(report));
  return lines;
}

// Per cell with several gateway processes on a node (config workers > 1): each process's share of the
// requests and its event loop utilization (ELU), node 1 only for a cluster (the others look alike),
// and how busy the whole machine was: a cell is CPU-bound, not loop-bound, when every ELU stays well
// under 100% while the machine is near 100%.
function gatewayProcessTable(report: BenchReport): string[] {
  const cells = report.cells.filter((c) => (c.gatewayProcesses ?? []).filter((p) => p.node === 1 && p.role === 'gateway').length > 1);
  if (cells.length === 0) return [];
  const lines = [
    '### Gateway processes (config workers)',
    '',
    'Per cell, node 1\'s processes over the measured window: requests share and event loop utilization of each gateway worker (w1, w2, ...), the node\'s own process (background work, shard server), and the whole machine\'s CPU use.',
    '',
    '| scenario | op | size | conc | requests per worker | worker ELU | node process ELU | machine busy |',
    '|---|---|---|--:|---|---|--:|--:|',
  ];
  const percent = (value: number | undefined): string => (value === undefined ? '-' : `${Math.round(value * 100)}%`);
  for (const c of cells) {
    const processes = (c.gatewayProcesses ?? []).filter((p) => p.node === 1);
    const workers = processes.filter((p) => p.role === 'gateway');
    const nodeProcess = processes.find((p) => p.role === 'node');
    lines.push(`| ${c.scenario} | ${c.op} | ${sizeLabel(c.sizeBytes)} | ${c.concurrency} | ${workers.map((w) => percent(w.requestShare)).join(' / ')} | ` +
      `${workers.map((w) => percent(w.eventLoopUtilization)).join(' / ')} | ${percent(nodeProcess?.eventLoopUtilization)} | ${percent(c.machineBusyFraction)} |`);
  }
  return lines;
}

// Server CPU seconds per GB moved, PUT and GET at each size, at every concurrency above 1 (c1 measures
// a mostly idle server), one column per scenario: the cost per byte of each server set-up side by side.
function cpuPerGigabyteTable(report: BenchReport): string[] {
  const cells = report.cells.filter((c) => (c.op === 'PUT' || c.op === 'GET') && c.serverCpuSecondsPerGB !== undefined);
  if (cells.length === 0) return [];
  const scenarios = [...new Set(cells.map((c) => c.scenario))];
  const concurrencies = [...new Set(cells.map((c) => c.concurrency))];
  const shown = concurrencies.some((n) => n > 1) ? concurrencies.filter((n) => n > 1) : concurrencies;
  const rows = cells.filter((c) => shown.includes(c.concurrency));
  const keyOf = (c: CellReport): string => `${c.op} ${c.sizeBytes} ${c.concurrency}`;
  const lines = [
    '### Server CPU per GB moved',
    '',
    'Server CPU seconds (all processes of the server summed) per 10^9 bytes of object data moved, over each cell\'s measured window; lower is cheaper.',
    '',
    `| op | size | conc | ${scenarios.join(' | ')} |`,
    `|---|---|--:|${scenarios.map(() => '--:').join('|')}|`,
  ];
  for (const key of new Set(rows.map(keyOf))) {
    const first = rows.find((c) => keyOf(c) === key)!;
    const values = scenarios.map((name) => {
      const c = rows.find((cell) => cell.scenario === name && keyOf(cell) === key);
      return c === undefined ? '-' : `${perGigabyte(c.serverCpuSecondsPerGB)}${c.error === undefined ? '' : ' FAILED'}`;
    });
    lines.push(`| ${first.op} | ${sizeLabel(first.sizeBytes)} | ${first.concurrency} | ${values.join(' | ')} |`);
  }
  return lines;
}

// Three significant digits at most, no exponent: 0.812, 4.53, 18.6, 312.
function perGigabyte(value: number | undefined): string {
  if (value === undefined) return '-';
  return value.toFixed(value < 1 ? 3 : value < 10 ? 2 : value < 100 ? 1 : 0);
}

function latency(c: CellReport, ms: number): string {
  return c.ops === 0 ? '-' : fixed(ms, ms < 10 ? 2 : 0);
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
    const u = repair.result.underLoad;
    lines.push(
      repair.markdown,
      '',
      `Node ${repair.result.lostNode} is SIGKILLed, its shard files deleted, and it is restarted; the operator's \`s3d admin heal --wait\` starts right after. ` +
        `Full redundancy is checked from the files (every data item has all its shards, total shard bytes as before, ` +
        `${node}'s files byte-identical to the lost ones). MB/s = 10^6 shard-file bytes written by rebuilds per second of heal. ` +
        'The GET load (closed-loop workers over every node, each GET checked like a cell\'s) runs once after that heal with no repair running; its objects are written ' +
        `then, so the first loss is exactly the data above.${u === undefined ? '' : ` After the first heal node ${u.lostNode}'s disk is lost the same way, and the GET load runs from the start ` +
        'of `s3d admin heal --wait` (normal priority: repair yields to clients) to its exit; redundancy is checked again.'}`,
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
