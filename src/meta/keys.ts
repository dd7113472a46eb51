// Binary LMDB keys for the metadata sub-databases. LMDB compares keys bytewise (memcmp), so each
// encoding is chosen to make that order equal S3's listing order: UTF-8 byte order of object keys.
// We do not use lmdb-js's ordered-binary array keys: strings of 64+ UTF-16 units are written raw,
// so a NUL inside a long key is read back as an array separator (the key comes back truncated).
import { assert } from '../util/assert.js';
import { keyLengthMaxBytes } from '../util/limits.js';

const nul = 0x00;

/** UTF-8 bytes of `s`; `s` must be well-formed UTF-16 (lone surrogates would become U+FFFD). */
export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** True when `s` has no lone surrogate, so UTF-8 encoding round-trips. */
export function isWellFormed(s: string): boolean {
  return !/\p{Cs}/u.test(s);
}

/**
 * Compares two strings in UTF-8 byte order (= code point order) without encoding them, for
 * well-formed strings. JS `<` compares UTF-16 units, which puts astral characters (surrogate
 * pairs, 0xD800..0xDFFF) before U+E000..U+FFFF; shifting both ranges restores code point order.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return codePointRank(ca) - codePointRank(cb);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** The smallest byte string greater than every string that starts with `bytes` (last byte + 1). */
export function prefixEnd(bytes: Buffer): Buffer {
  const end = Buffer.from(bytes);
  // UTF-8 and our escapes never produce 0xFF, so the last byte can always be incremented.
  assert(end.length > 0 && end[end.length - 1] !== 0xff, 'prefixEnd needs a last byte below 0xff');
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

/** `bucket` + 0x00: every key of the bucket in objects/uploads starts with this. */
export function bucketScope(bucket: string): Buffer {
  assert(bucket.length > 0 && !bucket.includes('\0'), 'bucket names are non-empty and have no NUL');
  return Buffer.concat([utf8(bucket), Buffer.of(nul)]);
}

/** Key in `buckets`: the name's bytes. */
export function bucketKey(bucket: string): Buffer {
  assert(bucket.length > 0 && !bucket.includes('\0'), 'bucket names are non-empty and have no NUL');
  return utf8(bucket);
}

/** Asserts an object key the S3 layer accepted: well-formed and at most keyLengthMaxBytes. */
export function assertObjectKey(key: string): void {
  assert(isWellFormed(key), 'object keys are well-formed UTF-16');
  assert(Buffer.byteLength(key, 'utf8') <= keyLengthMaxBytes, 'object keys are at most keyLengthMaxBytes');
}

/**
 * Key in `objects`: bucket 0x00 key (raw UTF-8). The object key is last, so it needs no escaping
 * and byte order within a bucket is the key's UTF-8 byte order. Length <= 63 + 1 + 1024 bytes.
 */
export function objectKey(bucket: string, key: string): Buffer {
  return Buffer.concat([bucketScope(bucket), utf8(key)]);
}

/**
 * Order-preserving, prefix-free encoding of a key that is followed by more fields:
 * 0x00 -> 0x00 0x01, then terminator 0x00 0x00. For any a < b (bytes), esc(a) < esc(b), and
 * esc(p) without terminator is a byte prefix of esc(k) exactly when p is a prefix of k.
 * Worst case 2 * 1024 + 2 bytes, which is why the environment uses 8 KiB pages (max key 4026 bytes).
 */
export function escapeKey(key: string, terminate: boolean): Buffer {
  return escapeBytes(utf8(key), terminate);
}

/** escapeKey over raw bytes (used for listing positions cut from over-long markers). */
export function escapeBytes(raw: Buffer, terminate: boolean): Buffer {
  const out: number[] = [];
  for (const byte of raw) {
    out.push(byte);
    if (byte === nul) out.push(0x01);
  }
  if (terminate) out.push(nul, nul);
  return Buffer.from(out);
}

/** Big-endian 8-byte unsigned integer (milliseconds fit in 53 bits). */
export function uint64Be(value: number): Buffer {
  assert(Number.isSafeInteger(value) && value >= 0, 'uint64Be takes a non-negative safe integer');
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(value));
  return buf;
}

/** Position in `uploads` of the first upload whose key is >= `key`. */
export function uploadKeyStart(bucket: string, key: string): Buffer {
  return Buffer.concat([bucketScope(bucket), escapeKey(key, true)]);
}

/**
 * Key in `uploads`: bucket 0x00 esc(key) 0x00 0x00 initiatedMs(8, BE) uploadId, so uploads sort by
 * (key in UTF-8 byte order, initiation time, uploadId) as ListMultipartUploads returns them.
 */
export function uploadKey(bucket: string, key: string, initiatedMs: number, uploadId: string): Buffer {
  return Buffer.concat([uploadKeyStart(bucket, key), uint64Be(initiatedMs), utf8(uploadId)]);
}

/** Key in `parts`: uploadId 0x00 partNumber(4, BE). Upload ids are unique and have no NUL. */
export function partKey(uploadId: string, partNumber: number): Buffer {
  assert(Number.isInteger(partNumber) && partNumber >= 0 && partNumber <= 0xffff_ffff, 'part numbers fit 32 bits');
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(partNumber);
  return Buffer.concat([uploadIdKey(uploadId), Buffer.of(nul), buf]);
}

/** Key in `upload-ids` (and the parts scope of an upload): the id's bytes. */
export function uploadIdKey(uploadId: string): Buffer {
  return utf8(uploadId);
}

/** Key in `pending` and `gc`: the dataId's bytes. */
export function dataKey(dataId: string): Buffer {
  return utf8(dataId);
}

/**
 * Key in `completed-upload-times`: completedMs (8, BE) uploadId, so a scan from the start meets the
 * oldest completed upload first. Length 8 + the upload id's bytes.
 */
export function completionTimeKey(completedMs: number, uploadId: string): Buffer {
  return Buffer.concat([uint64Be(completedMs), uploadIdKey(uploadId)]);
}
