// ErasureCodec on Tessera's WASM SIMD kernel (native/gf256-simd.ts, split-nibble i8x16.swizzle).
// Shards that are views into the kernel's memory (allocShards) are read and written in place;
// other buffers are copied through a per-codec scratch area. Nibble tables of the generator's
// parity rows are built once per codec; decode tables once per erasure pattern (bounded LRU).
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { commonShardLength, planReconstruct, validateErasureLayout, type ErasureCodec, type ReconstructOptions } from './erasure-codec.js';
import { decodePlanCacheEntriesMax } from '../util/limits.js';
import { generatorMatrix, invertMatrix, multiplyMatrices, selectRows, type GfMatrix } from './gf-matrix.js';
import { loadKernel, type Kernel } from './simd-kernel.js';

/** A row set of a matrix as nibble tables in kernel memory, ready for Kernel.mulMatrix. */
interface KernelMatrix {
  readonly rows: number;
  readonly tablesAddress: number;
  readonly tablesBytes: number;
}

/** Bytes of the two u32 pointer arrays (inputs, outputs) a kernel call reads. */
const pointerArrayBytes = 4 * 256;

/** Reed-Solomon on the WASM SIMD kernel; build with createSimdCodec. */
export class SimdCodec implements ErasureCodec {
  readonly implementation = 'simd';
  private readonly generator: GfMatrix;
  private readonly parityMatrix: KernelMatrix;
  private readonly decodePlans = new Map<string, KernelMatrix>();
  private readonly inputPointers: number;
  private readonly outputPointers: number;
  private scratch: { address: number; bytes: number } | undefined;

  constructor(
    readonly dataShards: number,
    readonly parityShards: number,
    private readonly kernel: Kernel,
  ) {
    validateErasureLayout(dataShards, parityShards);
    this.generator = generatorMatrix(dataShards, parityShards);
    const parityRows = Array.from({ length: parityShards }, (_, j) => dataShards + j);
    this.parityMatrix = this.toKernelMatrix(selectRows(this.generator, parityRows));
    this.inputPointers = kernel.memory.allocate(2 * pointerArrayBytes);
    this.outputPointers = this.inputPointers + pointerArrayBytes;
  }

  encode(shards: Uint8Array[]): void {
    assert(shards.length === this.dataShards + this.parityShards, 'encode needs k + m shards');
    const shardBytes = commonShardLength(shards);
    if (this.parityShards === 0 || shardBytes === 0) return;
    const data = Array.from({ length: this.dataShards }, (_, i) => i);
    const parity = Array.from({ length: this.parityShards }, (_, j) => this.dataShards + j);
    this.multiply(this.parityMatrix, shards, data, parity, shardBytes);
  }

  reconstruct(shards: (Uint8Array | undefined)[], options?: ReconstructOptions): void {
    const plan = planReconstruct(shards, this.dataShards, this.parityShards, options);
    for (const index of plan.outputs) shards[index] ??= new Uint8Array(plan.shardBytes);
    if (plan.outputs.length === 0 || plan.shardBytes === 0) return;
    const matrix = this.decodeMatrix(plan.inputs, plan.outputs);
    this.multiply(matrix, shards as Uint8Array[], plan.inputs, plan.outputs, plan.shardBytes);
  }

  /** Decode plans now cached (at most decodePlanCacheEntriesMax); for tests and metrics. */
  get cachedDecodePlans(): number {
    return this.decodePlans.size;
  }

  allocShards(shardBytes: number, count = this.dataShards + this.parityShards): Uint8Array[] {
    const memory = this.kernel.memory;
    const addresses = Array.from({ length: count }, () => memory.allocate(Math.max(shardBytes, 1)));
    return addresses.map((address) => memory.view(address, shardBytes));
  }

  releaseShards(shards: readonly Uint8Array[]): void {
    for (const shard of shards) {
      const address = this.kernel.memory.addressOf(shard);
      assert(address !== undefined, 'releaseShards given a buffer allocShards did not return');
      this.kernel.memory.release(address, Math.max(shard.length, 1));
    }
  }

  /**
   * shards[outputs[r]] = row r of `matrix` x shards[inputs], in the kernel. Kernel views are used in
   * place; any other buffer goes through a scratch slot (inputs copied in, outputs copied back).
   */
  private multiply(matrix: KernelMatrix, shards: Uint8Array[], inputs: number[], outputs: number[], shardBytes: number): void {
    const memory = this.kernel.memory;
    const slots = inputs.length + outputs.length;
    const pointers = new Uint32Array(memory.memory.buffer, this.inputPointers, (2 * pointerArrayBytes) / 4);
    const outputBase = pointerArrayBytes / 4;
    let slot = 0;
    const foreignOutputs: number[] = [];
    inputs.forEach((index, i) => {
      const shard = shards[index]!;
      let address = memory.addressOf(shard);
      if (address === undefined) {
        address = this.scratchSlot(slot++, shardBytes, slots);
        memory.view(address, shardBytes).set(shard);
      }
      pointers[i] = address;
    });
    outputs.forEach((index, r) => {
      let address = memory.addressOf(shards[index]!);
      if (address === undefined) {
        address = this.scratchSlot(slot++, shardBytes, slots);
        foreignOutputs.push(r);
      }
      pointers[outputBase + r] = address;
    });
    this.kernel.mulMatrix(matrix.tablesAddress, this.inputPointers, inputs.length, this.outputPointers, matrix.rows, shardBytes);
    for (const r of foreignOutputs) shards[outputs[r]!]!.set(memory.view(pointers[outputBase + r]!, shardBytes));
  }

  /** Address of scratch slot `slot` of `slots`, each `shardBytes`, growing the area when needed. */
  private scratchSlot(slot: number, shardBytes: number, slots: number): number {
    const stride = Math.ceil(shardBytes / 64) * 64;
    const bytes = stride * slots;
    if (!this.scratch || this.scratch.bytes < bytes) {
      if (this.scratch) this.kernel.memory.release(this.scratch.address, this.scratch.bytes);
      this.scratch = { address: this.kernel.memory.allocate(bytes), bytes };
    }
    return this.scratch.address + slot * stride;
  }

  /** Rows mapping shards `inputs` to shards `outputs`: generator[outputs] x inverse(generator[inputs]). */
  private decodeMatrix(inputs: number[], outputs: number[]): KernelMatrix {
    const key = `${inputs.join(',')}>${outputs.join(',')}`;
    const cached = this.decodePlans.get(key);
    if (cached) {
      this.decodePlans.delete(key);
      this.decodePlans.set(key, cached);
      return cached;
    }
    const inverse = invertMatrix(selectRows(this.generator, inputs));
    if (!inverse) throw new TesseraError('SingularDecodeMatrix', `shards ${inputs.join(',')} do not determine the data`, { inputs: inputs.join(',') });
    const matrix = this.toKernelMatrix(multiplyMatrices(selectRows(this.generator, outputs), inverse));
    this.decodePlans.set(key, matrix);
    if (this.decodePlans.size > decodePlanCacheEntriesMax) this.evictOldestPlan();
    return matrix;
  }

  private evictOldestPlan(): void {
    const [oldestKey, oldest] = this.decodePlans.entries().next().value as [string, KernelMatrix];
    this.decodePlans.delete(oldestKey);
    this.kernel.memory.release(oldest.tablesAddress, oldest.tablesBytes);
  }

  private toKernelMatrix(matrix: GfMatrix): KernelMatrix {
    const tables = this.kernel.buildTables(matrix);
    const tablesAddress = this.kernel.memory.allocate(Math.max(tables.length, 1));
    this.kernel.memory.view(tablesAddress, tables.length).set(tables);
    return { rows: matrix.rows, tablesAddress, tablesBytes: Math.max(tables.length, 1) };
  }
}

/**
 * A SIMD codec for k data and m parity shards (loads the kernel on first use).
 * Throws TesseraError 'InvalidErasureLayout' (see validateErasureLayout).
 */
export async function createSimdCodec(dataShards: number, parityShards: number): Promise<SimdCodec> {
  validateErasureLayout(dataShards, parityShards);
  return new SimdCodec(dataShards, parityShards, await loadKernel());
}
