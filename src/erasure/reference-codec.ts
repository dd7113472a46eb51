// ErasureCodec on the reference implementation: the Rust reed-solomon-erasure crate compiled to
// WASM (npm @digitaldefiance/reed-solomon-erasure.wasm, a devDependency loaded on first use, so a
// production install without dev packages only loses this codec). It copies every shard in and
// out of its own memory on each call (~200-340 MB/s): it is the yardstick, not the data path.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { commonShardLength, planReconstruct, validateErasureLayout, type ErasureCodec, type ReconstructOptions } from './erasure-codec.js';

/** The package's API as this wrapper uses it (its result codes: 0 = OK). */
interface ReferenceWasm {
  encode(shards: Uint8Array, dataShards: number, parityShards: number): number;
  reconstruct(shards: Uint8Array, dataShards: number, parityShards: number, shardsAvailable: boolean[]): number;
}

const referencePackage = '@digitaldefiance/reed-solomon-erasure.wasm';
const resultOk = 0;
const resultTooFewShardsPresent = 10;

/** Makes fresh instances of the package's WASM (about 0.3 ms each). */
type ReferenceFactory = () => ReferenceWasm;

let loading: Promise<ReferenceFactory> | undefined;

async function loadReference(): Promise<ReferenceFactory> {
  // The package's ESM build looks for its .wasm via __dirname, which ESM lacks: load the bytes ourselves.
  const { ReedSolomonErasure } = await import(referencePackage);
  const wasmPath = createRequire(import.meta.url).resolve(`${referencePackage}/wasm`);
  const bytes = await readFile(wasmPath);
  return () => ReedSolomonErasure.fromBytes(bytes) as ReferenceWasm;
}

/**
 * Reed-Solomon through the reference crate; build with createReferenceCodec.
 * Its reconstruct runs on a fresh WASM instance every call: the package (crate commit 85f8dcb,
 * wee_alloc) corrupts its heap on a second reconstruct of large stripes (12+4 x 64 KiB traps with
 * "memory access out of bounds" or answers TooFewShardsPresent), so no instance is reused there.
 */
export class ReferenceCodec implements ErasureCodec {
  readonly implementation = 'reference';
  private readonly wasm: ReferenceWasm;

  constructor(
    readonly dataShards: number,
    readonly parityShards: number,
    private readonly instantiate: ReferenceFactory,
  ) {
    validateErasureLayout(dataShards, parityShards);
    this.wasm = instantiate();
  }

  encode(shards: Uint8Array[]): void {
    const total = this.dataShards + this.parityShards;
    assert(shards.length === total, 'encode needs k + m shards');
    const shardBytes = commonShardLength(shards);
    // The crate refuses zero parity shards and empty shards; both mean there is nothing to compute.
    if (this.parityShards === 0 || shardBytes === 0) return;
    const joined = this.join(shards, shardBytes);
    this.check(this.wasm.encode(joined, this.dataShards, this.parityShards), 'encode');
    for (let j = this.dataShards; j < total; j++) shards[j]!.set(joined.subarray(j * shardBytes, (j + 1) * shardBytes));
  }

  reconstruct(shards: (Uint8Array | undefined)[], options?: ReconstructOptions): void {
    const plan = planReconstruct(shards, this.dataShards, this.parityShards, options);
    for (const index of plan.outputs) shards[index] ??= new Uint8Array(plan.shardBytes);
    if (plan.outputs.length === 0 || plan.shardBytes === 0) return;
    const present = new Set<number>(plan.inputs);
    const available = shards.map((_, index) => present.has(index));
    const joined = this.join(shards, plan.shardBytes, present);
    // The package rebuilds data shards only (it copies back just those); parity comes from re-encoding.
    const wasm = this.instantiate();
    this.check(wasm.reconstruct(joined, this.dataShards, this.parityShards, available), 'reconstruct');
    if (plan.outputs.some((index) => index >= this.dataShards)) {
      this.check(wasm.encode(joined, this.dataShards, this.parityShards), 'encode');
    }
    for (const index of plan.outputs) shards[index]!.set(joined.subarray(index * plan.shardBytes, (index + 1) * plan.shardBytes));
  }

  allocShards(shardBytes: number, count = this.dataShards + this.parityShards): Uint8Array[] {
    return Array.from({ length: count }, () => new Uint8Array(shardBytes));
  }

  releaseShards(): void {}

  /** All shards back to back (k + m) x shardBytes; shards not in `only` (when given) stay zero. */
  private join(shards: readonly (Uint8Array | undefined)[], shardBytes: number, only?: ReadonlySet<number>): Uint8Array {
    const joined = new Uint8Array(shards.length * shardBytes);
    shards.forEach((shard, index) => {
      if (shard && (!only || only.has(index))) joined.set(shard, index * shardBytes);
    });
    return joined;
  }

  private check(result: number, operation: string): void {
    if (result === resultOk) return;
    const code = result === resultTooFewShardsPresent ? 'InsufficientShards' : 'ReferenceCodecFailed';
    throw new TesseraError(code, `reference codec ${operation} failed with result ${result}`, { result });
  }
}

/**
 * A reference codec for k data and m parity shards (loads the package on first use).
 * Throws TesseraError 'InvalidErasureLayout' (see validateErasureLayout).
 */
export async function createReferenceCodec(dataShards: number, parityShards: number): Promise<ReferenceCodec> {
  validateErasureLayout(dataShards, parityShards);
  loading ??= loadReference();
  return new ReferenceCodec(dataShards, parityShards, await loading);
}
