// The object layer on real LMDB and real files: round trips, bitrot detection, crash recovery
// of unfinished writes, gc that waits for readers, and the multipart completion rules.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { MetaStore } from '../../src/meta/meta-store.js';
import { dataRefOf, shardIdOf } from '../../src/object/layout.js';
import { ObjectLayer } from '../../src/object/object-layer.js';
import { DriveSet } from '../../src/store/drive-set.js';
import { inlineObjectMaxBytesDefault } from '../../src/util/limits.js';
import type { ShardStore } from '../../src/store/shard-store.js';

const blockSizeBytes = 64 * 1024;
const log = pino({ level: 'silent' });

interface Harness {
  dir: string;
  meta: MetaStore;
  drives: DriveSet;
  store: ShardStore;
  objects: ObjectLayer;
}

async function openHarness(dir: string): Promise<Harness> {
  await initBitrot();
  const meta = await openMetaStore(join(dir, 'meta'));
  const drives = await DriveSet.open(dir, [join(dir, 'drive-1')], undefined, log);
  const objects = new ObjectLayer({ meta, drives, blockSizeBytes, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log });
  await objects.start();
  return { dir, meta, drives, store: drives.drives()[0]!.store!, objects };
}

async function closeHarness(h: Harness): Promise<void> {
  await h.objects.stop();
  await h.meta.close();
}

async function* chunks(data: Buffer, size = 10_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(iterable: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of iterable) parts.push(chunk);
  return Buffer.concat(parts);
}

async function shardFiles(h: Harness): Promise<string[]> {
  const names: string[] = [];
  for await (const id of h.store.list()) names.push(id);
  return names.sort();
}

async function settleGc(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
}

function put(h: Harness, key: string, data: Buffer) {
  return h.objects.putObject({ bucket: 'b', key, headers: { userMetadata: {} }, body: chunks(data), sizeMaxBytes: 1 << 30 });
}

let h: Harness;
beforeEach(async () => {
  h = await openHarness(await mkdtemp(join(tmpdir(), 'tessera-objects-')));
  await h.objects.createBucket('b', '');
});
afterEach(async () => {
  await closeHarness(h);
  await rm(h.dir, { recursive: true, force: true });
});

describe('object layer', () => {
  it('round-trips objects of odd sizes and every byte range', async () => {
    for (const size of [0, 1, blockSizeBytes - 1, blockSizeBytes, blockSizeBytes + 1, 3 * blockSizeBytes + 12_345]) {
      const data = randomBytes(size);
      const record = await put(h, `k${size}`, data);
      expect(record.sizeBytes).toBe(size);
      expect(record.etag).toBe(createHash('md5').update(data).digest('hex'));
      const opened = await h.objects.openObject('b', `k${size}`);
      expect((await collect(opened.read(0, size - 1))).equals(data)).toBe(true);
      for (const [first, last] of [[0, 0], [size - 1, size - 1], [blockSizeBytes - 3, blockSizeBytes + 3], [7, size - 8]] as const) {
        if (first < 0 || last >= size || last < first) continue;
        expect((await collect(opened.read(first, last))).equals(data.subarray(first, last + 1))).toBe(true);
      }
      opened.release();
    }
  });

  it('never returns a block whose bitrot hash fails', async () => {
    const data = randomBytes(3 * blockSizeBytes);
    const record = await put(h, 'rot', data);
    const shardPath = join(h.dir, 'drive-1', 'shards', record.parts[0]!.dataId.slice(0, 2), shardIdOf(record.parts[0]!.dataId, 0));
    const file = await open(shardPath, 'r+');
    const offset = 8 + blockSizeBytes + 8 + 100; // inside block 1's data
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, offset);
    await file.write(Buffer.from([byte[0]! ^ 0x01]), 0, 1, offset);
    await file.close();
    const opened = await h.objects.openObject('b', 'rot');
    // Block 0 is intact and readable on its own; any read that touches block 1 fails.
    expect((await collect(opened.read(0, blockSizeBytes - 1))).equals(data.subarray(0, blockSizeBytes))).toBe(true);
    const received: Buffer[] = [];
    // One drive, no parity: the corrupt block cannot be rebuilt, so the read fails there.
    await expect(async () => {
      for await (const chunk of opened.read(0, data.length - 1)) received.push(chunk);
    }).rejects.toMatchObject({ code: 'InsufficientShards' });
    expect(Buffer.concat(received).equals(data.subarray(0, blockSizeBytes))).toBe(true);
    opened.release();
    await settleGc();
    expect(h.meta.listRepairs(10)).toMatchObject([{ dataId: record.parts[0]!.dataId, shardIndex: 0, reason: 'corrupt', bucket: 'b', key: 'rot' }]);
  });

  it('a body that fails mid-stream stores nothing and leaves no shard files', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield randomBytes(blockSizeBytes * 2);
      throw Object.assign(new Error('client went away'), { code: 'IncompleteBody' });
    }
    await expect(h.objects.putObject({ bucket: 'b', key: 'x', headers: { userMetadata: {} }, body: broken(), sizeMaxBytes: 1 << 30 }))
      .rejects.toThrow('client went away');
    await expect(h.objects.headObject('b', 'x')).rejects.toThrow(expect.objectContaining({ code: 'NoSuchKey' }));
    await settleGc();
    expect(await shardFiles(h)).toEqual([]);
    expect(h.meta.listPending()).toEqual([]);
  });

  it('a failing finish() check (bad digest) stores nothing', async () => {
    const failing = { finish: () => { throw Object.assign(new Error('bad digest'), { code: 'BadDigest' }); } };
    await expect(h.objects.putObject({ bucket: 'b', key: 'd', headers: { userMetadata: {} }, body: chunks(randomBytes(1000)), sizeMaxBytes: 1 << 30, ...failing }))
      .rejects.toThrow('bad digest');
    await settleGc();
    expect(await shardFiles(h)).toEqual([]);
  });

  it('start-up removes data of writes that crashed before their commit, and temp files', async () => {
    const orphan = dataRefOf('deadbeefdeadbeefdeadbeef00000000', [h.drives.format.drives[0]!]);
    await h.meta.addPending(orphan);
    const writer = await h.store.createWriter(orphan.shardIds[0]!);
    await writer.write(randomBytes(100));
    await writer.commit();
    await writeFile(join(h.dir, 'drive-1', 'tmp', 'left-by-a-crash.tmp'), randomBytes(10));
    await put(h, 'kept', randomBytes(200_000));
    await closeHarness(h);

    h = await openHarness(h.dir);
    await settleGc();
    const files = await shardFiles(h);
    expect(files).not.toContain(orphan.shardIds[0]);
    expect(files).toHaveLength(1);
    expect(await readdir(join(h.dir, 'drive-1', 'tmp'))).toEqual([]);
    expect(h.meta.listPending()).toEqual([]);
    expect((await h.objects.headObject('b', 'kept')).sizeBytes).toBe(200_000);
  });

  it('an overwrite keeps the old data readable for a GET that started before it', async () => {
    const first = randomBytes(3 * blockSizeBytes);
    await put(h, 'k', first);
    const opened = await h.objects.openObject('b', 'k');
    await put(h, 'k', randomBytes(200_000));
    await settleGc();
    expect((await collect(opened.read(0, first.length - 1))).equals(first)).toBe(true);
    expect(await shardFiles(h)).toHaveLength(2);
    opened.release();
    await put(h, 'trigger', randomBytes(1)); // any commit kicks gc; 1 byte is stored inline
    await settleGc();
    expect(await shardFiles(h)).toHaveLength(1); // only the new 'k'
  });

  it('CompleteMultipartUpload enforces order, ETags and the 5 MiB minimum', async () => {
    const upload = await h.objects.createUpload({ bucket: 'b', key: 'mp', uploadId: 'u1', userMetadata: {} });
    const small = await h.objects.uploadPart('b', 'mp', upload.uploadId, 1, { body: chunks(randomBytes(1000)), sizeMaxBytes: 1 << 30 });
    const big = randomBytes(5 * 1024 * 1024);
    const p2 = await h.objects.uploadPart('b', 'mp', upload.uploadId, 2, { body: chunks(big, 1 << 20), sizeMaxBytes: 1 << 30 });
    const p3 = await h.objects.uploadPart('b', 'mp', upload.uploadId, 3, { body: chunks(Buffer.from('tail')), sizeMaxBytes: 1 << 30 });
    const none = () => undefined;
    await expect(h.objects.completeUpload('b', 'mp', 'u1', [{ partNumber: 2, etag: p2.etag }, { partNumber: 1, etag: small.etag }], none))
      .rejects.toMatchObject({ code: 'InvalidPartOrder' });
    await expect(h.objects.completeUpload('b', 'mp', 'u1', [{ partNumber: 2, etag: '"0000"' }], none))
      .rejects.toMatchObject({ code: 'InvalidPart' });
    await expect(h.objects.completeUpload('b', 'mp', 'u1', [{ partNumber: 1, etag: small.etag }, { partNumber: 3, etag: p3.etag }], none))
      .rejects.toMatchObject({ code: 'EntityTooSmall' });
    const done = await h.objects.completeUpload('b', 'mp', 'u1', [{ partNumber: 2, etag: `"${p2.etag}"` }, { partNumber: 3, etag: p3.etag }], none);
    const expectedEtag = createHash('md5').update(Buffer.concat([Buffer.from(p2.etag, 'hex'), Buffer.from(p3.etag, 'hex')])).digest('hex');
    expect(done.etag).toBe(`${expectedEtag}-2`);
    const record = await h.objects.headObject('b', 'mp');
    expect(record.etag).toBe(done.etag);
    const opened = await h.objects.openObject('b', 'mp');
    expect((await collect(opened.read(0, record.sizeBytes - 1))).equals(Buffer.concat([big, Buffer.from('tail')]))).toBe(true);
    opened.release();
    await settleGc();
    expect(await shardFiles(h)).toHaveLength(1); // part 2; part 3 is inline; unused part 1 (inline) dropped
    expect(record.parts.map((p) => p.inline === undefined)).toEqual([true, false]);
    await expect(h.objects.getUpload('b', 'mp', 'u1')).rejects.toThrow(expect.objectContaining({ code: 'NoSuchUpload' }));
  });
});

describe('local shard store', () => {
  it('refuses shard ids that could escape its directory', async () => {
    for (const id of ['../x', 'a/b', '..', '', '.hidden/..']) {
      await expect(h.store.createWriter(id)).rejects.toMatchObject({ code: 'InvalidShardId' });
    }
    await writeFile(join(h.dir, 'outside'), 'x');
    await expect(h.store.readRange('../outside', 0, 1)).rejects.toMatchObject({ code: 'InvalidShardId' });
  });
});

describe('erasure-coded object layer (4 + 2 over six drives)', () => {
  let e: Harness;
  const driveDirs = (dir: string): string[] => [1, 2, 3, 4, 5, 6].map((i) => join(dir, `d${i}`));

  async function openErasure(dir: string): Promise<Harness> {
    await initBitrot();
    const meta = await openMetaStore(join(dir, 'meta'));
    const drives = await DriveSet.open(dir, driveDirs(dir), 2, log);
    const objects = new ObjectLayer({ meta, drives, blockSizeBytes, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log });
    await objects.start();
    return { dir, meta, drives, store: drives.drives()[0]!.store!, objects };
  }

  function shardPath(part: { dataId: string; drives: string[] }, index: number): string {
    const drive = e.drives.drives().find((d) => d.driveId === part.drives[index])!;
    return join(drive.path!, 'shards', part.dataId.slice(0, 2), shardIdOf(part.dataId, index));
  }

  async function readAll(key: string): Promise<Buffer> {
    const opened = await e.objects.openObject('b', key);
    try {
      return await collect(opened.read(0, opened.record.sizeBytes - 1));
    } finally {
      opened.release();
    }
  }

  beforeEach(async () => {
    e = await openErasure(await mkdtemp(join(tmpdir(), 'tessera-erasure-')));
    await e.objects.createBucket('b', '');
  });
  afterEach(async () => {
    await closeHarness(e);
    await rm(e.dir, { recursive: true, force: true });
  });

  it('spreads k + m shards over distinct drives and reads back every size and range', async () => {
    expect(e.drives.format).toMatchObject({ dataShards: 4, parityShards: 2 });
    for (const size of [131_073, blockSizeBytes * 3 + 5, blockSizeBytes * 4, 1_000_003]) {
      const data = randomBytes(size);
      const record = await put(e, `k${size}`, data);
      expect(new Set(record.parts[0]!.drives).size).toBe(6);
      expect((await readAll(`k${size}`)).equals(data)).toBe(true);
      const opened = await e.objects.openObject('b', `k${size}`);
      for (const [first, last] of [[1, 1], [blockSizeBytes - 7, blockSizeBytes + 7], [size - 3, size - 1], [12_345, size - 999]] as const) {
        expect((await collect(opened.read(first, last))).equals(data.subarray(first, last + 1))).toBe(true);
      }
      opened.release();
    }
  });

  it('reads exactly with any two shards missing or corrupt, queues them for repair, and fails with three', async () => {
    const data = randomBytes(blockSizeBytes * 5 + 77);
    for (const pair of [[0, 1], [4, 5], [2, 5], [3, 4]]) {
      const missing = (await put(e, 'x', data)).parts[0]!;
      for (const index of pair) await rm(shardPath(missing, index));
      expect((await readAll('x')).equals(data)).toBe(true);
      const corrupt = (await put(e, 'x', data)).parts[0]!;
      for (const index of pair) {
        const file = await open(shardPath(corrupt, index), 'r+');
        await file.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, 8 + 1000);
        await file.close();
      }
      expect((await readAll('x')).equals(data)).toBe(true);
    }
    const part = (await put(e, 'x', data)).parts[0]!;
    await settleGc();
    const repairs = e.meta.listRepairs(100);
    expect(repairs.some((r) => r.reason === 'missing')).toBe(true);
    expect(repairs.some((r) => r.reason === 'corrupt')).toBe(true);
    for (const index of [0, 2, 4]) await rm(shardPath(part, index));
    await expect(readAll('x')).rejects.toMatchObject({ code: 'InsufficientShards' });
  });

  it('reads exactly when two shards are bad in every stripe but different ones per stripe (bitrot tolerance is per block, not per read window)', async () => {
    const data = randomBytes(blockSizeBytes * 6 + 5);
    const part = (await put(e, 'spread', data)).parts[0]!;
    const framedBlockBytes = 8 + blockSizeBytes / 4;
    // Stripe j has shards badPairs[j] flipped: across the object every one of the six shards has a bad block.
    const badPairs = [[0, 1], [2, 3], [4, 5], [0, 5], [1, 4], [2, 3], [0, 3]];
    for (const [stripe, pair] of badPairs.entries()) {
      for (const index of pair) {
        const file = await open(shardPath(part, index), 'r+');
        const size = (await file.stat()).size;
        const at = stripe * framedBlockBytes + 8 + 3;
        if (at < size) await file.write(Buffer.from([0x5a]), 0, 1, at);
        await file.close();
      }
    }
    expect((await readAll('spread')).equals(data)).toBe(true);
  });

  it('tries a shard found bad in one stripe only once per read: later stripes go to parity', async () => {
    const data = randomBytes(blockSizeBytes * 5 + 77);
    const part = (await put(e, 'skip', data)).parts[0]!;
    await rm(shardPath(part, 0));
    const store = e.drives.drives().find((d) => d.driveId === part.drives[0])!.store!;
    const reads = vi.spyOn(store, 'readRange');
    expect((await readAll('skip')).equals(data)).toBe(true);
    const missingShard = shardIdOf(part.dataId, 0);
    expect(reads.mock.calls.filter(([shardId]) => shardId === missingShard)).toHaveLength(1); // 6 stripes, one try
    reads.mockRestore();
  });

  it('reads past a shard read that never answers (a stalled node) by hedging to parity', async () => {
    const data = randomBytes(blockSizeBytes * 3 + 11);
    const part = (await put(e, 'stalled', data)).parts[0]!;
    const store = e.drives.drives().find((d) => d.driveId === part.drives[1])!.store!;
    const stalledShard = shardIdOf(part.dataId, 1);
    const original = store.readRange.bind(store);
    const reads = vi.spyOn(store, 'readRange').mockImplementation((shardId, offset, length) =>
      shardId === stalledShard ? new Promise<Buffer>(() => undefined) : original(shardId, offset, length));
    expect((await readAll('stalled')).equals(data)).toBe(true); // would wait for ever without hedging
    expect(reads.mock.calls.filter(([shardId]) => shardId === stalledShard).length).toBeGreaterThan(0);
    reads.mockRestore();
  });

  it('writes succeed with two drives gone (repairs queued) and fail below the write quorum', async () => {
    const [d1, d2, d3] = driveDirs(e.dir);
    await rm(d1!, { recursive: true, force: true });
    await rm(d2!, { recursive: true, force: true });
    const data = randomBytes(blockSizeBytes * 2 + 3);
    const record = await put(e, 'degraded', data);
    expect((await readAll('degraded')).equals(data)).toBe(true);
    await settleGc();
    const repairs = e.meta.listRepairs(100).filter((r) => r.dataId === record.parts[0]!.dataId);
    expect(repairs.map((r) => r.reason)).toEqual(['write-failed', 'write-failed']);
    expect(repairs.every((r) => r.bucket === 'b' && r.key === 'degraded')).toBe(true);
    await rm(d3!, { recursive: true, force: true });
    await expect(put(e, 'too-few', randomBytes(blockSizeBytes * 3))).rejects.toMatchObject({ code: 'WriteQuorumNotMet' });
    await expect(e.objects.headObject('b', 'too-few')).rejects.toThrow(expect.objectContaining({ code: 'NoSuchKey' }));
  });

  it('recognises drives by id after they move, and treats an empty replacement as offline', async () => {
    const data = randomBytes(blockSizeBytes * 3);
    await put(e, 'moved', data);
    await closeHarness(e);
    const dirs = driveDirs(e.dir);
    await rename(dirs[0]!, join(e.dir, 'elsewhere'));
    await mkdir(dirs[0]!); // an empty drive where d1 was
    const meta = await openMetaStore(join(e.dir, 'meta'));
    const shuffled = [join(e.dir, 'elsewhere'), ...dirs.slice(1).reverse()];
    const drives = await DriveSet.open(e.dir, shuffled, undefined, log);
    e = { dir: e.dir, meta, drives, store: drives.drives()[0]!.store!, objects: new ObjectLayer({ meta, drives, blockSizeBytes, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log }) };
    await e.objects.start();
    expect(drives.drives().every((d) => d.store !== undefined)).toBe(true);
    expect((await readAll('moved')).equals(data)).toBe(true);
    await closeHarness(e);
    const meta2 = await openMetaStore(join(e.dir, 'meta'));
    const withEmpty = [dirs[0]!, ...dirs.slice(1)];
    const drives2 = await DriveSet.open(e.dir, withEmpty, undefined, log);
    expect(drives2.drives().filter((d) => d.store === undefined)).toHaveLength(1);
    e = { dir: e.dir, meta: meta2, drives: drives2, store: drives2.drives()[1]!.store!, objects: new ObjectLayer({ meta: meta2, drives: drives2, blockSizeBytes, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log }) };
    await e.objects.start();
    expect((await readAll('moved')).equals(data)).toBe(true);
  });
});
