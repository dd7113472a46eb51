// Erasure codec throughput, single-threaded: implementation x layout x shard size x operation, in
// MB/s of data (10^6 bytes of the k data shards per second). Every cell checks its output against
// the original shards after timing, so a broken codec fails instead of printing a number.
// Standalone: `node dist/bench/codec.bench.js [--quick]`; `make bench` calls runCodecBench.
import { randomFillSync } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCodec } from '../src/erasure/create-codec.js';
import type { CodecImplementation, ErasureCodec } from '../src/erasure/erasure-codec.js';
import { sizeLabel } from './report.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Layouts measured, as [data, parity]. */
export const codecBenchLayouts: readonly (readonly [number, number])[] = [
  [4, 2],
  [8, 4],
  [12, 4],
];
/** Shard sizes measured. */
export const codecBenchShardBytes: readonly number[] = [64 * KiB, 1 * MiB];
/** Implementations measured. */
export const codecBenchImplementations: readonly CodecImplementation[] = ['simd', 'reference'];
/** Timed duration of one cell, full run and --quick. */
export const codecCellDurationMs = 1_500;
export const codecCellDurationQuickMs = 300;
/** Untimed calls before each cell (JIT tier-up, decode-plan cache, page faults). */
export const codecWarmupCalls = 3;
/** Each cell is timed in this many slices; the table shows the median slice (robust to a busy machine). */
export const codecCellSlices = 10;
/** Data shards lost in the reconstruct cells. */
export const codecLostDataShards = 2;

export type CodecOperation = 'encode' | 'reconstruct';

/** One measured cell. */
export interface CodecResult {
  implementation: CodecImplementation;
  /** "k+m", e.g. "8+4". */
  layout: string;
  dataShards: number;
  parityShards: number;
  shardBytes: number;
  operation: CodecOperation;
  /** Shard indices rebuilt (reconstruct only; empty for encode). */
  lostShards: number[];
  calls: number;
  seconds: number;
  /** 10^6 bytes of data (k x shardBytes per call) per second: median over the cell's slices. */
  mbPerSecond: number;
  /** The fastest slice, same unit. */
  bestMbPerSecond: number;
  /** Same data over the CPU time this process used in the cell (user + system): what a busy machine cannot dilute. */
  cpuMbPerSecond: number;
}

/** Runs every cell; `quick` shortens each to codecCellDurationQuickMs. */
export async function runCodecBench(options: { quick: boolean }): Promise<CodecResult[]> {
  const durationMs = options.quick ? codecCellDurationQuickMs : codecCellDurationMs;
  const results: CodecResult[] = [];
  for (const [dataShards, parityShards] of codecBenchLayouts) {
    for (const shardBytes of codecBenchShardBytes) {
      for (const implementation of codecBenchImplementations) {
        const codec = await createCodec(dataShards, parityShards, implementation);
        results.push(measureEncode(codec, shardBytes, durationMs));
        results.push(measureReconstruct(codec, shardBytes, durationMs));
      }
    }
  }
  return results;
}

function measureEncode(codec: ErasureCodec, shardBytes: number, durationMs: number): CodecResult {
  const shards = codec.allocShards(shardBytes);
  try {
    for (const shard of shards.slice(0, codec.dataShards)) randomFillSync(shard);
    const timing = timeCalls(() => codec.encode(shards), durationMs);
    const expected = shards.map((shard) => shard.slice());
    for (const shard of shards.slice(codec.dataShards)) shard.fill(0);
    codec.encode(shards);
    assertSame(shards, expected, codec, 'encode');
    return result(codec, shardBytes, 'encode', [], timing);
  } finally {
    codec.releaseShards(shards);
  }
}

function measureReconstruct(codec: ErasureCodec, shardBytes: number, durationMs: number): CodecResult {
  const shards = codec.allocShards(shardBytes);
  try {
    for (const shard of shards.slice(0, codec.dataShards)) randomFillSync(shard);
    codec.encode(shards);
    const expected = shards.map((shard) => shard.slice());
    const lost = Array.from({ length: Math.min(codecLostDataShards, codec.parityShards) }, (_, i) => i);
    const timing = timeCalls(() => codec.reconstruct(shards, { lost }), durationMs);
    for (const index of lost) shards[index]!.fill(0);
    codec.reconstruct(shards, { lost });
    assertSame(shards, expected, codec, 'reconstruct');
    return result(codec, shardBytes, 'reconstruct', lost, timing);
  } finally {
    codec.releaseShards(shards);
  }
}

interface Timing {
  calls: number;
  seconds: number;
  cpuSeconds: number;
  /** Calls per second of each slice. */
  sliceRates: number[];
}

/** Calls `call` codecWarmupCalls times untimed, then in codecCellSlices slices for `durationMs` in all. */
function timeCalls(call: () => void, durationMs: number): Timing {
  for (let i = 0; i < codecWarmupCalls; i++) call();
  const sliceNs = (BigInt(durationMs) * 1_000_000n) / BigInt(codecCellSlices);
  const sliceRates: number[] = [];
  let calls = 0;
  let seconds = 0;
  const cpuStart = process.cpuUsage();
  for (let slice = 0; slice < codecCellSlices; slice++) {
    const start = process.hrtime.bigint();
    let now = start;
    let sliceCalls = 0;
    while (now - start < sliceNs) {
      call();
      sliceCalls++;
      now = process.hrtime.bigint();
    }
    const sliceSeconds = Number(now - start) / 1e9;
    sliceRates.push(sliceCalls / sliceSeconds);
    calls += sliceCalls;
    seconds += sliceSeconds;
  }
  const cpu = process.cpuUsage(cpuStart);
  return { calls, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, sliceRates };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function assertSame(actual: Uint8Array[], expected: Uint8Array[], codec: ErasureCodec, operation: string): void {
  actual.forEach((shard, index) => {
    if (!Buffer.from(shard.buffer, shard.byteOffset, shard.length).equals(expected[index]!)) {
      throw new Error(`codec bench: ${codec.implementation} ${operation} ${codec.dataShards}+${codec.parityShards} produced a wrong shard ${index}`);
    }
  });
}

function result(codec: ErasureCodec, shardBytes: number, operation: CodecOperation, lostShards: number[], timing: Timing): CodecResult {
  const mbPerCall = (codec.dataShards * shardBytes) / 1e6;
  return {
    implementation: codec.implementation,
    layout: `${codec.dataShards}+${codec.parityShards}`,
    dataShards: codec.dataShards,
    parityShards: codec.parityShards,
    shardBytes,
    operation,
    lostShards,
    calls: timing.calls,
    seconds: timing.seconds,
    mbPerSecond: median(timing.sliceRates) * mbPerCall,
    bestMbPerSecond: Math.max(...timing.sliceRates) * mbPerCall,
    cpuMbPerSecond: (timing.calls * mbPerCall) / timing.cpuSeconds,
  };
}

/**
 * Markdown table: one row per layout x shard size x operation; per implementation its median
 * wall-clock MB/s and MB per CPU-second; then the wall-clock ratio of the first two.
 */
export function codecMarkdownTable(results: readonly CodecResult[]): string {
  const implementations = [...new Set(results.map((r) => r.implementation))];
  const header = ['layout', 'shard', 'operation', ...implementations.flatMap((i) => [`${i} MB/s`, `${i} MB/CPU-s`])];
  if (implementations.length === 2) header.push(`${implementations[0]} / ${implementations[1]}`);
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 3 ? '---' : '---:')).join('|')}|`];
  const keyOf = (r: CodecResult): string => `${r.layout} ${r.shardBytes} ${r.operation}`;
  for (const key of new Set(results.map(keyOf))) {
    const cells = results.filter((r) => keyOf(r) === key);
    const first = cells[0]!;
    const byImplementation = implementations.map((i) => cells.find((r) => r.implementation === i));
    const operation = first.operation === 'encode' ? 'encode' : `reconstruct ${first.lostShards.length} data`;
    const row = [first.layout, sizeLabel(first.shardBytes), operation];
    for (const cell of byImplementation) row.push(cell ? cell.mbPerSecond.toFixed(0) : '-', cell ? cell.cpuMbPerSecond.toFixed(0) : '-');
    const [a, b] = byImplementation;
    if (implementations.length === 2) row.push(a && b ? `${(a.mbPerSecond / b.mbPerSecond).toFixed(1)}x` : '-');
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  runCodecBench({ quick }).then(
    (results) => {
      const note =
        `Erasure codec, single thread: MB/s = 10^6 bytes of data shards per wall-clock second (median of ${codecCellSlices} slices), ` +
        `MB/CPU-s = the same per second of this process's CPU time; node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} CPUs`;
      process.stdout.write(`${note}\n\n${codecMarkdownTable(results)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`codec bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
