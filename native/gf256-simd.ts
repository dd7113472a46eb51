// AssemblyScript source of Tessera's WASM SIMD GF(2^8) kernel (built by `make build` into
// dist/native/gf256-simd.wasm). It computes outputs = M x inputs over GF(2^8) (polynomial 0x11d)
// with the split-nibble method of ISA-L and klauspost/reedsolomon: for a coefficient c,
// c*x = low[c][x & 0x0f] ^ high[c][x >> 4], each 16-entry table applied with i8x16.swizzle.
// The kernel owns no memory: the host passes pointers into the (imported, shared) linear memory.
//
// Shape, chosen by measurement on V8 11.3 / x64 (Node 20): up to 4 output rows at a time, each
// with two v128 accumulators (32 bytes), streaming every input once per 32-byte column; the
// inputs' nibbles are split once and used by all rows. Wider (4 rows x 64 bytes) spills the 16
// xmm registers; 2 rows x 64 bytes, 4 rows x 16 bytes, unrolling two inputs and splitting per
// vector all measured slower. A non-relaxed swizzle costs V8 three instructions (load of the
// range-fix constant's address, paddusb, pshufb); relaxed_swizzle is plain pshufb and ran ~1.35x
// faster, but Node 20 only has it behind --experimental-wasm-relaxed-simd.

/** Bytes of every input shard walked for all output groups before moving on (L1/L2 blocking). */
const stripeBytes: usize = 16384;
/** Output rows whose accumulators stay in registers while the inputs are streamed once. */
const groupRows: i32 = 4;
/** Bytes of one row's nibble tables: low[16] then high[16]. */
const tableBytes: usize = 32;

/**
 * out[r][x] = XOR over i of M[r][i] * in[i][x], for r < rowCount, i < inputCount, x < byteCount.
 *
 * tables: nibble tables of M laid out by groups of `groupRows` rows (the last group may be
 *   smaller): for group g, for input i, for row r of that group, 32 bytes (low, high).
 * inputs / outputs: arrays of u32 shard pointers (inputCount / rowCount entries).
 * Output shards must not overlap input shards.
 */
export function mulMatrix(tables: usize, inputs: usize, inputCount: i32, outputs: usize, rowCount: i32, byteCount: usize): void {
  const vectorEnd = byteCount & ~(<usize>31);
  for (let start: usize = 0; start < vectorEnd; start += stripeBytes) {
    let end = start + stripeBytes;
    if (end > vectorEnd) end = vectorEnd;
    let groupTables = tables;
    for (let row = 0; row < rowCount; row += groupRows) {
      const rows = min(groupRows, rowCount - row);
      const outs = outputs + (<usize>row << 2);
      if (rows == 4) dot4(groupTables, inputs, inputCount, outs, start, end);
      else if (rows == 3) dot3(groupTables, inputs, inputCount, outs, start, end);
      else if (rows == 2) dot2(groupTables, inputs, inputCount, outs, start, end);
      else dot1(groupTables, inputs, inputCount, outs, start, end);
      groupTables += <usize>rows * <usize>inputCount * tableBytes;
    }
  }
  if (vectorEnd < byteCount) mulTail(tables, inputs, inputCount, outputs, rowCount, vectorEnd, byteCount);
}

// @ts-ignore: decorator
@inline function mulAdd(acc: v128, table: usize, offset: usize, low: v128, high: v128): v128 {
  const tLow = v128.load(table + offset);
  const tHigh = v128.load(table + offset + 16);
  return v128.xor(acc, v128.xor(i8x16.swizzle(tLow, low), i8x16.swizzle(tHigh, high)));
}

// @ts-ignore: decorator
@inline function lowNibbles(x: v128): v128 {
  return v128.and(x, i8x16.splat(0x0f));
}

// @ts-ignore: decorator
@inline function highNibbles(x: v128): v128 {
  return v128.and(i64x2.shr_u(x, 4), i8x16.splat(0x0f));
}

function dot4(tables: usize, inputs: usize, inputCount: i32, outs: usize, start: usize, end: usize): void {
  const out0 = <usize>load<u32>(outs);
  const out1 = <usize>load<u32>(outs, 4);
  const out2 = <usize>load<u32>(outs, 8);
  const out3 = <usize>load<u32>(outs, 12);
  for (let p = start; p < end; p += 32) {
    let a0 = i64x2.splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    let t = tables;
    for (let i = 0; i < inputCount; i++) {
      const src = <usize>load<u32>(inputs + (<usize>i << 2)) + p;
      const x = v128.load(src);
      const y = v128.load(src, 16);
      const xl = lowNibbles(x), xh = highNibbles(x), yl = lowNibbles(y), yh = highNibbles(y);
      a0 = mulAdd(a0, t, 0, xl, xh); b0 = mulAdd(b0, t, 0, yl, yh);
      a1 = mulAdd(a1, t, 32, xl, xh); b1 = mulAdd(b1, t, 32, yl, yh);
      a2 = mulAdd(a2, t, 64, xl, xh); b2 = mulAdd(b2, t, 64, yl, yh);
      a3 = mulAdd(a3, t, 96, xl, xh); b3 = mulAdd(b3, t, 96, yl, yh);
      t += 128;
    }
    v128.store(out0 + p, a0); v128.store(out0 + p, b0, 16);
    v128.store(out1 + p, a1); v128.store(out1 + p, b1, 16);
    v128.store(out2 + p, a2); v128.store(out2 + p, b2, 16);
    v128.store(out3 + p, a3); v128.store(out3 + p, b3, 16);
  }
}

function dot3(tables: usize, inputs: usize, inputCount: i32, outs: usize, start: usize, end: usize): void {
  const out0 = <usize>load<u32>(outs);
  const out1 = <usize>load<u32>(outs, 4);
  const out2 = <usize>load<u32>(outs, 8);
  for (let p = start; p < end; p += 32) {
    let a0 = i64x2.splat(0), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
    let t = tables;
    for (let i = 0; i < inputCount; i++) {
      const src = <usize>load<u32>(inputs + (<usize>i << 2)) + p;
      const x = v128.load(src);
      const y = v128.load(src, 16);
      const xl = lowNibbles(x), xh = highNibbles(x), yl = lowNibbles(y), yh = highNibbles(y);
      a0 = mulAdd(a0, t, 0, xl, xh); b0 = mulAdd(b0, t, 0, yl, yh);
      a1 = mulAdd(a1, t, 32, xl, xh); b1 = mulAdd(b1, t, 32, yl, yh);
      a2 = mulAdd(a2, t, 64, xl, xh); b2 = mulAdd(b2, t, 64, yl, yh);
      t += 96;
    }
    v128.store(out0 + p, a0); v128.store(out0 + p, b0, 16);
    v128.store(out1 + p, a1); v128.store(out1 + p, b1, 16);
    v128.store(out2 + p, a2); v128.store(out2 + p, b2, 16);
  }
}

function dot2(tables: usize, inputs: usize, inputCount: i32, outs: usize, start: usize, end: usize): void {
  const out0 = <usize>load<u32>(outs);
  const out1 = <usize>load<u32>(outs, 4);
  for (let p = start; p < end; p += 32) {
    let a0 = i64x2.splat(0), b0 = a0, a1 = a0, b1 = a0;
    let t = tables;
    for (let i = 0; i < inputCount; i++) {
      const src = <usize>load<u32>(inputs + (<usize>i << 2)) + p;
      const x = v128.load(src);
      const y = v128.load(src, 16);
      const xl = lowNibbles(x), xh = highNibbles(x), yl = lowNibbles(y), yh = highNibbles(y);
      a0 = mulAdd(a0, t, 0, xl, xh); b0 = mulAdd(b0, t, 0, yl, yh);
      a1 = mulAdd(a1, t, 32, xl, xh); b1 = mulAdd(b1, t, 32, yl, yh);
      t += 64;
    }
    v128.store(out0 + p, a0); v128.store(out0 + p, b0, 16);
    v128.store(out1 + p, a1); v128.store(out1 + p, b1, 16);
  }
}

function dot1(tables: usize, inputs: usize, inputCount: i32, outs: usize, start: usize, end: usize): void {
  const out0 = <usize>load<u32>(outs);
  for (let p = start; p < end; p += 32) {
    let a0 = i64x2.splat(0), b0 = a0;
    let t = tables;
    for (let i = 0; i < inputCount; i++) {
      const src = <usize>load<u32>(inputs + (<usize>i << 2)) + p;
      const x = v128.load(src);
      const y = v128.load(src, 16);
      a0 = mulAdd(a0, t, 0, lowNibbles(x), highNibbles(x));
      b0 = mulAdd(b0, t, 0, lowNibbles(y), highNibbles(y));
      t += 32;
    }
    v128.store(out0 + p, a0); v128.store(out0 + p, b0, 16);
  }
}

/** Scalar remainder for bytes [start, end): same tables, one byte at a time. */
function mulTail(tables: usize, inputs: usize, inputCount: i32, outputs: usize, rowCount: i32, start: usize, end: usize): void {
  let groupTables = tables;
  for (let row = 0; row < rowCount; row += groupRows) {
    const rows = min(groupRows, rowCount - row);
    const rowStride = <usize>rows * tableBytes;
    for (let r = 0; r < rows; r++) {
      const out = <usize>load<u32>(outputs + (<usize>(row + r) << 2));
      for (let p = start; p < end; p++) {
        let acc: u32 = 0;
        let t = groupTables + <usize>r * tableBytes;
        for (let i = 0; i < inputCount; i++) {
          const x = <u32>load<u8>(<usize>load<u32>(inputs + (<usize>i << 2)) + p);
          acc ^= <u32>load<u8>(t + (x & 0x0f)) ^ <u32>load<u8>(t + 16 + (x >> 4));
          t += rowStride;
        }
        store<u8>(out + p, <u8>acc);
      }
    }
    groupTables += <usize>rows * <usize>inputCount * tableBytes;
  }
}
