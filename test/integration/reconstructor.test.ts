// The reconstructor over a real 4 + 2 object layer on six drive directories (real LMDB, real
// shard files): shards that reads found missing or corrupt, and that a write missed, come back
// byte-identical; data replaced meanwhile is dropped from the queue; the queue is durable.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open as lmdbOpen } from 'lmdb';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore, type LmdbMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { DataPart } from '../../src/meta/types.js';
import { shardIdOf } from '../../src/object/layout.js';
import { ObjectLayer } from '../../src/object/object-layer.js';
import { Reconstructor } from '../../src/repair/reconstructor.js';
import { Scanner } from '../../src/repair/scanner.js';
import { Scrubber } from '../../src/repair/scrubber.js';
import { DriveSet } from '../../src/store/drive-set.js';
import { inlineObjectMaxBytesDefault } from '../../src/util/limits.js';
import { waitFor } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const blockSizeBytes = 256 * 1024;

interface Harness {
  dir: string;
  meta: LmdbMetaStore;
  drives: DriveSet;
  objects: ObjectLayer;
  reconstructor: Reconstructor;
}

let h: Harness;

async function openHarness(dir: string): Promise<Harness> {
  await initBitrot();
  const meta = await openMetaStore(join(dir, 'meta'));
  const drives = await DriveSet.open(dir, [1, 2, 3, 4, 5, 6].map((i) => join(dir, `d${i}`)), 2, log);
  let reconstructor: Reconstructor | undefined;
  const objects = new ObjectLayer({ meta, drives, blockSizeBytes, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log, onRepairQueued: () => reconstructor?.kick() });
  await objects.start();
  reconstructor = new Reconstructor(meta, (entry) => objects.repairShard(entry), log);
  return { dir, meta, drives, objects, reconstructor };
}

async function closeHarness(harness: Harness): Promise<void> {
  await harness.reconstructor.stop();
  await harness.objects.stop();
  await harness.meta.close();
}

async function* chunks(data: Buffer, size = 50_000): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function put(key: string, data: Buffer): Promise<DataPart> {
  const record = await h.objects.putObject({ bucket: 'b', key, headers: { userMetadata: {} }, body: chunks(data), sizeMaxBytes: 1 << 30 });
  return record.parts[0]!;
}

async function readAll(key: string): Promise<Buffer> {
  const opened = await h.objects.openObject('b', key);
  try {
    const parts: Buffer[] = [];
    for await (const chunk of opened.read(0, opened.record.sizeBytes - 1)) parts.push(chunk);
    return Buffer.concat(parts);
  } finally {
    opened.release();
  }
}

function shardPath(part: DataPart, index: number): string {
  const drive = h.drives.drives().find((d) => d.driveId === part.drives[index])!;
  return join(drive.path!, 'shards', part.dataId.slice(0, 2), shardIdOf(part.dataId, index));
}


beforeEach(async () => {
  h = await openHarness(await mkdtemp(join(tmpdir(), 'tessera-repair-')));
  await h.objects.createBucket('b', '');
});
afterEach(async () => {
  await closeHarness(h);
  await rm(h.dir, { recursive: true, force: true });
});

describe('Reconstructor', () => {
  it('rebuilds a missing data shard and a corrupt parity shard byte-identical after a read found them', async () => {
    const data = randomBytes(blockSizeBytes * 5 + 333); // 6 stripes, the last one short
    const part = await put('obj', data);
    const originals = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => readFile(shardPath(part, i))));
    await rm(shardPath(part, 1));
    const file = await open(shardPath(part, 4), 'r+');
    await file.write(Buffer.from([0x55]), 0, 1, 8 + 10); // inside stripe 0's block of parity shard 4
    await file.close();

    // Parity 4 is read only when a data shard is bad: delete data shard 1, so stripe 0 needs it.
    expect((await readAll('obj')).equals(data)).toBe(true);
    await waitFor(() => h.meta.listRepairs(10).length === 2, 2_000, '2 queued repairs');
    expect(h.meta.listRepairs(10)).toMatchObject([
      { dataId: part.dataId, shardIndex: 1, reason: 'missing', bucket: 'b', key: 'obj' },
      { dataId: part.dataId, shardIndex: 4, reason: 'corrupt', bucket: 'b', key: 'obj' },
    ]);

    h.reconstructor.start();
    await waitFor(() => h.meta.listRepairs(10).length === 0, 10_000, '0 queued repairs');
    expect(h.reconstructor.counters()).toMatchObject({ rebuilt: 2, failed: 0 });
    for (const index of [1, 4]) expect((await readFile(shardPath(part, index))).equals(originals[index]!)).toBe(true);
    // Full redundancy again: any two other shards can go and the object still reads exactly.
    await rm(shardPath(part, 0));
    await rm(shardPath(part, 5));
    expect((await readAll('obj')).equals(data)).toBe(true);
  });

  it('completes a write that missed a drive to full width', async () => {
    const data = randomBytes(blockSizeBytes * 3 + 1);
    const failing = h.drives.drives()[2]!;
    const createWriter = vi.spyOn(failing.store!, 'createWriter').mockRejectedValue(Object.assign(new Error('disk gone'), { code: 'StorageIOError' }));
    const part = await put('partial', data);
    createWriter.mockRestore();
    const missed = part.drives.indexOf(failing.driveId);
    await waitFor(() => h.meta.listRepairs(10).length === 1, 2_000, '1 queued repairs');
    expect(h.meta.listRepairs(10)).toMatchObject([{ dataId: part.dataId, shardIndex: missed, reason: 'write-failed', bucket: 'b', key: 'partial' }]);
    await expect(readFile(shardPath(part, missed))).rejects.toMatchObject({ code: 'ENOENT' });

    h.reconstructor.start();
    await waitFor(() => h.meta.listRepairs(10).length === 0, 10_000, '0 queued repairs');
    const others = [0, 1, 2, 3, 4, 5].filter((i) => i !== missed).slice(0, 2);
    for (const index of others) await rm(shardPath(part, index));
    expect((await readAll('partial')).equals(data)).toBe(true); // needs the rebuilt shard
  });

  it('drops the repair of data an overwrite replaced, and keeps the queue across a restart', async () => {
    const first = await put('k', randomBytes(blockSizeBytes * 2));
    await rm(shardPath(first, 0));
    await readAll('k');
    await waitFor(() => h.meta.listRepairs(10).length === 1, 2_000, '1 queued repairs');

    await closeHarness(h); // the queue is in LMDB: it survives
    h = await openHarness(h.dir);
    expect(h.meta.listRepairs(10)).toMatchObject([{ dataId: first.dataId, shardIndex: 0 }]);
    await put('k', randomBytes(100_000)); // replaces the damaged data
    h.reconstructor.start();
    await waitFor(() => h.meta.listRepairs(10).length === 0, 10_000, '0 queued repairs');
    expect(h.reconstructor.counters()).toMatchObject({ rebuilt: 0, dropped: 1 });
  });

  it('scrub finds flipped bytes nobody read, and the reconstructor rewrites those blocks', async () => {
    const data = randomBytes(blockSizeBytes * 4 + 5);
    const part = await put('rot', data);
    await put('fine', randomBytes(blockSizeBytes * 2));
    const originals = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => readFile(shardPath(part, i))));
    for (const [index, offset] of [[0, 8 + 77], [5, 2 * (8 + blockSizeBytes / 4) + 8 + 3]] as const) {
      const file = await open(shardPath(part, index), 'r+');
      await file.write(Buffer.from([originals[index]![offset]! ^ 0xff]), 0, 1, offset);
      await file.close();
    }
    const scrubber = new Scrubber({
      stores: () => h.drives.drives().map((d) => ({ driveId: d.driveId, store: d.store! })),
      scrub: (store, shardId) => h.objects.scrubShard(store, shardId),
      loadState: () => h.meta.workerState('scrub'),
      saveState: (state) => h.meta.saveWorkerState('scrub', state),
    }, log, 0);
    const cycle = await scrubber.runCycle();
    expect(cycle).toMatchObject({ shards: 12, ok: 10, repairQueued: 2, unowned: 0, failed: 0 });
    await waitFor(() => h.meta.listRepairs(10).length === 2, 2_000, '2 queued repairs');
    expect(h.meta.listRepairs(10).map((r) => [r.shardIndex, r.reason, r.key])).toEqual([[0, 'corrupt', 'rot'], [5, 'corrupt', 'rot']]);

    h.reconstructor.start();
    await waitFor(() => h.meta.listRepairs(10).length === 0, 10_000, '0 queued repairs');
    for (const index of [0, 5]) expect((await readFile(shardPath(part, index))).equals(originals[index]!)).toBe(true);
    expect(await scrubber.runCycle()).toMatchObject({ shards: 12, ok: 12, repairQueued: 0 });
    await scrubber.stop();
  });

  it('keeps the dataId -> object index with overwrites and deletes, and rebuilds it for an older store', async () => {
    const first = await put('k', randomBytes(blockSizeBytes));
    expect(h.meta.objectOfData(first.dataId)).toEqual({ bucket: 'b', key: 'k' });
    const second = await put('k', randomBytes(blockSizeBytes));
    expect(h.meta.objectOfData(first.dataId)).toBeUndefined();
    expect(h.meta.objectOfData(second.dataId)).toEqual({ bucket: 'b', key: 'k' });
    await h.objects.deleteObject('b', 'k');
    expect(h.meta.objectOfData(second.dataId)).toBeUndefined();

    // A store from before the index: its records are indexed when it opens.
    const third = await put('k3', randomBytes(blockSizeBytes));
    await closeHarness(h);
    const root = lmdbOpen({ path: join(h.dir, 'meta'), maxDbs: 16 });
    await root.openDB({ name: 'data-objects', keyEncoding: 'binary' }).clearAsync();
    await root.close();
    h = await openHarness(h.dir);
    expect(h.meta.objectOfData(third.dataId)).toEqual({ bucket: 'b', key: 'k3' });
  });
});

describe('Scanner', () => {
  const scannerOf = (responsible: (key: string) => boolean = () => true): Scanner => new Scanner({
    records: (limit, after, scope) => h.meta.scanObjects(limit, after, scope),
    responsible: (record) => responsible(record.key),
    check: (record) => h.objects.checkShards(record),
    loadState: () => h.meta.workerState('scan'),
    saveState: (state) => h.meta.saveWorkerState('scan', state),
  }, log, 0);

  it('queues every shard a drive lost and one cut short; the reconstructor brings them back byte-identical', async () => {
    const parts: DataPart[] = [];
    for (let i = 0; i < 5; i++) parts.push(await put(`obj-${i}`, randomBytes(blockSizeBytes * (i + 1) + i)));
    await put('small', randomBytes(100)); // inline: no shard files to check
    const originals = await Promise.all(parts.map((part) => Promise.all([0, 1, 2, 3, 4, 5].map((i) => readFile(shardPath(part, i))))));
    // The drive holding shard 2 of obj-0 loses every file; a shard of obj-3 on another drive loses its tail.
    const lostDrive = parts[0]!.drives[2]!;
    const lost = parts.flatMap((part) => [0, 1, 2, 3, 4, 5].filter((i) => part.drives[i] === lostDrive).map((i) => shardPath(part, i)));
    expect(lost).toHaveLength(5);
    for (const file of lost) await rm(file);
    const cutIndex = [5, 4].find((i) => parts[3]!.drives[i] !== lostDrive)!; // a shard that is still there
    const cut = await open(shardPath(parts[3]!, cutIndex), 'r+');
    await cut.truncate(100);
    await cut.close();

    const scanner = scannerOf();
    const cycle = await scanner.runCycle();
    expect(cycle).toMatchObject({ objects: 6, checked: 6, shards: 30, queued: 6, unreachable: 0, failed: 0 });
    await waitFor(() => h.meta.repairCount() === 6, 2_000, '6 queued repairs');
    expect(h.meta.listRepairs(10).filter((r) => r.reason === 'corrupt').map((r) => [r.key, r.shardIndex])).toEqual([['obj-3', cutIndex]]);

    h.reconstructor.start();
    await waitFor(() => h.meta.repairCount() === 0, 20_000, '0 queued repairs');
    for (const [p, part] of parts.entries()) {
      for (const i of [0, 1, 2, 3, 4, 5]) expect((await readFile(shardPath(part, i))).equals(originals[p]![i]!), `obj-${p} shard ${i}`).toBe(true);
    }
    expect(await scanner.runCycle()).toMatchObject({ checked: 6, shards: 30, queued: 0 });
    await scanner.stop();
  });

  it('heal(scope) checks only the bucket prefix asked for, and skips records another node scans', async () => {
    for (const key of ['logs/1', 'logs/2', 'media/1']) await put(key, randomBytes(blockSizeBytes));
    const scanner = scannerOf((key) => key !== 'logs/2');
    scanner.heal({ bucket: 'b', prefix: 'logs/' });
    await waitFor(() => scanner.lastCycle() !== undefined, 5_000, 'the heal cycle');
    expect(scanner.lastCycle()).toMatchObject({ scope: { bucket: 'b', prefix: 'logs/' }, objects: 2, checked: 1, shards: 6, queued: 0 });
    expect(scanner.progress()).toBeUndefined();
    await scanner.stop();
  });
});

describe('GarbageCollector', () => {
  it('keeps an entry whose shards a drive could not delete (the old copy of a moved shard, a node that was down)', async () => {
    const part = await put('gone', randomBytes(blockSizeBytes * 2));
    const failing = h.drives.drives().find((d) => d.driveId === part.drives[3])!;
    const remove = vi.spyOn(failing.store!, 'delete').mockRejectedValue(Object.assign(new Error('drive unplugged'), { code: 'StorageIOError' }));
    await h.objects.deleteObject('b', 'gone');
    await waitFor(() => remove.mock.calls.length > 0, 5_000, 'the gc to try the failing drive');
    await waitFor(async () => (await Promise.all([0, 1, 2, 4, 5].map((i) => readFile(shardPath(part, i)).then(() => 1, () => 0)))).every((n) => n === 0), 5_000, 'the other five shards deleted');
    expect(h.meta.listGc(10).map((ref) => ref.dataId)).toEqual([part.dataId]);
    expect((await readFile(shardPath(part, 3))).length).toBeGreaterThan(0);
    remove.mockRestore();
  });
});

