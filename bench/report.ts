// Machine description and the two outputs of `make bench`: a Markdown table for humans and a JSON
// document (schemaVersion 1) under bench/results/ for comparing runs.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import type { CellMeasurement } from './load.js';

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
  op: 'PUT' | 'GET';
  sizeBytes: number;
  concurrency: number;
  /** Server utime + stime during the cell, in seconds; undefined when the server's pid is unknown. */
  serverCpuSeconds: number | undefined;
  /** Highest server VmRSS seen during the cell, in bytes; undefined when the server's pid is unknown. */
  serverPeakRssBytes: number | undefined;
  /** This (client) process's user + system CPU during the cell, in seconds. */
  clientCpuSeconds: number;
  /**
   * Machine-wide busy CPU during the cell not used by the server or this client, in seconds (other
   * processes, steal; includes the server when its pid is unknown). High values mean a noisy cell.
   */
  otherCpuSeconds: number | undefined;
}

/** The whole run, as written to bench/results/<timestamp>.json. */
export interface BenchReport {
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** The effective options (durations, sizes, concurrencies, endpoint mode). */
  options: Record<string, unknown>;
  server: {
    mode: 'spawned' | 'external';
    endpoint: string;
    pid: number | undefined;
    /** VmHWM at the end of the run, in bytes. */
    peakRssBytes: number | undefined;
    /** utime + stime over the whole run (start-up included), in seconds. */
    cpuSeconds: number | undefined;
    /** How the spawned server ended ("exit 0", "SIGKILL"), undefined for external servers. */
    exit: string | undefined;
  };
  cells: CellReport[];
}

/** "4 KiB", "1 MiB", "64 MiB" for power-of-two sizes; bytes otherwise. */
export function sizeLabel(sizeBytes: number): string {
  if (sizeBytes >= MiB && sizeBytes % MiB === 0) return `${sizeBytes / MiB} MiB`;
  if (sizeBytes >= 1024 && sizeBytes % 1024 === 0) return `${sizeBytes / 1024} KiB`;
  return `${sizeBytes} B`;
}

/** Markdown: machine line, the cell table, server totals, and any cell errors. */
export function markdownReport(report: BenchReport): string {
  const m = report.machine;
  const lines = [
    `## Tessera bench ${report.startedAt}`,
    '',
    `${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 1024 ** 3).toFixed(1)} GiB RAM, node ${m.nodeVersion}, ` +
      `commit ${m.gitCommit}${m.gitDirty ? ' (dirty)' : ''}, data dir on ${m.dataDirFilesystem}, ` +
      `server ${report.server.mode} at ${report.server.endpoint}`,
    '',
    '| op | size | conc | ops | MB/s | ops/s | p50 ms | p99 ms | server CPU s | server RSS peak MiB | client CPU s | other CPU s |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const c of report.cells) {
    lines.push(
      `| ${c.op} | ${sizeLabel(c.sizeBytes)} | ${c.concurrency} | ${c.ops}${c.error === undefined ? '' : ' (failed)'} | ` +
        `${fixed(c.megabytesPerSecond, 1)} | ${fixed(c.opsPerSecond, c.opsPerSecond < 100 ? 1 : 0)} | ` +
        `${fixed(c.p50Ms, 2)} | ${fixed(c.p99Ms, 2)} | ${optional(c.serverCpuSeconds, 1)} | ` +
        `${optional(c.serverPeakRssBytes === undefined ? undefined : c.serverPeakRssBytes / MiB, 0)} | ${fixed(c.clientCpuSeconds, 1)} | ${optional(c.otherCpuSeconds, 1)} |`,
    );
  }
  lines.push('', 'MB/s is 10^6 bytes per second of object data; latency is send to last response byte.');
  lines.push(sharedMachineLine(report));
  const s = report.server;
  if (s.peakRssBytes !== undefined || s.cpuSeconds !== undefined) {
    lines.push(`Server totals: peak RSS (VmHWM) ${optional(s.peakRssBytes === undefined ? undefined : s.peakRssBytes / MiB, 0)} MiB, CPU ${optional(s.cpuSeconds, 1)} s.`);
  }
  for (const c of report.cells.filter((cell) => cell.error !== undefined)) {
    lines.push(`FAILED ${c.op} ${sizeLabel(c.sizeBytes)} c${c.concurrency}: ${c.error?.code} ${c.error?.message}`);
  }
  return `${lines.join('\n')}\n`;
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
