// Shared fixtures for the meta tests: a store in a fresh temp directory and record builders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openMetaStore, type LmdbMetaStore } from '../../../src/meta/lmdb-meta-store.js';
import type { DataLayout, ObjectRecord, PartRecord, UploadRecord } from '../../../src/meta/types.js';

/** Matches a TesseraError with `code` (for expect(...).rejects.toEqual / toThrow). */
export const withCode = (code: string) => expect.objectContaining({ name: 'TesseraError', code });

export const layout: DataLayout = { blockSizeBytes: 1 << 20, dataShards: 1, parityShards: 0, bitrot: 'xxh3-64' };

/** A temp directory and a store opened in it; `cleanup` closes the store and removes the directory. */
export async function tempStore(): Promise<{ dir: string; store: LmdbMetaStore; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-meta-'));
  const handle = { dir, store: await openMetaStore(dir), cleanup: async () => {} };
  handle.cleanup = async () => {
    await handle.store.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return handle;
}

let nextId = 0;
/** A fresh unique data id. */
export function newDataId(): string {
  nextId += 1;
  return `d${String(nextId).padStart(8, '0')}`;
}

/** A single-part object record at bucket/key with the given ETag and data id. */
export function objectRecord(bucket: string, key: string, etag = 'e0', dataId = newDataId()): ObjectRecord {
  return {
    bucket, key, sizeBytes: 3, etag, lastModifiedMs: 1_700_000_000_000, layout,
    parts: [{ partNumber: 1, sizeBytes: 3, etag, dataId, drives: ['drive-a'] }], multipart: false, userMetadata: {},
  };
}

export function uploadRecord(bucket: string, key: string, uploadId: string, initiatedMs = 1_700_000_000_000): UploadRecord {
  return { bucket, key, uploadId, initiatedMs, layout, userMetadata: { a: 'b' } };
}

export function partRecord(partNumber: number, dataId = newDataId(), sizeBytes = 5): PartRecord {
  return { partNumber, sizeBytes, etag: `p${partNumber}`, dataId, drives: ['drive-a'], lastModifiedMs: 1_700_000_000_000 };
}

/** Byte-order comparison oracle: UTF-8 encode and Buffer.compare. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Deterministic PRNG (mulberry32) so property-test failures reproduce from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
