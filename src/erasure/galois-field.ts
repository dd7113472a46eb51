// Arithmetic in GF(2^8) with the reducing polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), generator 2:
// the field of the Rust reed-solomon-erasure crate (build.rs GENERATING_POLYNOMIAL = 29, with the
// x^8 term implicit) and of Backblaze's JavaReedSolomon. Used for matrices, never on shard bytes
// (the SIMD kernel and its nibble tables do that), so table lookups are fast enough.

/** Elements of GF(2^8). */
export const fieldOrder = 256;
/** The reducing polynomial with its x^8 term (0x11d). */
export const fieldPolynomial = 0x11d;

const logTable = new Uint8Array(fieldOrder);
/** exp[i] = 2^i for i in [0, 510): doubled so log(a) + log(b) needs no modulo. */
const expTable = new Uint8Array(2 * fieldOrder - 2);

(function buildTables(): void {
  let b = 1;
  for (let log = 0; log < fieldOrder - 1; log++) {
    logTable[b] = log;
    expTable[log] = b;
    expTable[log + fieldOrder - 1] = b;
    b <<= 1;
    if (b >= fieldOrder) b ^= fieldPolynomial;
  }
})();

/** a * b in GF(2^8); a, b are integers in [0, 255]. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return expTable[logTable[a]! + logTable[b]!]!;
}

/** a / b in GF(2^8); throws Error (a bug) when b is 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new Error('assertion failed: GF(2^8) division by zero');
  if (a === 0) return 0;
  let log = logTable[a]! - logTable[b]!;
  if (log < 0) log += fieldOrder - 1;
  return expTable[log]!;
}

/** a^n in GF(2^8) for an integer n >= 0, with 0^0 = 1 (as the crate's galois_8::exp). */
export function gfExp(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return expTable[(logTable[a]! * n) % (fieldOrder - 1)]!;
}

/**
 * The 32-byte split-nibble table of coefficient `c`: bytes [0, 16) are c * x and bytes [16, 32)
 * are c * (x << 4) for x in [0, 16), so c * y = table[y & 15] ^ table[16 + (y >> 4)].
 * Returned as a view into a table shared by all callers: copy, never write.
 */
export function nibbleTable(c: number): Uint8Array {
  return nibbleTables.subarray(c * nibbleTableBytes, (c + 1) * nibbleTableBytes);
}

/** Bytes of one coefficient's nibble table. */
export const nibbleTableBytes = 32;

const nibbleTables = new Uint8Array(fieldOrder * nibbleTableBytes);

(function buildNibbleTables(): void {
  for (let c = 0; c < fieldOrder; c++) {
    for (let x = 0; x < 16; x++) {
      nibbleTables[c * nibbleTableBytes + x] = gfMul(c, x);
      nibbleTables[c * nibbleTableBytes + 16 + x] = gfMul(c, x << 4);
    }
  }
})();
