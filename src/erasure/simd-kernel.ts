// Loads the WASM SIMD GF(2^8) kernel built from native/gf256-simd.ts (`make build` writes
// dist/native/gf256-simd.wasm) into one shared linear memory per process, and lays out matrices
// as the nibble tables it reads. Both layouts below must match the AssemblyScript source.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';
import { nibbleTable, nibbleTableBytes } from './galois-field.js';
import type { GfMatrix } from './gf-matrix.js';
import { KernelMemory } from './kernel-memory.js';
import { wasmApi } from './wasm-api.js';

/** Output rows the kernel keeps in registers at once (native/gf256-simd.ts `groupRows`). */
export const kernelGroupRows = 4;

/** File name of the built kernel. */
export const kernelWasmFile = 'gf256-simd.wasm';

/** The loaded kernel: its memory and its one entry point. */
export interface Kernel {
  readonly memory: KernelMemory;
  /**
   * out[r] = XOR over i of M[r][i] * in[i], for byteCount bytes (see native/gf256-simd.ts).
   * All arguments are kernel addresses or counts; outputs must not overlap inputs.
   */
  mulMatrix(tablesAddress: number, inputPointers: number, inputCount: number, outputPointers: number, rowCount: number, byteCount: number): void;
  /** `matrix` as the kernel's nibble tables: rows.length x cols x 32 bytes, grouped by kernelGroupRows. */
  buildTables(matrix: GfMatrix): Uint8Array;
}

interface KernelExports {
  mulMatrix(tables: number, inputs: number, inputCount: number, outputs: number, rowCount: number, byteCount: number): void;
}

let loading: Promise<Kernel> | undefined;

/**
 * The process-wide kernel, instantiated on first call.
 * Throws TesseraError 'KernelNotBuilt' when the .wasm is missing (run `make build`).
 */
export function loadKernel(): Promise<Kernel> {
  loading ??= instantiateKernel();
  return loading;
}

async function instantiateKernel(): Promise<Kernel> {
  const wasm = await readFile(kernelWasmPath());
  const memory = new KernelMemory();
  const { instance } = await wasmApi.instantiate(wasm, { env: { memory: memory.memory } });
  const exports = instance.exports as unknown as KernelExports;
  return {
    memory,
    mulMatrix: exports.mulMatrix,
    buildTables,
  };
}

/**
 * Where the built kernel is: beside the compiled JS (dist/src/erasure -> dist/native) or, when the
 * TypeScript runs directly (vitest), under the repository's dist/native.
 */
function kernelWasmPath(): string {
  const candidates = [
    new URL(`../../native/${kernelWasmFile}`, import.meta.url),
    new URL(`../../dist/native/${kernelWasmFile}`, import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new TesseraError('KernelNotBuilt', `erasure kernel ${kernelWasmFile} not found (run \`make build\`); looked in ${candidates.join(', ')}`);
  }
  return found;
}

/**
 * Tables layout: rows in groups of kernelGroupRows (the last may be smaller); for group g, for
 * input column i, for each row r of the group, the 32-byte nibble table of M[r][i].
 */
function buildTables(matrix: GfMatrix): Uint8Array {
  const tables = new Uint8Array(matrix.rows * matrix.cols * nibbleTableBytes);
  let offset = 0;
  for (let first = 0; first < matrix.rows; first += kernelGroupRows) {
    const rows = Math.min(kernelGroupRows, matrix.rows - first);
    for (let col = 0; col < matrix.cols; col++) {
      for (let row = first; row < first + rows; row++) {
        tables.set(nibbleTable(matrix.cells[row * matrix.cols + col]!), offset);
        offset += nibbleTableBytes;
      }
    }
  }
  return tables;
}
