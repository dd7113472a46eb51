// S3 flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): streaming digests, header
// parsing, and the multipart forms (COMPOSITE = hash of part digests + "-N"; FULL_OBJECT = CRC of
// the whole object, combined from part CRCs without rereading data). Source: AWS S3 User Guide
// "Checking object integrity in Amazon S3" and the PutObject / CompleteMultipartUpload API reference.
// Invariant: every digest is the algorithm's raw big-endian output (4, 4, 8, 20 or 32 bytes).

import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createCRC32, createCRC64, type IHasher } from 'hash-wasm';
import type { ChecksumAlgorithm, ChecksumType } from '../meta/types.js';
import { assert } from '../util/assert.js';
import { s3Error } from './errors.js';

/** Every flexible checksum algorithm S3 accepts, in the order AWS documents them. */
export const checksumAlgorithms: readonly ChecksumAlgorithm[] = Object.freeze([
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
] as const);

/** The CRC algorithms, whose checksums can be combined (FULL_OBJECT multipart checksums). */
export type CrcChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME';

/** An incremental digest: feed chunks in order, then call `digest()` exactly once. */
export interface Checksummer {
  /** Adds `chunk` (any length, including 0). Must not be called after `digest()`. */
  update(chunk: Uint8Array): void;
  /** The raw big-endian digest (`digestLengthBytes(algorithm)` bytes). Call once. */
  digest(): Buffer;
}

interface CrcParameters {
  widthBits: 32 | 64;
  /** Reflected (LSB-first) generator polynomial; all three CRCs use init = xorout = all ones. */
  reflectedPolynomial: bigint;
}

// Catalogue parameters (reveng.sourceforge.io CRC catalogue): CRC-32/ISO-HDLC, CRC-32/ISCSI, CRC-64/NVME.
const crcParameters: Readonly<Record<CrcChecksumAlgorithm, CrcParameters>> = {
  CRC32: { widthBits: 32, reflectedPolynomial: 0xedb88320n },
  CRC32C: { widthBits: 32, reflectedPolynomial: 0x82f63b78n },
  CRC64NVME: { widthBits: 64, reflectedPolynomial: 0x9a6c9329ac4bc9b5n },
};

const digestLengths: Readonly<Record<ChecksumAlgorithm, number>> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

// hash-wasm instances are created asynchronously, so each algorithm gets one shared WASM hasher at
// module load and every Checksummer keeps its own saved register state (8-16 bytes), loading it
// around each update. This is safe because update() is synchronous and JS runs one call at a time.
// Measured on 1 MiB: CRC32C 1.2-1.5 GB/s, CRC64NVME 1.0 GB/s (vs 275 MB/s for @aws-sdk/crc64-nvme,
// whose digest() is also async).
const crc32cHasher: IHasher = await createCRC32(0x82f63b78);
const crc64NvmeHasher: IHasher = await createCRC64('9a6c9329ac4bc9b5');

/** Bytes of an algorithm's raw digest: CRC32 4, CRC32C 4, CRC64NVME 8, SHA1 20, SHA256 32. */
export function digestLengthBytes(algorithm: ChecksumAlgorithm): number {
  return digestLengths[algorithm];
}

/** Header carrying the base64 checksum, e.g. 'x-amz-checksum-crc32c' (lower-case). */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** True for the algorithms that support the FULL_OBJECT type: CRC32, CRC32C, CRC64NVME. */
export function supportsFullObject(algorithm: ChecksumAlgorithm): algorithm is CrcChecksumAlgorithm {
  return algorithm === 'CRC32' || algorithm === 'CRC32C' || algorithm === 'CRC64NVME';
}

/** True for the algorithms that support the COMPOSITE type: all but CRC64NVME (full-object only). */
export function supportsComposite(algorithm: ChecksumAlgorithm): boolean {
  return algorithm !== 'CRC64NVME';
}

/**
 * Checksum type of a multipart upload created without `x-amz-checksum-type`: FULL_OBJECT for
 * CRC64NVME (its only type), COMPOSITE for the others (AWS "Checking object integrity",
 * CreateMultipartUpload `ChecksumType`).
 */
export function defaultChecksumType(algorithm: ChecksumAlgorithm): ChecksumType {
  return algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE';
}

/**
 * Parses an algorithm header value (`x-amz-sdk-checksum-algorithm`, `x-amz-checksum-algorithm`),
 * case-insensitively. `undefined` or '' -> undefined (no algorithm requested).
 * @throws TesseraError 'InvalidRequest' "Value for <headerName> header is invalid." (AWS's wording)
 *   when the value names no supported algorithm.
 */
export function parseChecksumAlgorithm(
  value: string | undefined,
  headerName = 'x-amz-sdk-checksum-algorithm',
): ChecksumAlgorithm | undefined {
  if (value === undefined || value === '') return undefined;
  const upper = value.trim().toUpperCase();
  const found = checksumAlgorithms.find((algorithm) => algorithm === upper);
  if (found === undefined) {
    throw s3Error('InvalidRequest', `Value for ${headerName} header is invalid.`, { header: headerName });
  }
  return found;
}

/**
 * Decodes a client-sent base64 checksum (header `checksumHeaderName(algorithm)` or trailer) into
 * its raw digest of `digestLengthBytes(algorithm)` bytes. Only canonical padded base64 is accepted.
 * @throws TesseraError 'InvalidRequest' "Value for x-amz-checksum-<alg> header is invalid." (what
 *   S3 answers for a malformed value; a well-formed value that does not match is 'BadDigest',
 *   raised by the caller after hashing).
 */
export function decodeChecksumValue(algorithm: ChecksumAlgorithm, base64: string): Buffer {
  const headerName = checksumHeaderName(algorithm);
  const digest = Buffer.from(base64, 'base64');
  const canonical = digest.toString('base64') === base64;
  if (!canonical || digest.length !== digestLengthBytes(algorithm)) {
    throw s3Error('InvalidRequest', `Value for ${headerName} header is invalid.`, { header: headerName });
  }
  return digest;
}

/** A fresh incremental digest for `algorithm` (see Checksummer). */
export function createChecksummer(algorithm: ChecksumAlgorithm): Checksummer {
  switch (algorithm) {
    case 'CRC32':
      return new ZlibCrc32Checksummer();
    case 'CRC32C':
      return new WasmChecksummer(crc32cHasher);
    case 'CRC64NVME':
      return new WasmChecksummer(crc64NvmeHasher);
    case 'SHA1':
      return new NodeHashChecksummer('sha1');
    case 'SHA256':
      return new NodeHashChecksummer('sha256');
  }
}

class ZlibCrc32Checksummer implements Checksummer {
  private crc = 0;
  private finished = false;

  update(chunk: Uint8Array): void {
    assert(!this.finished, 'checksummer updated after digest');
    this.crc = zlibCrc32(chunk, this.crc);
  }

  digest(): Buffer {
    assert(!this.finished, 'checksummer digested twice');
    this.finished = true;
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.crc >>> 0);
    return out;
  }
}

class WasmChecksummer implements Checksummer {
  private state: Uint8Array;
  private finished = false;

  constructor(private readonly hasher: IHasher) {
    this.state = hasher.init().save();
  }

  update(chunk: Uint8Array): void {
    assert(!this.finished, 'checksummer updated after digest');
    if (chunk.length === 0) return;
    this.state = this.hasher.load(this.state).update(chunk).save();
  }

  digest(): Buffer {
    assert(!this.finished, 'checksummer digested twice');
    this.finished = true;
    return Buffer.from(this.hasher.load(this.state).digest('binary'));
  }
}

class NodeHashChecksummer implements Checksummer {
  private readonly hash;
  private finished = false;

  constructor(name: 'sha1' | 'sha256') {
    this.hash = createHash(name);
  }

  update(chunk: Uint8Array): void {
    assert(!this.finished, 'checksummer updated after digest');
    this.hash.update(chunk);
  }

  digest(): Buffer {
    assert(!this.finished, 'checksummer digested twice');
    this.finished = true;
    return this.hash.digest();
  }
}

// --- CRC combination -----------------------------------------------------------------------------
// crc(A||B) = crc(A)·x^(8·len(B)) mod P  XOR  crc(B), for CRCs with init = xorout (zlib's
// crc32_combine). zlib >= 1.2.12 replaced the GF(2) operator-matrix squaring of older versions with
// the equivalent and cheaper x^(2^k) mod P table + polynomial multiplication used here; both are
// O(log len). Values are reflected (bit width-1 holds x^0) and held as two uint32 words [hi, lo]
// (hi = 0 for 32-bit CRCs) so one code path serves both widths without BigInt (~4x slower).
// Cost: ~30 us per distinct part size, ~1 us per repeated size; 10,000 parts <= ~0.3 s.

type Word64 = readonly [hi: number, lo: number];

interface CrcField {
  widthBits: 32 | 64;
  polynomial: Word64;
  /** x2n[k] = x^(2^k) mod P; 64 entries cover lengths up to 2^60 bytes. */
  x2n: Word64[];
  /** shiftOperator results by length: multipart parts mostly share one size, making them 1 multiply. */
  shiftByLength: Map<number, Word64>;
}

/** Cached shift operators per algorithm (16 bytes each); the cache is cleared when full. */
const shiftCacheEntriesMax = 1024;

const crcFields = new Map<CrcChecksumAlgorithm, CrcField>();
const x2nTableLength = 64;

function bitAt(value: Word64, index: number): number {
  return index >= 32 ? (value[0] >>> (index - 32)) & 1 : (value[1] >>> index) & 1;
}

/** The polynomial with only x^degree set (degree < width), in reflected form. */
function monomial(widthBits: number, degree: number): Word64 {
  const index = widthBits - 1 - degree;
  return index >= 32 ? [(1 << (index - 32)) >>> 0, 0] : [0, (1 << index) >>> 0];
}

/** a·b mod P (zlib multmodp). */
function multiplyModP(a: Word64, b: Word64, field: CrcField): Word64 {
  let [productHi, productLo] = [0, 0];
  let [factorHi, factorLo] = b;
  const [polyHi, polyLo] = field.polynomial;
  for (let index = field.widthBits - 1; index >= 0; index--) {
    if (bitAt(a, index) !== 0) {
      productHi ^= factorHi;
      productLo ^= factorLo;
    }
    const carry = factorLo & 1;
    factorLo = ((factorLo >>> 1) | ((factorHi & 1) << 31)) >>> 0;
    factorHi >>>= 1;
    if (carry !== 0) {
      factorHi ^= polyHi;
      factorLo ^= polyLo;
    }
  }
  return [productHi >>> 0, productLo >>> 0];
}

function crcField(algorithm: CrcChecksumAlgorithm): CrcField {
  const cached = crcFields.get(algorithm);
  if (cached !== undefined) return cached;
  const { widthBits, reflectedPolynomial } = crcParameters[algorithm];
  const polynomial: Word64 = [Number(reflectedPolynomial >> 32n), Number(reflectedPolynomial & 0xffffffffn)];
  const field: CrcField = { widthBits, polynomial, x2n: [], shiftByLength: new Map() };
  let power = monomial(widthBits, 1);
  for (let k = 0; k < x2nTableLength; k++) {
    field.x2n.push(power);
    power = multiplyModP(power, power, field);
  }
  crcFields.set(algorithm, field);
  return field;
}

/** x^(8·lengthBytes) mod P, the operator that shifts a CRC over `lengthBytes` zero bytes. */
function shiftOperator(field: CrcField, lengthBytes: number): Word64 {
  const cached = field.shiftByLength.get(lengthBytes);
  if (cached !== undefined) return cached;
  let result = monomial(field.widthBits, 0);
  let remaining = lengthBytes;
  for (let k = 3; remaining > 0; k++) {
    const power = field.x2n[k];
    assert(power !== undefined, 'CRC combine length out of table range');
    if (remaining % 2 === 1) result = multiplyModP(power, result, field);
    remaining = Math.floor(remaining / 2); // lengths exceed 2^32: no bitwise ops here
  }
  if (field.shiftByLength.size >= shiftCacheEntriesMax) field.shiftByLength.clear();
  field.shiftByLength.set(lengthBytes, result);
  return result;
}

function readCrc(algorithm: CrcChecksumAlgorithm, digest: Buffer): Word64 {
  assert(digest.length === digestLengthBytes(algorithm), `${algorithm} digest must be ${digestLengthBytes(algorithm)} bytes`);
  return algorithm === 'CRC64NVME' ? [digest.readUInt32BE(0), digest.readUInt32BE(4)] : [0, digest.readUInt32BE(0)];
}

function writeCrc(algorithm: CrcChecksumAlgorithm, value: Word64): Buffer {
  const out = Buffer.alloc(digestLengthBytes(algorithm));
  if (algorithm === 'CRC64NVME') {
    out.writeUInt32BE(value[0], 0);
    out.writeUInt32BE(value[1], 4);
  } else {
    out.writeUInt32BE(value[1], 0);
  }
  return out;
}

/**
 * CRC of A||B from crc(A), crc(B) (raw big-endian digests, 4 or 8 bytes) and len(B) in bytes
 * (a safe integer >= 0; 5 TiB objects need ~2^42). Method: zlib crc32_combine (see above).
 * Wrong digest lengths or a negative/non-integer length are programmer errors (assert).
 */
export function combineCrc(algorithm: CrcChecksumAlgorithm, crcA: Buffer, crcB: Buffer, lengthBBytes: number): Buffer {
  assert(Number.isSafeInteger(lengthBBytes) && lengthBBytes >= 0, 'lengthBBytes must be a non-negative safe integer');
  const a = readCrc(algorithm, crcA);
  const b = readCrc(algorithm, crcB);
  if (lengthBBytes === 0) return writeCrc(algorithm, a);
  const field = crcField(algorithm);
  const shifted = multiplyModP(shiftOperator(field, lengthBBytes), a, field);
  return writeCrc(algorithm, [(shifted[0] ^ b[0]) >>> 0, (shifted[1] ^ b[1]) >>> 0]);
}

/**
 * COMPOSITE multipart checksum: base64(hash(digest1 || digest2 || ... || digestN)) + '-' + N, where
 * each digest is a part's raw digest in part-number order (AWS "Checking object integrity",
 * "Using part-level checksums for multipart uploads"). Not defined by S3 for CRC64NVME
 * (see supportsComposite); the caller rejects that combination.
 */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: Buffer[]): string {
  const checksummer = createChecksummer(algorithm);
  for (const digest of partDigests) {
    assert(digest.length === digestLengthBytes(algorithm), 'part digest has the wrong length');
    checksummer.update(digest);
  }
  return `${checksummer.digest().toString('base64')}-${partDigests.length}`;
}

/**
 * FULL_OBJECT multipart checksum: base64 of the CRC of the whole object (no "-N" suffix), combined
 * from each part's raw CRC digest and size in bytes, in part-number order. Zero parts give the
 * CRC of the empty string (AWS "Checking object integrity", "Full object checksums").
 */
export function fullObjectChecksum(algorithm: CrcChecksumAlgorithm, parts: { digest: Buffer; sizeBytes: number }[]): string {
  let combined = writeCrc(algorithm, [0, 0]);
  for (const part of parts) combined = combineCrc(algorithm, combined, part.digest, part.sizeBytes);
  return combined.toString('base64');
}
