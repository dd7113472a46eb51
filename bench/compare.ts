// `make bench-compare A.json B.json`: every figure present in two bench results (schemaVersion 4, 5
// or 6), side by side with the ratio B/A and a verdict, as Markdown. Reading and comparing are pure
// functions (reportFigures, compareReports, comparisonMarkdown); only the CLI at the bottom does I/O.
// Standalone: `node dist/bench/compare.js A.json B.json [--threshold 0.1]`; exit 2 on unreadable input.

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../src/util/errors.js';
import type { BenchReport, CellReport, LimitsReport } from './report.js';
import { otherLoadNoisyPercent, sizeLabel } from './report.js';

/**
 * Result schema versions this tool reads (4: no limits, cells without p999Ms/opCounts; 4 and 5: no
 * serverCpuSecondsPerGB, and serverCpuSeconds over the whole cell, so it is not compared).
 */
export const compareSchemaVersions: readonly number[] = [4, 5, 6];
/** Default half-width of the "same" band around a ratio of 1 (0.1: B/A within 0.9..1.1). */
export const compareThresholdDefault = 0.1;
/** "Only in A/B" lines name at most this many measures or ids per group, then a count of the rest. */
export const onlyInListedMax = 12;
/** Exit code for unreadable or invalid input (and bad arguments). */
export const compareInputExitCode = 2;

/** A schemaVersion 4, 5 or 6 result, as far as comparing needs it. */
export type ComparableReport = Omit<BenchReport, 'schemaVersion' | 'limits' | 'chart' | 'cells'> & {
  schemaVersion: 4 | 5 | 6;
  /** Absent in version 4. */
  limits?: LimitsReport | undefined;
  /** Version 4 cells have no p999Ms or opCounts; versions 4 and 5 no serverCpuSecondsPerGB. */
  cells: Array<Omit<CellReport, 'p999Ms' | 'opCounts' | 'serverCpuSecondsPerGB'> & Partial<Pick<CellReport, 'p999Ms' | 'opCounts' | 'serverCpuSecondsPerGB'>>>;
};

/** One number of a result, e.g. a cell's MB/s or a limit. */
export interface Figure {
  value: number;
  /** "MB/s", "ops/s", "ms", "s", "s/GB", or the transport cell's own unit. */
  unit: string;
  /** True for latency and seconds: a smaller B is better. */
  lowerIsBetter: boolean;
}

export type Verdict = 'better' | 'worse' | 'same';

/** One figure present in both results. */
export interface FigureComparison extends Figure {
  key: string;
  /** `value` is A's; this is B's. */
  valueB: number;
  /** B / A; undefined when A is 0 and B is not. */
  ratio: number | undefined;
  verdict: Verdict;
}

export interface ReportComparison {
  threshold: number;
  /** In A's order. */
  both: FigureComparison[];
  onlyInA: string[];
  onlyInB: string[];
  /** Cells skipped because they failed (their figures are partial), per side. */
  failedCellsA: number;
  failedCellsB: number;
  /** True when the CPU model or core count differ. */
  machinesDiffer: boolean;
}

export type CompareInputErrorCode = 'NotJson' | 'NotABenchResult' | 'UnsupportedSchemaVersion' | 'Unreadable';

/** Input that cannot be compared; `code` is stable, the message names the file and the problem. */
export class CompareInputError extends TesseraError<CompareInputErrorCode> {
  constructor(code: CompareInputErrorCode, file: string, problem: string) {
    super(code, `${file}: ${problem}`, { file });
    this.name = 'CompareInputError';
  }
}

/**
 * Parses a bench result file's text. Throws CompareInputError: NotJson, NotABenchResult (not an
 * object, no numeric schemaVersion, no cells array or machine object), UnsupportedSchemaVersion
 * (not in compareSchemaVersions). `file` only names the input in messages.
 */
export function parseReport(text: string, file: string): ComparableReport {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new CompareInputError('NotJson', file, `not JSON (${(err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ')})`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new CompareInputError('NotABenchResult', file, 'not a bench result: the JSON is not an object');
  }
  const fields = document as Record<string, unknown>;
  const version = fields['schemaVersion'];
  if (typeof version !== 'number') throw new CompareInputError('NotABenchResult', file, 'not a bench result: no schemaVersion');
  if (!compareSchemaVersions.includes(version)) {
    throw new CompareInputError(
      'UnsupportedSchemaVersion',
      file,
      `unsupported schemaVersion ${version} (bench-compare reads ${compareSchemaVersions.join(', ')}; rerun the bench to get a current one)`,
    );
  }
  if (!Array.isArray(fields['cells'])) throw new CompareInputError('NotABenchResult', file, 'not a bench result: no cells array');
  if (typeof fields['machine'] !== 'object' || fields['machine'] === null) throw new CompareInputError('NotABenchResult', file, 'not a bench result: no machine object');
  return document as ComparableReport;
}

/**
 * Every figure of `report`, keyed so that the same measurement in another result has the same key:
 * cells ("scenario | op | size | cN | measure": MB/s, ops/s, p50/p99/p999 latency in ms, server CPU
 * s per GB from version 6; LIST has no MB/s; failed cells are left out), limits ("limit | id"), repair
 * ("repair | ...", from version 6 also the GET p99 with no repair running and under repair), transport
 * ("transport | quic | cell") and codec ("codec | impl | layout | shard size | operation"). Insertion
 * order is the report's order. Missing sections and non-numeric values are skipped, never thrown on.
 */
export function reportFigures(report: ComparableReport): Map<string, Figure> {
  const figures = new Map<string, Figure>();
  const add = (key: string, value: unknown, unit: string, lowerIsBetter = false): void => {
    if (typeof value === 'number' && Number.isFinite(value)) figures.set(key, { value, unit, lowerIsBetter });
  };
  for (const c of report.cells ?? []) {
    if (c.error !== undefined) continue;
    const key = `${c.scenario ?? '(no scenario)'} | ${c.op} | ${sizeLabel(c.sizeBytes)} | c${c.concurrency}`;
    if (c.op !== 'LIST') add(`${key} | throughput`, c.megabytesPerSecond, 'MB/s');
    add(`${key} | request rate`, c.opsPerSecond, 'ops/s');
    add(`${key} | p50 latency`, c.p50Ms, 'ms', true);
    add(`${key} | p99 latency`, c.p99Ms, 'ms', true);
    add(`${key} | p999 latency`, c.p999Ms, 'ms', true);
    add(`${key} | server CPU per GB`, c.serverCpuSecondsPerGB, 's/GB', true);
  }
  for (const l of report.limits?.results ?? []) add(`limit | ${l.id}`, l.megabytesPerSecond, 'MB/s');
  const repair = report.repair?.result;
  if (repair !== undefined) {
    add('repair | node loss to full redundancy', repair.lossToRedundancySeconds, 's', true);
    add('repair | repair throughput', repair.repairMegabytesPerSecond, 'MB/s');
    // Version 6: the GET load with no repair running and during a second heal. Older results lack the fields.
    add('repair | GET p99 with no repair running', repair.getBaseline?.p99Ms, 'ms', true);
    add('repair | under client load: GET p99 during repair', repair.underLoad?.duringRepair.p99Ms, 'ms', true);
    add('repair | under client load: GET p99 ratio to before', repair.underLoad?.p99Ratio, 'x', true);
    add('repair | under client load: repair throughput', repair.underLoad?.repairMegabytesPerSecond, 'MB/s');
  }
  for (const t of report.transport?.result?.cells ?? []) add(`transport | ${t.transport} | ${t.cell}`, t.value, t.unit, isTimeUnit(t.unit));
  for (const r of report.codec?.results ?? []) {
    const operation = r.operation === 'encode' ? 'encode' : `reconstruct ${r.lostShards.length} data`;
    const key = `codec | ${r.implementation} | ${r.layout} | ${sizeLabel(r.shardBytes)} | ${operation}`;
    add(key, r.mbPerSecond, 'MB/s');
    add(`${key} | per CPU second`, r.cpuMbPerSecond, 'MB/CPU-s');
  }
  return figures;
}

function isTimeUnit(unit: string): boolean {
  return /^(ms|s|seconds?|µs|us|ns)$/.test(unit);
}

/**
 * Compares every figure of `a` and `b`: B/A and a verdict, "same" while the ratio stays within
 * 1 ± `threshold` (a fraction, >= 0), else better or worse by the figure's direction (for latency,
 * seconds and CPU per GB lower is better). A = 0: same when B = 0, else no ratio and the direction decides.
 */
export function compareReports(a: ComparableReport, b: ComparableReport, threshold: number): ReportComparison {
  if (!(threshold >= 0)) throw new RangeError(`threshold must be a fraction >= 0, got ${threshold}`);
  const figuresA = reportFigures(a);
  const figuresB = reportFigures(b);
  const both: FigureComparison[] = [];
  for (const [key, figure] of figuresA) {
    const other = figuresB.get(key);
    if (other === undefined) continue;
    const ratio = figure.value === 0 ? (other.value === 0 ? 1 : undefined) : other.value / figure.value;
    both.push({ key, ...figure, valueB: other.value, ratio, verdict: verdictOf(figure.value, other.value, ratio, threshold, figure.lowerIsBetter) });
  }
  return {
    threshold,
    both,
    onlyInA: [...figuresA.keys()].filter((key) => !figuresB.has(key)),
    onlyInB: [...figuresB.keys()].filter((key) => !figuresA.has(key)),
    failedCellsA: failedCells(a),
    failedCellsB: failedCells(b),
    machinesDiffer: a.machine.cpuModel !== b.machine.cpuModel || a.machine.cores !== b.machine.cores,
  };
}

function verdictOf(a: number, b: number, ratio: number | undefined, threshold: number, lowerIsBetter: boolean): Verdict {
  const grew = ratio === undefined ? b > a : ratio > 1 + threshold;
  const shrank = ratio === undefined ? b < a : ratio < 1 - threshold;
  if (!grew && !shrank) return 'same';
  return grew !== lowerIsBetter ? 'better' : 'worse';
}

function failedCells(report: ComparableReport): number {
  return (report.cells ?? []).filter((c) => c.error !== undefined).length;
}

/** The Markdown the CLI prints: header lines (both files' commit, date, machine), the table, then the figures in only one file. */
export function comparisonMarkdown(comparison: ReportComparison, a: { file: string; report: ComparableReport }, b: { file: string; report: ComparableReport }): string {
  const lines = [`## Bench comparison: A = ${a.file}, B = ${b.file}`, '', `- A: ${describe(a.report)}`, `- B: ${describe(b.report)}`];
  if (comparison.machinesDiffer) {
    lines.push(`- WARNING: the machines differ (A: ${machineOf(a.report)}; B: ${machineOf(b.report)}), so ratios measure the hardware as well as the code.`);
  }
  for (const [side, count] of [['A', comparison.failedCellsA], ['B', comparison.failedCellsB]] as const) {
    if (count > 0) lines.push(`- ${side} has ${count} failed cell${count === 1 ? '' : 's'}, left out (their figures are partial).`);
  }
  const percent = `${(comparison.threshold * 100).toFixed(0)}%`;
  lines.push(
    `- Verdict: better or worse when B/A moves more than ${percent} from 1, else same; for latency (ms), seconds, CPU s/GB and the repair's p99 ratio (x) lower is better.`,
    '',
    '| figure | unit | A | B | B/A | verdict |',
    '|---|---|--:|--:|--:|---|',
  );
  for (const f of comparison.both) {
    const ratio = f.ratio === undefined ? '-' : f.ratio.toFixed(2);
    lines.push(`| ${escapeCell(f.key)} | ${escapeCell(f.unit)} | ${number(f.value)} | ${number(f.valueB)} | ${ratio} | ${f.verdict === 'same' ? 'same' : `**${f.verdict}**`} |`);
  }
  const count = (verdict: Verdict): number => comparison.both.filter((f) => f.verdict === verdict).length;
  lines.push('', `${comparison.both.length} figures in both: ${count('better')} better, ${count('worse')} worse, ${count('same')} same (±${percent}).`);
  lines.push(...onlyIn('A', comparison.onlyInA), ...onlyIn('B', comparison.onlyInB));
  return `${lines.join('\n')}\n`;
}

function describe(report: ComparableReport): string {
  const m = report.machine;
  return `commit ${m.gitCommit}${m.gitDirty ? ' (dirty)' : ''}, started ${report.startedAt}, ${machineOf(report)}, node ${m.nodeVersion}, schemaVersion ${report.schemaVersion}${otherLoad(report)}`;
}

// Other processes' CPU during the cells as a share of the machine (as in the bench's own table): a noisy run's ratios mean little.
function otherLoad(report: ComparableReport): string {
  const cells = (report.cells ?? []).filter((c) => typeof c.otherCpuSeconds === 'number');
  const capacitySeconds = (cells.reduce((sum, c) => sum + c.elapsedMs, 0) / 1000) * report.machine.cores;
  if (capacitySeconds === 0) return '';
  const share = (100 * cells.reduce((sum, c) => sum + (c.otherCpuSeconds ?? 0), 0)) / capacitySeconds;
  return `, other load ${share.toFixed(0)}% during the cells${share > otherLoadNoisyPercent ? ' (NOISY)' : ''}`;
}

function machineOf(report: ComparableReport): string {
  return `${report.machine.cpuModel}, ${report.machine.cores} cores`;
}

// Grouped by the key's first part (scenario, "limit", "repair", "transport", "codec"), each with its
// count and the last parts (the measure or id) it holds, so hundreds of figures stay a few lines.
function onlyIn(side: 'A' | 'B', keys: readonly string[]): string[] {
  if (keys.length === 0) return [`Only in ${side}: none.`];
  const groups = new Map<string, Map<string, number>>();
  for (const key of keys) {
    const parts = key.split(' | ');
    const group = groups.get(parts[0] ?? key) ?? new Map<string, number>();
    const last = parts.length > 1 ? (parts[parts.length - 1] ?? key) : key;
    group.set(last, (group.get(last) ?? 0) + 1);
    groups.set(parts[0] ?? key, group);
  }
  const lines = [`Only in ${side} (${keys.length} figure${keys.length === 1 ? '' : 's'}):`];
  for (const [name, lasts] of groups) {
    const count = [...lasts.values()].reduce((sum, n) => sum + n, 0);
    const listed = [...lasts].slice(0, onlyInListedMax).map(([last, n]) => (n === 1 ? last : `${last} x${n}`));
    const rest = lasts.size > onlyInListedMax ? `; ... ${lasts.size - onlyInListedMax} more` : '';
    lines.push(`- ${name}: ${count} (${listed.join('; ')}${rest})`);
  }
  return lines;
}

// Up to 4 significant digits without an exponent: 12345, 393.6, 85.23, 0.7512.
function number(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1000 || value === 0) return value.toFixed(0);
  if (magnitude >= 100) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function readReport(file: string): ComparableReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CompareInputError('Unreadable', file, `cannot read (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseReport(text, file);
}

function parseThreshold(value: string): number {
  const threshold = Number(value);
  if (!Number.isFinite(threshold) || threshold < 0) throw new InvalidArgumentError('a fraction >= 0, e.g. 0.1 for ±10%');
  return threshold;
}

function main(argv: string[]): number {
  const program = new Command('bench-compare')
    .description('compare two bench results (bench/results/*.json, schemaVersion 4, 5 or 6): every figure in both, B/A and a verdict, as Markdown')
    .argument('<a>', 'the baseline result (A)')
    .argument('<b>', 'the result compared with it (B)')
    .option('--threshold <fraction>', 'B/A within 1 ± this is "same"', parseThreshold, compareThresholdDefault)
    .exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    // Commander already printed its message; --help and --version are not errors.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : compareInputExitCode;
    throw err;
  }
  const [fileA, fileB] = program.args as [string, string];
  const { threshold } = program.opts<{ threshold: number }>();
  try {
    const a = readReport(fileA);
    const b = readReport(fileB);
    process.stdout.write(comparisonMarkdown(compareReports(a, b, threshold), { file: fileA, report: a }, { file: fileB, report: b }));
    return 0;
  } catch (err) {
    if (!(err instanceof CompareInputError)) throw err;
    process.stderr.write(`bench-compare: ${err.message}\n`);
    return compareInputExitCode;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv);
  } catch (err) {
    process.stderr.write(`bench-compare: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
