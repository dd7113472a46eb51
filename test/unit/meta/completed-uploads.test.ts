// Completion records of multipart uploads on a real LMDB environment: written in the object's
// transaction (or not at all), kept across a reopen, found only for their bucket/key, and swept by
// age and by count, oldest first, in bounded batches.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetaStore, type LmdbMetaStore } from '../../../src/meta/lmdb-meta-store.js';
import type { ObjectRecord } from '../../../src/meta/types.js';
import { completePartsDigest } from '../../../src/object/multipart-rules.js';
import { objectRecord, partRecord, tempStore, uploadRecord, withCode } from './helpers.js';

const t0 = 1_700_000_000_000;

let store: LmdbMetaStore;
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, dir, cleanup } = await tempStore());
  await store.createBucket({ name: 'b', createdMs: t0, location: '' });
});
afterEach(async () => {
  await cleanup();
});

/** An upload `uploadId` at b/key with one part, and the object record completing it at `completedMs`. */
async function uploadWithPart(key: string, uploadId: string, completedMs = t0): Promise<ObjectRecord> {
  await store.createUpload(uploadRecord('b', key, uploadId));
  const part = partRecord(1);
  await store.putPart('b', key, uploadId, part);
  const { lastModifiedMs: _m, ...data } = part;
  return { ...objectRecord('b', key, `${uploadId}-1`), lastModifiedMs: completedMs, sizeBytes: part.sizeBytes, parts: [data], multipart: true };
}

const digestOf = (etag: string) => completePartsDigest([{ partNumber: 1, etag }]);

describe('completion records', () => {
  it('completeUpload stores the completion with the object: ETag, checksum, digest, time; only for its bucket/key', async () => {
    const record = { ...(await uploadWithPart('k', 'u1')), checksum: { algorithm: 'CRC32' as const, type: 'COMPOSITE' as const, value: 'AAAAAA==-1' } };
    const digest = digestOf('p1');
    await store.completeUpload('u1', record, digest);
    const done = await store.getCompletedUpload('b', 'k', 'u1');
    expect(done).toEqual({ uploadId: 'u1', bucket: 'b', key: 'k', etag: 'u1-1', checksum: record.checksum, partsDigest: expect.anything(), completedMs: t0 });
    expect(Buffer.from(done!.partsDigest).equals(Buffer.from(digest))).toBe(true);
    expect(await store.getCompletedUpload('b', 'other', 'u1')).toBeUndefined();
    expect(await store.getCompletedUpload('b2', 'k', 'u1')).toBeUndefined();
    expect(await store.getCompletedUpload('b', 'k', 'u2')).toBeUndefined();
  });

  it('a completion that fails its write conditions leaves neither object nor completion (one transaction)', async () => {
    const record = await uploadWithPart('k', 'u1');
    await expect(store.completeUpload('u1', record, digestOf('p1'), { ifMatch: 'nope' })).rejects.toEqual(withCode('PreconditionFailed'));
    expect(await store.getObject('b', 'k')).toBeUndefined();
    expect(await store.getCompletedUpload('b', 'k', 'u1')).toBeUndefined();
    expect(await store.getUpload('b', 'k', 'u1')).toBeDefined();
    expect(store.completedUploadCount()).toBe(0);
  });

  it('a replica records the completion even when a newer version of the key wins; none without a digest', async () => {
    const record = await uploadWithPart('k', 'u1', t0);
    await store.applyObject({ ...objectRecord('b', 'k', 'newer'), lastModifiedMs: t0 + 1000, writer: 'node-2' });
    expect(await store.applyCompleteUpload('u1', { ...record, writer: 'node-1' }, digestOf('p1'))).toBeUndefined();
    expect((await store.getObject('b', 'k'))?.etag).toBe('newer');
    expect((await store.getCompletedUpload('b', 'k', 'u1'))?.etag).toBe('u1-1');
    const other = await uploadWithPart('k2', 'u2', t0);
    await store.applyCompleteUpload('u2', { ...other, writer: 'node-1' }, undefined as unknown as Uint8Array);
    expect(await store.getObject('b', 'k2')).toBeDefined();
    expect(await store.getCompletedUpload('b', 'k2', 'u2')).toBeUndefined();
  });

  it('survives closing and reopening the environment', async () => {
    await store.completeUpload('u1', await uploadWithPart('k', 'u1'), digestOf('p1'));
    await store.close();
    store = await openMetaStore(dir);
    expect((await store.getCompletedUpload('b', 'k', 'u1'))?.etag).toBe('u1-1');
  });
});

describe('the completion sweep (expireCompletedUploads)', () => {
  /** Completions u0..u(n-1) at t0, t0 + 1 s, ... */
  async function completions(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await store.completeUpload(`u${i}`, await uploadWithPart(`k${i}`, `u${i}`, t0 + i * 1000), digestOf('p1'));
  }
  const kept = async (n: number) => (await Promise.all(Array.from({ length: n }, (_, i) => store.getCompletedUpload('b', `k${i}`, `u${i}`)))).map((c) => c !== undefined);

  it('removes those completed before the cut-off, oldest first, at most batchMax per call', async () => {
    await completions(5);
    expect(await store.expireCompletedUploads(t0 + 3500, 100, 2)).toBe(2);
    expect(await kept(5)).toEqual([false, false, true, true, true]);
    expect(await store.expireCompletedUploads(t0 + 3500, 100, 2)).toBe(2);
    expect(await store.expireCompletedUploads(t0 + 3500, 100, 2)).toBe(0);
    expect(await kept(5)).toEqual([false, false, false, false, true]);
    expect(store.completedUploadCount()).toBe(1);
  });

  it('keeps at most keepMax, dropping the oldest; nothing to do is a no-op', async () => {
    await completions(5);
    expect(await store.expireCompletedUploads(t0 - 1, 2, 100)).toBe(3);
    expect(await kept(5)).toEqual([false, false, false, true, true]);
    expect(await store.expireCompletedUploads(t0 - 1, 2, 100)).toBe(0);
    expect(store.completedUploadCount()).toBe(2);
  });

  it('a completion written again (same upload id) keeps one record and one time entry', async () => {
    const record = await uploadWithPart('k', 'u1', t0);
    await store.completeUpload('u1', record, digestOf('p1'));
    await store.applyCompleteUpload('u1', { ...record, lastModifiedMs: t0 + 5000, writer: 'node-1' }, digestOf('p1'));
    expect(store.completedUploadCount()).toBe(1);
    expect((await store.getCompletedUpload('b', 'k', 'u1'))?.completedMs).toBe(t0 + 5000);
    expect(await store.expireCompletedUploads(t0 + 1000, 100, 100)).toBe(0);
    expect(await store.expireCompletedUploads(t0 + 6000, 100, 100)).toBe(1);
    expect(await store.getCompletedUpload('b', 'k', 'u1')).toBeUndefined();
  });
});
