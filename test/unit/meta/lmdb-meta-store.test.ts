// LmdbMetaStore against the MetaStore contract on a real LMDB environment in a temp directory.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetaStore, type LmdbMetaStore } from '../../../src/meta/lmdb-meta-store.js';
import type { MetaStore } from '../../../src/meta/meta-store.js';
import type { ObjectRecord } from '../../../src/meta/types.js';
import { newDataId, objectRecord, partRecord, tempStore, uploadRecord, withCode } from './helpers.js';

const bucket = (name: string) => ({ name, createdMs: 1_700_000_000_000, location: '' });
const gcIds = (store: MetaStore) => store.listGc(1000).map((ref) => ref.dataId).sort();
const pendingIds = (store: MetaStore) => store.listPending().map((ref) => ref.dataId).sort();
/** A part-list digest (32 bytes, as completePartsDigest makes). */
const digest = new Uint8Array(32).fill(7);

let store: LmdbMetaStore;
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, dir, cleanup } = await tempStore());
});
afterEach(async () => {
  await cleanup();
});

describe('buckets', () => {
  it('creates, gets, lists in name order and deletes', async () => {
    await store.createBucket(bucket('beta'));
    await store.createBucket({ ...bucket('alpha'), location: 'eu-west-1' });
    expect(await store.getBucket('alpha')).toEqual({ ...bucket('alpha'), location: 'eu-west-1' });
    expect(await store.getBucket('gamma')).toBeUndefined();
    expect((await store.listBuckets()).map((b) => b.name)).toEqual(['alpha', 'beta']);
    await expect(store.createBucket(bucket('beta'))).rejects.toEqual(withCode('BucketAlreadyOwnedByYou'));
    await store.deleteBucket('beta');
    expect((await store.listBuckets()).map((b) => b.name)).toEqual(['alpha']);
    await expect(store.deleteBucket('beta')).rejects.toEqual(withCode('NoSuchBucket'));
  });

  it('refuses to delete a bucket with objects, and aborts its uploads (parts to gc)', async () => {
    await store.createBucket(bucket('b'));
    await store.createBucket(bucket('b2'));
    await store.putObject(objectRecord('b', 'k'));
    await store.putObject(objectRecord('b2', 'other'));
    await expect(store.deleteBucket('b')).rejects.toEqual(withCode('BucketNotEmpty'));
    await store.deleteObject('b', 'k');
    await store.createUpload(uploadRecord('b', 'up', 'u1'));
    const part = partRecord(1);
    await store.putPart('b', 'up', 'u1', part);
    await store.createUpload(uploadRecord('b2', 'up', 'u2'));
    await store.removeGc(gcIds(store));
    await store.deleteBucket('b');
    expect(await store.getBucket('b')).toBeUndefined();
    expect(await store.getUpload('b', 'up', 'u1')).toBeUndefined();
    expect(gcIds(store)).toEqual([part.dataId]);
    expect(await store.getUpload('b2', 'up', 'u2')).toBeDefined();
    // A bucket of the same name starts empty.
    await store.createBucket(bucket('b'));
    expect((await store.listUploads('b', { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 10 })).uploads).toEqual([]);
  });
});

describe('objects', () => {
  beforeEach(async () => {
    await store.createBucket(bucket('b'));
  });

  it('puts, gets, replaces (old data to gc) and deletes (data to gc)', async () => {
    const first = objectRecord('b', 'dir/ключ😀', 'e1');
    expect(await store.putObject(first)).toBeUndefined();
    expect(await store.getObject('b', 'dir/ключ😀')).toEqual(first);
    expect(await store.getObject('b', 'dir/other')).toBeUndefined();
    const second = objectRecord('b', 'dir/ключ😀', 'e2');
    expect(await store.putObject(second)).toEqual(first);
    expect(await store.getObject('b', 'dir/ключ😀')).toEqual(second);
    expect(gcIds(store)).toEqual([first.parts[0]?.dataId]);
    expect(store.listGc(1)[0]).toEqual({ dataId: first.parts[0]?.dataId, shardIds: [`${first.parts[0]?.dataId}.0`], drives: ['drive-a'] });
    expect(await store.deleteObject('b', 'dir/ключ😀')).toEqual(second);
    expect(await store.getObject('b', 'dir/ключ😀')).toBeUndefined();
    expect(gcIds(store)).toEqual([first.parts[0]?.dataId, second.parts[0]?.dataId].sort());
    expect(await store.deleteObject('b', 'dir/ключ😀')).toBeUndefined();
  });

  it('keeps data the replacing record still references (metadata-only replace)', async () => {
    const first = objectRecord('b', 'k', 'e1');
    await store.putObject(first);
    await store.putObject({ ...first, contentType: 'text/plain' });
    expect(gcIds(store)).toEqual([]);
  });

  it('throws NoSuchBucket for writes to a missing bucket', async () => {
    await expect(store.putObject(objectRecord('nope', 'k'))).rejects.toEqual(withCode('NoSuchBucket'));
    await expect(store.deleteObject('nope', 'k')).rejects.toEqual(withCode('NoSuchBucket'));
  });

  it('checks write conditions inside the transaction', async () => {
    const put = (etag: string, conditions?: { ifMatch?: string; ifNoneMatch?: string }) =>
      store.putObject(objectRecord('b', 'k', etag), conditions);
    await expect(put('e1', { ifMatch: '*' })).rejects.toEqual(withCode('PreconditionFailed'));
    await expect(put('e1', { ifMatch: 'e0' })).rejects.toEqual(withCode('PreconditionFailed'));
    await put('e1', { ifNoneMatch: '*' });
    await expect(put('e2', { ifNoneMatch: '*' })).rejects.toEqual(withCode('PreconditionFailed'));
    await expect(put('e2', { ifMatch: 'wrong' })).rejects.toEqual(withCode('PreconditionFailed'));
    await put('e2', { ifMatch: 'e1' });
    await put('e3', { ifMatch: '*' });
    await expect(put('e4', { ifNoneMatch: 'e3' })).rejects.toEqual(withCode('PreconditionFailed'));
    await put('e4', { ifNoneMatch: 'e1' });
    expect((await store.getObject('b', 'k'))?.etag).toBe('e4');
  });

  it('lets exactly one of many concurrent If-None-Match: * writers win, and rolls back the losers', async () => {
    const records = Array.from({ length: 10 }, (_, i) => objectRecord('b', 'race', `e${i}`));
    await Promise.all(records.map((r) => store.addPending({ dataId: r.parts[0]?.dataId ?? '', shardIds: [], drives: [] })));
    const results = await Promise.allSettled(records.map((r) => store.putObject(r, { ifNoneMatch: '*' })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toEqual(withCode('PreconditionFailed'));
    const winner = await store.getObject('b', 'race') as ObjectRecord;
    // Only the winner's pending entry was cleared; nothing went to gc.
    expect(pendingIds(store)).toHaveLength(9);
    expect(pendingIds(store)).not.toContain(winner.parts[0]?.dataId);
    expect(gcIds(store)).toEqual([]);
  });

  it('putObject clears the pending entries of its data', async () => {
    const record = objectRecord('b', 'k');
    const dataId = record.parts[0]?.dataId ?? '';
    await store.addPending({ dataId, shardIds: [`${dataId}.0`], drives: ['drive-a'] });
    await store.addPending({ dataId: 'other', shardIds: ['other.0'], drives: ['drive-a'] });
    expect(pendingIds(store)).toEqual([dataId, 'other'].sort());
    await store.putObject(record);
    expect(pendingIds(store)).toEqual(['other']);
  });
});

describe('multipart uploads', () => {
  beforeEach(async () => {
    await store.createBucket(bucket('b'));
  });

  it('creates and gets uploads; missing bucket/upload and mismatched key give the right codes', async () => {
    await expect(store.createUpload(uploadRecord('nope', 'k', 'u0'))).rejects.toEqual(withCode('NoSuchBucket'));
    const upload = uploadRecord('b', 'k', 'u1');
    await store.createUpload(upload);
    expect(await store.getUpload('b', 'k', 'u1')).toEqual(upload);
    expect(await store.getUpload('b', 'other', 'u1')).toBeUndefined();
    expect(await store.getUpload('b', 'k', 'u2')).toBeUndefined();
    await expect(store.putPart('b', 'other', 'u1', partRecord(1))).rejects.toEqual(withCode('NoSuchUpload'));
    await expect(store.listParts('b', 'k', 'u2', 0, 10)).rejects.toThrow(withCode('NoSuchUpload'));
    await expect(store.getParts('b', 'k', 'u2')).rejects.toThrow(withCode('NoSuchUpload'));
    await expect(store.abortUpload('b', 'k', 'u2')).rejects.toEqual(withCode('NoSuchUpload'));
    await expect(store.completeUpload('u2', objectRecord('b', 'k'), digest)).rejects.toEqual(withCode('NoSuchUpload'));
  });

  it('stores parts, replaces a part (old data to gc, pending cleared) and pages through them', async () => {
    await store.createUpload(uploadRecord('b', 'k', 'u1'));
    const parts = [3, 1, 2, 10].map((n) => partRecord(n));
    for (const part of parts) await store.addPending({ dataId: part.dataId, shardIds: [`${part.dataId}.0`], drives: ['drive-a'] });
    for (const part of parts) await store.putPart('b', 'k', 'u1', part);
    expect(pendingIds(store)).toEqual([]);
    const replacement = partRecord(2);
    await store.putPart('b', 'k', 'u1', replacement);
    expect(gcIds(store)).toEqual([parts[2]?.dataId]);
    expect((await store.getParts('b', 'k', 'u1')).map((p) => p.partNumber)).toEqual([1, 2, 3, 10]);
    expect((await store.getParts('b', 'k', 'u1'))[1]).toEqual(replacement);
    const page1 = await store.listParts('b', 'k', 'u1', 0, 2);
    expect(page1.parts.map((p) => p.partNumber)).toEqual([1, 2]);
    expect(page1).toMatchObject({ isTruncated: true, nextPartNumberMarker: 2 });
    const page2 = await store.listParts('b', 'k', 'u1', 2, 2);
    expect(page2.parts.map((p) => p.partNumber)).toEqual([3, 10]);
    expect(page2.isTruncated).toBe(false);
    expect(await store.listParts('b', 'k', 'u1', 10, 2)).toEqual({ parts: [], isTruncated: false });
    expect(await store.listParts('b', 'k', 'u1', 0, 0)).toEqual({ parts: [], isTruncated: false });
  });

  it('completeUpload stores the object, gcs unused parts and the replaced object, removes the upload', async () => {
    const old = objectRecord('b', 'k', 'old');
    await store.putObject(old);
    await store.createUpload(uploadRecord('b', 'k', 'u1'));
    const parts = [1, 2, 3].map((n) => partRecord(n));
    for (const part of parts) await store.putPart('b', 'k', 'u1', part);
    const used = [parts[0], parts[2]].map((p, i) => ({ partNumber: i + 1, sizeBytes: 5, etag: p?.etag ?? '', dataId: p?.dataId ?? '', drives: ['drive-a'] }));
    const record: ObjectRecord = { ...objectRecord('b', 'k', 'abc-2'), sizeBytes: 10, parts: used, multipart: true };
    await expect(store.completeUpload('u1', record, digest, { ifMatch: 'nope' })).rejects.toEqual(withCode('PreconditionFailed'));
    expect(await store.getParts('b', 'k', 'u1')).toHaveLength(3);
    expect(await store.completeUpload('u1', record, digest, { ifMatch: 'old' })).toEqual(old);
    expect(await store.getObject('b', 'k')).toEqual(record);
    expect(await store.getUpload('b', 'k', 'u1')).toBeUndefined();
    await expect(store.getParts('b', 'k', 'u1')).rejects.toThrow(withCode('NoSuchUpload'));
    expect(gcIds(store)).toEqual([old.parts[0]?.dataId, parts[1]?.dataId].sort());
    await expect(store.completeUpload('u1', record, digest)).rejects.toEqual(withCode('NoSuchUpload'));
  });

  it('abortUpload moves all parts to gc and removes the upload', async () => {
    await store.createUpload(uploadRecord('b', 'k', 'u1'));
    const parts = [1, 2].map((n) => partRecord(n));
    for (const part of parts) await store.putPart('b', 'k', 'u1', part);
    await store.abortUpload('b', 'k', 'u1');
    expect(await store.getUpload('b', 'k', 'u1')).toBeUndefined();
    expect(gcIds(store)).toEqual(parts.map((p) => p.dataId).sort());
  });
});

describe('pending and gc queues', () => {
  it('abandons pending items to gc, lists gc with a limit and removes entries', async () => {
    const ids = [newDataId(), newDataId(), newDataId()];
    for (const id of ids) await store.addPending({ dataId: id, shardIds: [`${id}.0`, `${id}.1`], drives: ['a', 'b'] });
    expect(store.listPending()).toEqual(ids.map((id) => ({ dataId: id, shardIds: [`${id}.0`, `${id}.1`], drives: ['a', 'b'] })));
    await store.abandonPending(ids[0] ?? '');
    await store.abandonPending(ids[1] ?? '');
    await store.abandonPending('not-pending');
    expect(pendingIds(store)).toEqual([ids[2]]);
    expect(store.listGc(1)).toEqual([{ dataId: ids[0], shardIds: [`${ids[0]}.0`, `${ids[0]}.1`], drives: ['a', 'b'] }]);
    expect(store.listGc(0)).toEqual([]);
    expect(gcIds(store)).toEqual([ids[0], ids[1]]);
    await store.removeGc([ids[0] ?? '', 'unknown']);
    expect(gcIds(store)).toEqual([ids[1]]);
  });
});

describe('persistence', () => {
  it('keeps everything across close and reopen', async () => {
    await store.createBucket(bucket('b'));
    const record = objectRecord('b', 'a/b/c');
    await store.putObject(record);
    await store.putObject(objectRecord('b', 'a/b/c'));
    const upload = uploadRecord('b', 'mp', 'u1');
    await store.createUpload(upload);
    const part = partRecord(1);
    await store.putPart('b', 'mp', 'u1', part);
    await store.addPending({ dataId: 'p1', shardIds: ['p1.0'], drives: ['drive-a'] });
    const before = {
      buckets: await store.listBuckets(), object: await store.getObject('b', 'a/b/c'), upload: await store.getUpload('b', 'mp', 'u1'),
      parts: await store.getParts('b', 'mp', 'u1'), pending: store.listPending(), gc: store.listGc(10),
    };
    expect(before.gc).toHaveLength(1);
    await store.close();
    store = await openMetaStore(dir);
    expect({
      buckets: await store.listBuckets(), object: await store.getObject('b', 'a/b/c'), upload: await store.getUpload('b', 'mp', 'u1'),
      parts: await store.getParts('b', 'mp', 'u1'), pending: store.listPending(), gc: store.listGc(10),
    }).toEqual(before);
    expect((await store.listObjects('b', { prefix: '', delimiter: '/', startAfter: '', maxKeys: 10 })).commonPrefixes).toEqual(['a/']);
  });
});

describe('repair queue', () => {
  it('keeps one entry per shard, lists in order, survives reopen, and removes', async () => {
    const entry = (dataId: string, shardIndex: number, reason: 'missing' | 'corrupt' = 'missing') =>
      ({ dataId, shardIndex, driveId: 'drive-a', reason, bucket: 'b', key: 'k', recordedMs: 1 });
    await store.addRepairs([entry('d2', 1), entry('d1', 3), entry('d1', 0)]);
    await store.addRepairs([entry('d1', 3, 'corrupt')]); // duplicate: the first stays
    expect(store.listRepairs(10).map((r) => [r.dataId, r.shardIndex, r.reason])).toEqual([['d1', 0, 'missing'], ['d1', 3, 'missing'], ['d2', 1, 'missing']]);
    expect(store.listRepairs(1)).toHaveLength(1);
    await store.close();
    store = await openMetaStore(dir);
    await store.removeRepairs([{ dataId: 'd1', shardIndex: 3 }]);
    expect(store.listRepairs(10).map((r) => r.shardIndex)).toEqual([0, 1]);
    expect(store.repairCount()).toBe(2);
  });
});

describe('scanObjects', () => {
  it('pages through every bucket in key order, resumes strictly after a position, and keeps to a scope', async () => {
    for (const name of ['a', 'b', 'c']) await store.createBucket(bucket(name));
    const keys = [['a', 'x/1'], ['a', 'x/2'], ['a', 'y'], ['b', 'x/1'], ['b', 'x/2'], ['b', 'x0'], ['c', 'z']] as const;
    for (const [b, k] of keys) await store.putObject(objectRecord(b, k));
    const walk = (limit: number, scope?: { bucket: string; prefix?: string }): string[] => {
      const seen: string[] = [];
      let after: { bucket: string; key: string } | undefined;
      for (;;) {
        const page = store.scanObjects(limit, after, scope);
        seen.push(...page.map((r) => `${r.bucket}/${r.key}`));
        if (page.length < limit) return seen;
        after = { bucket: page[page.length - 1]!.bucket, key: page[page.length - 1]!.key };
      }
    };
    expect(walk(2)).toEqual(keys.map(([b, k]) => `${b}/${k}`));
    expect(walk(1, { bucket: 'b' })).toEqual(['b/x/1', 'b/x/2', 'b/x0']);
    expect(walk(1, { bucket: 'b', prefix: 'x/' })).toEqual(['b/x/1', 'b/x/2']);
    expect(walk(5, { bucket: 'a', prefix: 'y' })).toEqual(['a/y']);
    expect(store.scanObjects(10, { bucket: 'a', key: 'x/1' }, { bucket: 'b' }).map((r) => r.key)).toEqual(['x/1', 'x/2', 'x0']); // a position before the scope starts at the scope
    expect(store.scanObjects(10, { bucket: 'c', key: 'a' }, { bucket: 'b' })).toEqual([]); // a position past the scope
    expect(store.scanObjects(0)).toEqual([]);
  });
});
