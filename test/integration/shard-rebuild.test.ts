// A shard rebuild reads its k sources on this node first: on a cluster node the one shard it holds
// itself costs no transfer, even when it is a parity shard (one block decode per stripe instead of a
// remote data shard's whole transfer). Real shard files on six drive directories and real LMDB;
// which drives count as "this node's" is the StripeSource's isLocal, as ClusterShardStores makes it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCodec } from '../../src/erasure/create-codec.js';
import { initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore, type LmdbMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { ObjectRecord } from '../../src/meta/types.js';
import { shardIdOf } from '../../src/object/layout.js';
import { ObjectLayer } from '../../src/object/object-layer.js';
import { rebuildShard } from '../../src/object/shard-rebuild.js';
import type { StripeSource } from '../../src/object/stripe-reader.js';
import { DriveSet } from '../../src/store/drive-set.js';

const log = pino({ level: 'silent' });
const blockSizeBytes = 256 * 1024;
let dir: string;
let meta: LmdbMetaStore;
let drives: DriveSet;
let objects: ObjectLayer;

beforeEach(async () => {
  await initBitrot();
  dir = await mkdtemp(join(tmpdir(), 'tessera-rebuild-'));
  meta = await openMetaStore(join(dir, 'meta'));
  drives = await DriveSet.open(dir, [1, 2, 3, 4, 5, 6].map((i) => join(dir, `d${i}`)), 2, log);
  objects = new ObjectLayer({ meta, drives, blockSizeBytes, inlineObjectMaxBytes: 0, log });
  await objects.start();
  await objects.createBucket('b', '');
});
afterEach(async () => {
  vi.restoreAllMocks();
  await objects.stop();
  await meta.close();
  await rm(dir, { recursive: true, force: true });
});

async function* body(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

function shardPath(record: ObjectRecord, index: number): string {
  const part = record.parts[0]!;
  const drive = drives.drives().find((d) => d.driveId === part.drives[index])!;
  return join(drive.path!, 'shards', part.dataId.slice(0, 2), shardIdOf(part.dataId, index));
}

/** Rebuilds shard `lost` of `record` (its file deleted first) with `local` as this node's shards; returns the shard indices read. */
async function rebuildWith(record: ObjectRecord, lost: number, local: number[]): Promise<number[]> {
  const part = record.parts[0]!;
  const read = new Set<number>();
  for (const [index, driveId] of part.drives.entries()) {
    const store = drives.store(driveId)!;
    const readRange = store.readRange.bind(store);
    vi.spyOn(store, 'readRange').mockImplementation((shardId, offset, length) => {
      if (shardId === shardIdOf(part.dataId, index)) read.add(index);
      return readRange(shardId, offset, length);
    });
  }
  await rm(shardPath(record, lost));
  const source: StripeSource = {
    store: (driveId) => drives.store(driveId),
    codec: (layout) => createCodec(layout.dataShards, layout.parityShards),
    onBadShard: () => undefined,
    isLocal: (driveId) => local.some((i) => part.drives[i] === driveId),
  };
  await rebuildShard(source, part, record.layout, lost);
  vi.restoreAllMocks();
  return [...read].sort();
}

describe('rebuildShard', () => {
  it.each([
    { lost: 1, local: [5], reads: [0, 2, 3, 5], what: 'a data shard, this node holding parity 5: parity 5 instead of the remote parity 4' },
    { lost: 5, local: [4], reads: [0, 1, 2, 4], what: 'a parity shard, this node holding parity 4: parity 4 and three data shards, not data 3' },
    { lost: 5, local: [], reads: [0, 1, 2, 3], what: 'a parity shard on a node holding none: the four data shards' },
    { lost: 0, local: [1, 2, 3, 4, 5], reads: [1, 2, 3, 4], what: 'a data shard with every other shard local (a single node): data shards first' },
  ])('rebuilds $what, byte-identical', async ({ lost, local, reads }) => {
    const data = randomBytes(blockSizeBytes * 4 * 9 + 1234); // 10 stripes, 3 read windows, the last stripe short
    const record = await objects.putObject({ bucket: 'b', key: `k${lost}`, headers: { userMetadata: {} }, body: body(data), sizeMaxBytes: 1 << 30 });
    const original = await readFile(shardPath(record, lost));
    expect(await rebuildWith(record, lost, local)).toEqual(reads);
    expect((await readFile(shardPath(record, lost))).equals(original)).toBe(true);
  });
});
