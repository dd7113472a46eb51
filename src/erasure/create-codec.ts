// The factory callers use: one ErasureCodec interface, the implementation chosen by name
// ('simd' for the data path, 'reference' to cross-check it).
import { validateErasureLayout, type CodecImplementation, type ErasureCodec } from './erasure-codec.js';
import { createReferenceCodec } from './reference-codec.js';
import { createSimdCodec } from './simd-codec.js';

/**
 * A Reed-Solomon codec with `dataShards` (k >= 1) data and `parityShards` (m >= 0) parity shards,
 * k + m <= 256, over GF(2^8) with the reed-solomon-erasure crate's generator matrix.
 * Throws TesseraError 'InvalidErasureLayout' for other layouts; 'KernelNotBuilt' for 'simd' when
 * `make build` has not produced the kernel.
 */
export async function createCodec(dataShards: number, parityShards: number, implementation: CodecImplementation = 'simd'): Promise<ErasureCodec> {
  validateErasureLayout(dataShards, parityShards);
  return implementation === 'simd' ? createSimdCodec(dataShards, parityShards) : createReferenceCodec(dataShards, parityShards);
}
