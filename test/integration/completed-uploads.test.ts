// CompleteMultipartUpload retried through the object layer on real LMDB and real files: the retry
// gets the first completion back, another part list or key gets NoSuchUpload, two completions of
// one upload racing each other both succeed with one ETag, and the sweep forgets old completions.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore, type LmdbMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { SweepLimits } from '../../src/object/completed-upload-sweeper.js';
import type { CompletePart } from '../../src/object/multipart-rules.js';
import { ObjectLayer } from '../../src/object/object-layer.js';
import { DriveSet } from '../../src/store/drive-set.js';
import { inlineObjectMaxBytesDefault } from '../../src/util/limits.js';
import { waitFor } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const none = () => undefined;

let dir: string;
let meta: LmdbMetaStore;
let objects: ObjectLayer;

async function open(limits: Partial<SweepLimits> = {}): Promise<void> {
  meta = await openMetaStore(join(dir, 'meta'));
  const drives = await DriveSet.open(dir, [join(dir, 'drive-1')], undefined, log);
  objects = new ObjectLayer({ meta, drives, blockSizeBytes: 64 * 1024, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log, completedUploadLimits: limits });
  await objects.start();
  await objects.createBucket('b', '');
}

async function close(): Promise<void> {
  await objects.stop();
  await meta.close();
}

async function* body(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

/** Upload `uploadId` at b/key with a 5 MiB part 1 (striped) and a 4-byte part 2 (inline); its part list. */
async function twoParts(key: string, uploadId: string): Promise<CompletePart[]> {
  await objects.createUpload({ bucket: 'b', key, uploadId, userMetadata: {} });
  const p1 = await objects.uploadPart('b', key, uploadId, 1, { body: body(randomBytes(5 * 1024 * 1024)), sizeMaxBytes: 1 << 30 });
  const p2 = await objects.uploadPart('b', key, uploadId, 2, { body: body(Buffer.from('tail')), sizeMaxBytes: 1 << 30 });
  return [{ partNumber: 1, etag: `"${p1.etag}"` }, { partNumber: 2, etag: p2.etag }];
}

beforeEach(async () => {
  await initBitrot();
  dir = await mkdtemp(join(tmpdir(), 'tessera-completed-'));
});
afterEach(async () => {
  await close();
  await rm(dir, { recursive: true, force: true });
});

describe('retried CompleteMultipartUpload', () => {
  beforeEach(async () => {
    await open();
  });

  it('a retry returns the first completion; another part list, key or upload id gets NoSuchUpload', async () => {
    const parts = await twoParts('k', 'u1');
    const first = await objects.completeUpload('b', 'k', 'u1', parts, none);
    expect(first.etag).toMatch(/^[0-9a-f]{32}-2$/);
    expect(await objects.completeUpload('b', 'k', 'u1', parts, none, { ifNoneMatch: '*' })).toEqual(first);
    // The same list written with other quotes is the same list.
    expect(await objects.completeUpload('b', 'k', 'u1', parts.map((p) => ({ ...p, etag: p.etag.replace(/"/g, '') })), none)).toEqual(first);
    await expect(objects.completeUpload('b', 'k', 'u1', parts.slice(0, 1), none)).rejects.toMatchObject({ code: 'NoSuchUpload' });
    await expect(objects.completeUpload('b', 'other', 'u1', parts, none)).rejects.toMatchObject({ code: 'NoSuchUpload' });
    await expect(objects.completeUpload('b', 'k', 'u2', parts, none)).rejects.toMatchObject({ code: 'NoSuchUpload' });
    await expect(objects.requireCompletableUpload('b', 'k', 'u1')).resolves.toBeUndefined();
    await expect(objects.requireCompletableUpload('b', 'k', 'u2')).rejects.toMatchObject({ code: 'NoSuchUpload' });
    await expect(objects.getUpload('b', 'k', 'u1')).rejects.toMatchObject({ code: 'NoSuchUpload' });
    expect((await objects.headObject('b', 'k')).etag).toBe(first.etag);
  });

  it('two completions of one upload at once both succeed with the same ETag; the object is whole', async () => {
    const parts = await twoParts('k', 'u1');
    const [a, b] = await Promise.all([objects.completeUpload('b', 'k', 'u1', parts, none), objects.completeUpload('b', 'k', 'u1', parts, none)]);
    expect(b.etag).toBe(a.etag);
    const record = await objects.headObject('b', 'k');
    expect([record.etag, record.sizeBytes]).toEqual([a.etag, 5 * 1024 * 1024 + 4]);
  });
});

describe('the completed-upload sweep', () => {
  it('forgets completions older than keepMs: a retry then gets NoSuchUpload; the object stays', async () => {
    await open({ keepMs: 200, intervalMs: 50 });
    const parts = await twoParts('k', 'u1');
    const first = await objects.completeUpload('b', 'k', 'u1', parts, none);
    await waitFor(async () => (await meta.getCompletedUpload('b', 'k', 'u1')) === undefined, 10_000, 'the sweep to remove the completion');
    await expect(objects.completeUpload('b', 'k', 'u1', parts, none)).rejects.toMatchObject({ code: 'NoSuchUpload' });
    expect((await objects.headObject('b', 'k')).etag).toBe(first.etag);
  });

  it('keeps at most keepMax completions, the newest', async () => {
    await open({ keepMax: 2, intervalMs: 50 });
    for (const id of ['u1', 'u2', 'u3']) await objects.completeUpload('b', id, id, await twoParts(id, id), none);
    await waitFor(() => meta.completedUploadCount() <= 2, 10_000, 'the sweep to drop the oldest completion');
    expect(await meta.getCompletedUpload('b', 'u1', 'u1')).toBeUndefined();
    expect(await meta.getCompletedUpload('b', 'u3', 'u3')).toBeDefined();
  });
});
