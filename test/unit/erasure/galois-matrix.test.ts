// GF(2^8) arithmetic and matrices against the reed-solomon-erasure crate's own test vectors
// (src/galois_8.rs, src/matrix.rs), and the generator matrix's defining properties.
import { describe, expect, it } from 'vitest';
import { gfDiv, gfExp, gfMul, nibbleTable } from '../../../src/erasure/galois-field.js';
import { generatorMatrix, identityMatrix, invertMatrix, multiplyMatrices, selectRows, type GfMatrix } from '../../../src/erasure/gf-matrix.js';

function matrix(rows: number[][]): GfMatrix {
  return { rows: rows.length, cols: rows[0]!.length, cells: Uint8Array.from(rows.flat()) };
}

function toRows(m: GfMatrix): number[][] {
  return Array.from({ length: m.rows }, (_, r) => Array.from(m.cells.subarray(r * m.cols, (r + 1) * m.cols)));
}

describe('GF(2^8), polynomial 0x11d', () => {
  it('matches the crate test vectors', () => {
    expect(gfMul(3, 4)).toBe(12);
    expect(gfMul(7, 7)).toBe(21);
    expect(gfMul(23, 45)).toBe(41);
    // galois_8.rs test_galois: mul_slice(25, [0, 1, 2, 3, 4, 5, 6, 10, 50, 100, ...]).
    expect([0, 1, 2, 3, 4, 5, 6, 10, 50, 100].map((x) => gfMul(25, x))).toEqual([0x0, 0x19, 0x32, 0x2b, 0x64, 0x7d, 0x56, 0xfa, 0xb8, 0x6d]);
  });

  it('is a field: inverses, exp, distributivity, nibble tables', () => {
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfDiv(1, a))).toBe(1);
    let power = 1;
    for (let n = 0; n < 300; n++) {
      expect(gfExp(2, n)).toBe(power);
      power = gfMul(power, 2);
    }
    expect(gfExp(0, 0)).toBe(1);
    for (const [a, b, c] of [[3, 200, 17], [255, 254, 1], [91, 0, 77]] as const) {
      expect(gfMul(a, b ^ c)).toBe(gfMul(a, b) ^ gfMul(a, c));
    }
    for (const c of [0, 1, 2, 29, 142, 255]) {
      const table = nibbleTable(c);
      for (let y = 0; y < 256; y++) expect(table[y & 15]! ^ table[16 + (y >> 4)]!).toBe(gfMul(c, y));
    }
  });
});

describe('GF(2^8) matrices', () => {
  it('inverts as the crate does (matrix.rs test_matrix_inverse_pass_cases)', () => {
    expect(toRows(invertMatrix(matrix([[56, 23, 98], [3, 100, 200], [45, 201, 123]]))!)).toEqual([
      [175, 133, 33],
      [130, 13, 245],
      [112, 35, 126],
    ]);
    const m = matrix([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [7, 7, 6, 6, 1]]);
    expect(toRows(invertMatrix(m)!)).toEqual([
      [1, 0, 0, 0, 0],
      [0, 1, 0, 0, 0],
      [123, 123, 1, 122, 122],
      [0, 0, 1, 0, 0],
      [0, 0, 0, 1, 0],
    ]);
  });

  it('reports singular matrices', () => {
    expect(invertMatrix(matrix([[4, 2], [12, 6]]))).toBeUndefined();
  });

  it('builds a systematic generator whose every k rows invert', () => {
    const k = 6;
    const g = generatorMatrix(k, 3);
    expect(toRows(selectRows(g, [0, 1, 2, 3, 4, 5]))).toEqual(toRows(identityMatrix(k)));
    for (const rows of [[3, 4, 5, 6, 7, 8], [0, 2, 4, 6, 7, 8], [1, 2, 3, 4, 5, 8]]) {
      const inverse = invertMatrix(selectRows(g, rows))!;
      expect(toRows(multiplyMatrices(selectRows(g, rows), inverse))).toEqual(toRows(identityMatrix(k)));
    }
    // A full-size layout builds (k + m = 256 uses every Vandermonde row).
    expect(generatorMatrix(128, 128).rows).toBe(256);
  });
});
