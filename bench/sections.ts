// The sections beside the scenarios: the machine's limits (limits.ts), repair after a node's disk
// loss (repair.bench.ts), the node-to-node transport (transport.bench.ts, a child process) and the
// erasure codec (codec.bench.ts). Each returns its report; a skipped section says why.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCodecBench } from './codec.bench.js';
import { runLimits } from './limits.js';
import type { Options } from './options.js';
import { repairLoadWindowMs } from './repair-load.js';
import { repairDataMibDefault, repairMarkdown, runRepairBench } from './repair.bench.js';
import { sizeLabel, type CodecReport, type LimitsReport, type RepairReport, type TransportReport } from './report.js';

const MiB = 1024 * 1024;

/** bench/transport.bench.ts arguments: full run, then --quick (bulk MiB per cell, ms per ops cell). */
export const transportBulkMib = 32;
export const transportOpsDurationMs = 1_000;
export const transportBulkMibQuick = 32;
export const transportOpsDurationMsQuick = 1_000;
/** MiB the repair section writes before it loses a node's disk: issue 13's case, 512 MiB of 16 MiB objects. */
export const repairDataMibInBench = repairDataMibDefault;
/** The transport bench is killed after this long. */
export const transportBenchTimeoutMs = 600_000;
/** Its stdout is kept up to this many bytes (a Markdown table, then JSON). */
const transportBenchOutputMaxBytes = 16 * MiB;

/** bench/limits.ts in this process (run first, while nothing else runs); a limit it cannot measure fails nothing. */
export async function runMachineLimits(options: Options): Promise<LimitsReport> {
  if (!options.limits) return { quick: options.quick, skipped: '--no-limits', error: undefined, results: [] };
  process.stderr.write(`bench: the machine's limits${options.quick ? ' (quick)' : ''}...\n`);
  const limits = await runLimits({ quick: options.quick, dir: options.dataDirParent });
  // A limit the machine cannot measure (e.g. no O_DIRECT) is reported under the table; it fails nothing.
  if (limits.error !== undefined) process.stderr.write(`bench: limits not measured: ${limits.error}\n`);
  return limits;
}

/**
 * Hook for bench/transport.bench.ts (QUIC, TLS and TCP between two processes). That module runs its own
 * main() on import and exports nothing, so it runs as a child process (dist/bench/transport.bench.js):
 * its stdout is a Markdown table, then a JSON document with `cells[]`. A cell named "failed" or a
 * non-zero exit is this section's error (the run exits 1); a missing module is a skip.
 */
export async function runTransport(options: Options, repoRoot: string): Promise<TransportReport> {
  const quick = options.quick;
  if (!options.transport) return { quick, skipped: '--no-transport', error: undefined, markdown: '', result: undefined };
  const script = join(repoRoot, 'dist', 'bench', 'transport.bench.js');
  if (!existsSync(script)) return { quick, skipped: `${script} not built`, error: undefined, markdown: '', result: undefined };
  const bulkMib = quick ? transportBulkMibQuick : transportBulkMib;
  const opsDurationMs = quick ? transportOpsDurationMsQuick : transportOpsDurationMs;
  process.stderr.write(`bench: node-to-node transport (${bulkMib} MiB bulk, ${opsDurationMs} ms ops cells)...\n`);
  const args = [script, '--transport', 'all', '--bulk-mib', String(bulkMib), '--ops-duration-ms', String(opsDurationMs)];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: transportBenchTimeoutMs, maxBuffer: transportBenchOutputMaxBytes }));
  } catch (err) {
    const failure = err as { stdout?: string; stderr?: string; message: string };
    const detail = (failure.stderr ?? '').trim().split('\n').slice(-5).join(' ');
    const error = `transport.bench.js failed: ${failure.message.split('\n')[0]}${detail === '' ? '' : `: ${detail}`}`;
    return { quick, skipped: undefined, error, markdown: transportMarkdown(failure.stdout ?? ''), result: undefined };
  }
  const markdown = transportMarkdown(stdout);
  const result = transportJson(stdout);
  return { quick, skipped: undefined, error: transportError(result), markdown, result };
}

// transport.bench.ts catches a transport's failure and reports it as a cell named "failed" (exit 0).
function transportError(result: TransportReport['result']): string | undefined {
  if (result === undefined) return 'transport.bench.js printed no JSON document';
  const failed = result.cells.filter((cell) => cell.cell === 'failed');
  if (failed.length === 0) return undefined;
  return `transport.bench.js: ${failed.map((cell) => `${cell.transport}: ${(cell.note ?? '').split('\n')[0]}`).join('; ')}`;
}

// The table is everything before the JSON document, which starts at the first line that is "{".
function transportMarkdown(stdout: string): string {
  const at = stdout.search(/^\{$/m);
  return (at < 0 ? stdout : stdout.slice(0, at)).trim();
}

function transportJson(stdout: string): TransportReport['result'] {
  const at = stdout.search(/^\{$/m);
  if (at < 0) return undefined;
  try {
    const parsed = JSON.parse(stdout.slice(at)) as { cells?: unknown };
    return Array.isArray(parsed.cells) ? (parsed as TransportReport['result']) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * bench/repair.bench.ts in this process: a fresh cluster of its own, one node's disk lost and `s3d
 * admin heal --wait`, then a second node's disk lost and healed under a 1 MiB GET load.
 */
export async function runRepair(options: Options, binPath: string, onCluster: (cluster: { stop: () => Promise<unknown> }) => void): Promise<RepairReport> {
  const quick = options.quick;
  const dataMib = repairDataMibInBench;
  if (!options.repair) return { quick, dataMib, skipped: '--no-repair', error: undefined, markdown: '', result: undefined };
  const run = await runRepairBench({ binPath, dataMib, loadWindowMs: repairLoadWindowMs, dataDirParent: options.dataDirParent, keepData: options.keepData, onCluster });
  if (run.error !== undefined) process.stderr.write(`bench: repair FAILED: ${run.error}\n`);
  const markdown = run.result === undefined ? '' : repairMarkdown(run.result);
  return { quick, dataMib, skipped: undefined, error: run.error, markdown, result: run.result };
}

/** The codec cells that go into the limits table: Tessera's default layout (4+2) and 1 MiB shards, with the kernel the server uses. */
export const codecLimitLayout = '4+2';
export const codecLimitShardBytes = 1 * MiB;
export const codecLimitImplementation = 'simd';

// The erasure codec's ceiling beside the other limits: encode and a two-shard reconstruct, one core.
export function codecLimits(codec: CodecReport): LimitsReport['results'] {
  const cells = codec.results.filter((r) => r.layout === codecLimitLayout && r.shardBytes === codecLimitShardBytes && r.implementation === codecLimitImplementation);
  return cells.map((r) => ({
    id: `codec-${r.operation === 'encode' ? 'encode' : 'reconstruct'}-${r.layout}`,
    label: `erasure ${r.operation} ${r.layout}, ${sizeLabel(r.shardBytes)} shards, one core`,
    megabytesPerSecond: r.mbPerSecond,
    detail: `${r.implementation} kernel (the server's), data-shard bytes per second, median slice; ${r.cpuMbPerSecond.toFixed(0)} MB per CPU-s; the codec section below has every layout`,
  }));
}

/** bench/codec.bench.ts in this process, short cells; --no-codec skips it. */
export async function runCodec(options: Options): Promise<CodecReport> {
  if (!options.codec) return { quick: options.quick, skipped: '--no-codec', results: [] };
  // Short cells in the suite (its medians are steady at that length); `node dist/bench/codec.bench.js` runs the long ones.
  process.stderr.write('bench: erasure codec (short cells)...\n');
  return { quick: true, skipped: undefined, results: await runCodecBench({ quick: true }) };
}
