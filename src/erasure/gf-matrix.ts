// Dense matrices over GF(2^8) and the Reed-Solomon generator matrix, built exactly as the Rust
// reed-solomon-erasure crate does (src/core.rs build_matrix, src/matrix.rs), so shards written by
// one implementation decode with the other: rows = total shards, columns = data shards, the top
// k x k block is the identity (systematic code), any k rows are invertible.
import { assert } from '../util/assert.js';
import { gfDiv, gfExp, gfMul } from './galois-field.js';

/** A rows x cols matrix, row-major in `cells` (cells.length = rows * cols). */
export interface GfMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly cells: Uint8Array;
}

/** A rows x cols zero matrix. */
export function zeroMatrix(rows: number, cols: number): GfMatrix {
  return { rows, cols, cells: new Uint8Array(rows * cols) };
}

/** The size x size identity. */
export function identityMatrix(size: number): GfMatrix {
  const m = zeroMatrix(size, size);
  for (let i = 0; i < size; i++) m.cells[i * size + i] = 1;
  return m;
}

/** Vandermonde matrix: cell (r, c) = r^c in GF(2^8) (rows <= 256). */
export function vandermondeMatrix(rows: number, cols: number): GfMatrix {
  assert(rows <= 256, 'vandermonde rows must be field elements');
  const m = zeroMatrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) m.cells[r * cols + c] = gfExp(r, c);
  }
  return m;
}

/** lhs x rhs; lhs.cols must equal rhs.rows. */
export function multiplyMatrices(lhs: GfMatrix, rhs: GfMatrix): GfMatrix {
  assert(lhs.cols === rhs.rows, 'matrix shapes do not multiply');
  const out = zeroMatrix(lhs.rows, rhs.cols);
  for (let r = 0; r < lhs.rows; r++) {
    for (let c = 0; c < rhs.cols; c++) {
      let value = 0;
      for (let i = 0; i < lhs.cols; i++) value ^= gfMul(lhs.cells[r * lhs.cols + i]!, rhs.cells[i * rhs.cols + c]!);
      out.cells[r * rhs.cols + c] = value;
    }
  }
  return out;
}

/** The matrix made of `rowIndices` rows of `m`, in that order. */
export function selectRows(m: GfMatrix, rowIndices: readonly number[]): GfMatrix {
  const out = zeroMatrix(rowIndices.length, m.cols);
  rowIndices.forEach((row, i) => {
    assert(row >= 0 && row < m.rows, 'row index out of range');
    out.cells.set(m.cells.subarray(row * m.cols, (row + 1) * m.cols), i * m.cols);
  });
  return out;
}

/**
 * Inverse of a square matrix by Gauss-Jordan elimination on [m | I] (the crate's
 * Matrix::invert / gaussian_elim). Returns undefined when `m` is singular.
 */
export function invertMatrix(m: GfMatrix): GfMatrix | undefined {
  assert(m.rows === m.cols, 'only square matrices invert');
  const n = m.rows;
  const width = 2 * n;
  const work = new Uint8Array(n * width);
  for (let r = 0; r < n; r++) {
    work.set(m.cells.subarray(r * n, (r + 1) * n), r * width);
    work[r * width + n + r] = 1;
  }
  for (let r = 0; r < n; r++) {
    if (!pivotRow(work, n, width, r)) return undefined;
    const pivot = work[r * width + r]!;
    if (pivot !== 1) scaleRow(work, width, r, gfDiv(1, pivot));
    for (let other = 0; other < n; other++) {
      if (other !== r) eliminate(work, width, other, r, work[other * width + r]!);
    }
  }
  const inverse = zeroMatrix(n, n);
  for (let r = 0; r < n; r++) inverse.cells.set(work.subarray(r * width + n, (r + 1) * width), r * n);
  return inverse;
}

/** Ensures work[r][r] != 0 by swapping in a lower row; false when the column is all zero. */
function pivotRow(work: Uint8Array, n: number, width: number, r: number): boolean {
  if (work[r * width + r] !== 0) return true;
  for (let below = r + 1; below < n; below++) {
    if (work[below * width + r] !== 0) {
      const tmp = work.slice(r * width, (r + 1) * width);
      work.copyWithin(r * width, below * width, (below + 1) * width);
      work.set(tmp, below * width);
      return true;
    }
  }
  return false;
}

function scaleRow(work: Uint8Array, width: number, r: number, factor: number): void {
  for (let c = 0; c < width; c++) work[r * width + c] = gfMul(work[r * width + c]!, factor);
}

/** row[target] ^= factor * row[source]. */
function eliminate(work: Uint8Array, width: number, target: number, source: number, factor: number): void {
  if (factor === 0) return;
  for (let c = 0; c < width; c++) {
    const i = target * width + c;
    work[i] = work[i]! ^ gfMul(factor, work[source * width + c]!);
  }
}

/**
 * The (dataShards + parityShards) x dataShards generator matrix: Vandermonde(total, k) times the
 * inverse of its top k x k block (reed-solomon-erasure src/core.rs ReedSolomon::build_matrix).
 * Rows [0, k) are the identity; row k + j gives parity shard j.
 */
export function generatorMatrix(dataShards: number, parityShards: number): GfMatrix {
  const total = dataShards + parityShards;
  const vandermonde = vandermondeMatrix(total, dataShards);
  const top = selectRows(vandermonde, Array.from({ length: dataShards }, (_, i) => i));
  const topInverse = invertMatrix(top);
  assert(topInverse, 'the top of a Vandermonde matrix is invertible');
  return multiplyMatrices(vandermonde, topInverse);
}
