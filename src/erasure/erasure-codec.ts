// The one Reed-Solomon codec interface (MinIO's one-interface-two-implementations habit): the SIMD
// kernel and the reference crate both implement it and produce byte-identical shards, so callers
// never ask which one they hold. Also the checks both share: layout, shard lengths, erasure plan.
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { erasureShardsMax } from '../util/limits.js';

/** Which implementation createCodec builds: our WASM SIMD kernel, or the reference crate. */
export type CodecImplementation = 'simd' | 'reference';

/** Options of ErasureCodec.reconstruct. */
export interface ReconstructOptions {
  /**
   * Indices whose buffers are given but whose bytes are lost (e.g. failed their bitrot check):
   * they are not read, and are overwritten when wanted. Undefined entries are always lost.
   */
  readonly lost?: readonly number[];
  /** Lost indices to rebuild; default every lost one. Lost shards not wanted are left untouched. */
  readonly wanted?: readonly number[];
}

/**
 * A systematic Reed-Solomon erasure code over GF(2^8) with `dataShards` (k) data shards and
 * `parityShards` (m) parity shards; every implementation uses the generator matrix of the Rust
 * reed-solomon-erasure crate (see gf-matrix.ts), so their shards are interchangeable.
 */
export interface ErasureCodec {
  readonly dataShards: number;
  readonly parityShards: number;
  readonly implementation: CodecImplementation;
  /**
   * Fills the parity shards from the data shards, in place. `shards` has k + m entries, all of one
   * length (any, including 0); entries [0, k) are read, [k, k + m) overwritten.
   * Throws TesseraError 'ShardSizeMismatch' when lengths differ.
   */
  encode(shards: Uint8Array[]): void;
  /**
   * Rebuilds lost shards from any k present ones (data or parity), in place. `shards` has k + m
   * entries; an undefined entry is lost, and when wanted it is replaced by a new Uint8Array
   * (ordinary memory; pass kernel buffers plus `lost` to stay copy-free).
   * Throws TesseraError 'InsufficientShards' when fewer than k shards are present,
   * 'ShardSizeMismatch' when present or given shards differ in length.
   */
  reconstruct(shards: (Uint8Array | undefined)[], options?: ReconstructOptions): void;
  /**
   * `count` shard buffers of `shardBytes` each that this codec reads and writes without copying
   * (views into the SIMD kernel's memory; plain Uint8Arrays for the reference). Contents are
   * unspecified. Give them back with releaseShards when done; never use them after that.
   */
  allocShards(shardBytes: number, count?: number): Uint8Array[];
  /** Returns buffers from allocShards for reuse (a no-op for the reference). */
  releaseShards(shards: readonly Uint8Array[]): void;
}

/**
 * Checks k >= 1, m >= 0, k + m <= 256 (integers).
 * Throws TesseraError 'InvalidErasureLayout' otherwise.
 */
export function validateErasureLayout(dataShards: number, parityShards: number): void {
  const valid =
    Number.isInteger(dataShards) &&
    Number.isInteger(parityShards) &&
    dataShards >= 1 &&
    parityShards >= 0 &&
    dataShards + parityShards <= erasureShardsMax;
  if (!valid) {
    throw new TesseraError(
      'InvalidErasureLayout',
      `erasure layout ${dataShards}+${parityShards} is invalid: need data >= 1, parity >= 0, data + parity <= ${erasureShardsMax}`,
      { dataShards, parityShards },
    );
  }
}

/** Length shared by all `shards` given (undefined ones skipped); 0 when none is given. */
export function commonShardLength(shards: readonly (Uint8Array | undefined)[]): number {
  let length: number | undefined;
  for (const [index, shard] of shards.entries()) {
    if (shard === undefined) continue;
    if (length === undefined) length = shard.length;
    else if (shard.length !== length) {
      throw new TesseraError('ShardSizeMismatch', `shard ${index} has ${shard.length} bytes, expected ${length}`, {
        shardIndex: index,
        shardBytes: shard.length,
        expectedBytes: length,
      });
    }
  }
  return length ?? 0;
}

/** What a reconstruct call reads and writes. */
export interface ErasurePlan {
  /** The first k present indices, ascending: the inputs (the crate picks the same ones). */
  readonly inputs: number[];
  /** Lost indices to rebuild, ascending; may be empty. */
  readonly outputs: number[];
  /** Length of every shard. */
  readonly shardBytes: number;
}

/**
 * Works out inputs and outputs of a reconstruct over k + m `shards` (see ErasureCodec.reconstruct).
 * Throws TesseraError 'InsufficientShards' or 'ShardSizeMismatch'.
 */
export function planReconstruct(
  shards: readonly (Uint8Array | undefined)[],
  dataShards: number,
  parityShards: number,
  options: ReconstructOptions = {},
): ErasurePlan {
  const total = dataShards + parityShards;
  assert(shards.length === total, `expected ${total} shards, got ${shards.length}`);
  const lost = new Set(options.lost ?? []);
  for (const index of lost) assert(Number.isInteger(index) && index >= 0 && index < total, 'lost index out of range');
  shards.forEach((shard, index) => shard === undefined && lost.add(index));
  const present: number[] = [];
  for (let index = 0; index < total; index++) if (!lost.has(index)) present.push(index);
  if (present.length < dataShards) {
    throw new TesseraError(
      'InsufficientShards',
      `${present.length} of ${total} shards present, ${dataShards} needed to reconstruct`,
      { presentShards: present.length, dataShards, parityShards },
    );
  }
  const wanted = options.wanted ?? [...lost];
  for (const index of wanted) assert(Number.isInteger(index) && index >= 0 && index < total, 'wanted index out of range');
  const outputs = [...new Set(wanted.filter((index) => lost.has(index)))].sort((a, b) => a - b);
  const shardBytes = commonShardLength(shards);
  return { inputs: present.slice(0, dataShards), outputs, shardBytes };
}
