// A metadata store that cannot commit, in one process. With root: real LMDB on a small tmpfs
// filled to ENOSPC refuses commits with MetadataStoreFull (no unhandled rejection, no crash),
// keeps serving reads, and commits again once space is freed; in a cluster a full replica answers
// that error over the replica protocol and the write quorum decides. Always: a fault-injecting
// MetaStore (a real LMDB store whose chosen mutations fail with MetadataStoreFull while "full")
// drives the object layer, gc, reconstructor, scanner and scrubber: failed writes leave nothing
// visible and no orphan once it recovers, and background workers back off instead of spinning.
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClusterMetaStore } from '../../src/replication/cluster-meta-store.js';
import { replicaWireMethod, type ReplicaArgs, type ReplicaInvoker, type ReplicaMethod, type ReplicaReply } from '../../src/replication/replica-methods.js';
import { serveReplica } from '../../src/replication/replica-server.js';
import { bitrotHash, initBitrot } from '../../src/erasure/bitrot.js';
import { openMetaStore, type LmdbMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { ObjectRecord, RepairEntry } from '../../src/meta/types.js';
import { ObjectLayer, type PutObjectInput } from '../../src/object/object-layer.js';
import { Reconstructor, type RepairQueue } from '../../src/repair/reconstructor.js';
import { Scanner, type ScanState } from '../../src/repair/scanner.js';
import { Scrubber } from '../../src/repair/scrubber.js';
import { toS3Error } from '../../src/s3/errors.js';
import { DriveSet } from '../../src/store/drive-set.js';
import { errorFrame, errorFromFrame } from '../../src/transport/framing.js';
import { TesseraError } from '../../src/util/errors.js';
import { inlineObjectMaxBytesDefault } from '../../src/util/limits.js';
import { rejectionCodeOf } from '../helpers/error-code.js';
import { MiB } from '../helpers/files.js';
import { captureLog } from '../helpers/log-capture.js';
import { makeTempDir, removeTempDir } from '../helpers/server.js';
import { cannotMountTmpfs, fillFilesystem, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait.js';
import { layout } from '../unit/meta/helpers.js';

const KiB = 1024;
const silent = pino({ level: 'silent' });

let dataIds = 0;
/** An object record whose one part of `data` is stored inline, as the object layer stores bodies up to 128 KiB. */
function inlineRecord(bucket: string, key: string, data: Buffer): ObjectRecord {
  const dataId = `inline-${++dataIds}`;
  return {
    bucket, key, sizeBytes: data.length, etag: 'e', lastModifiedMs: Date.now(), layout, multipart: false, userMetadata: {},
    parts: [{ partNumber: 1, sizeBytes: data.length, etag: 'e', dataId, drives: [], inline: data, inlineHash: bitrotHash(data) }],
  };
}

const skipReason = cannotMountTmpfs();
if (skipReason !== undefined) console.warn(`test/integration/meta-store-full.test.ts: real LMDB on a full tmpfs skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('real LMDB on a full tmpfs', () => {
  let root: string;
  let disk: string;
  const opened: LmdbMetaStore[] = [];
  const open = async (dir: string, log: Logger = silent): Promise<LmdbMetaStore> => {
    const store = await openMetaStore(dir, { log });
    opened.push(store);
    return store;
  };

  beforeAll(async () => {
    await initBitrot();
    root = makeTempDir('meta-full');
    disk = join(root, 'disk');
    mountTmpfs(disk, 8 * MiB);
  });
  afterAll(async () => {
    for (const store of opened) await store.close().catch(() => undefined);
    if (disk !== undefined) unmountTmpfs(disk);
    if (root !== undefined) removeTempDir(root);
  });

  it('refuses commits with MetadataStoreFull, keeps reads exact, and commits again once space is freed', async () => {
    const { log, messages } = captureLog();
    const store = await open(join(disk, 'meta'), log);
    await store.createBucket({ name: 'b', createdMs: 1, location: '' });
    fillFilesystem(join(disk, 'filler-1'), MiB);
    const stored = new Map<string, Buffer>();
    let first: unknown;
    for (let i = 0; i < 100 && first === undefined; i++) {
      const data = randomBytes(100 * KiB);
      await store.putObject(inlineRecord('b', `k${i}`, data)).then(() => stored.set(`k${i}`, data), (err: unknown) => {
        first = err;
      });
    }
    expect((first as TesseraError | undefined)?.code).toBe('MetadataStoreFull');
    fillFilesystem(join(disk, 'filler-2'), 0);

    const refused: string[] = [];
    for (let i = 0; i < 5; i++) {
      refused.push(`full-${i}`);
      expect(await rejectionCodeOf(store.putObject(inlineRecord('b', `full-${i}`, randomBytes(100 * KiB))))).toBe('MetadataStoreFull');
    }
    const together = await Promise.all(Array.from({ length: 10 }, (_, i) => {
      refused.push(`together-${i}`);
      return rejectionCodeOf(store.putObject(inlineRecord('b', `together-${i}`, randomBytes(100 * KiB))));
    }));
    expect(together).toEqual(Array(10).fill('MetadataStoreFull'));
    expect(store.health()).toMatchObject({ state: 'full', freeBytes: 0 });
    expect(['EIO', 'ENOSPC']).toContain(store.health().error);
    expect(messages(40)).toEqual(['metadata store full: writes fail (MetadataStoreFull) until space is freed on its filesystem; reads go on']);

    for (const [key, data] of stored) expect(Buffer.from((await store.getObject('b', key))!.parts[0]!.inline!).equals(data)).toBe(true);
    expect((await store.listObjects('b', { prefix: '', delimiter: '', startAfter: '', maxKeys: 1000 })).objects).toHaveLength(stored.size);

    rmSync(join(disk, 'filler-1'));
    rmSync(join(disk, 'filler-2'));
    const after = randomBytes(100 * KiB);
    await store.putObject(inlineRecord('b', 'after', after));
    stored.set('after', after);
    await waitFor(() => store.health().state === 'ok', 15_000, 'the store to report ok');
    expect(messages(40)[1]).toBe('metadata store commits again: writes are accepted');
    for (const [key, data] of stored) expect(Buffer.from((await store.getObject('b', key))!.parts[0]!.inline!).equals(data)).toBe(true);
    for (const key of refused) expect(await store.getObject('b', key)).toBeUndefined();
  });

  it('in a cluster, a full replica answers MetadataStoreFull and the write quorum decides', async () => {
    const replicas = new Map<string, LmdbMetaStore>([
      ['n1', await open(join(root, 'n1'))],
      ['n2', await open(join(root, 'n2'))],
      ['n3', await open(join(disk, 'n3'))],
      ['n4', await open(join(disk, 'n4'))],
    ]);
    // Each call goes through the replica server and the wire's error frame, as between two nodes.
    const invoke: ReplicaInvoker = async <M extends ReplicaMethod>(nodeId: string, method: M, args: ReplicaArgs<M>): Promise<ReplicaReply<M>> => {
      const call = { from: 'n1', method: replicaWireMethod(method), header: args, body: (async function* () {})(), signal: new AbortController().signal };
      try {
        return ((await serveReplica(replicas.get(nodeId)!, call)).header ?? undefined) as ReplicaReply<M>;
      } catch (err) {
        const frame = errorFrame(err);
        throw 'e' in frame ? errorFromFrame(frame, nodeId) : err;
      }
    };
    const cluster = (homes: string[]): ClusterMetaStore => new ClusterMetaStore({
      local: replicas.get('n1')!, selfId: 'n1', nodeIds: () => [...replicas.keys()], homeSets: () => [homes],
      layoutVersion: () => 1, writeQuorum: 2, invoke, log: silent,
    });
    fillFilesystem(join(disk, 'filler'), 0);

    const data = randomBytes(100 * KiB);
    const oneFull = cluster(['n1', 'n2', 'n3']);
    await oneFull.putObject(inlineRecord('b', 'one-full', data));
    expect(Buffer.from((await oneFull.getObject('b', 'one-full'))!.parts[0]!.inline!).equals(data)).toBe(true);
    expect(await replicas.get('n3')!.getObject('b', 'one-full')).toBeUndefined();
    expect(replicas.get('n3')!.health().state).toBe('full');

    const twoFull = cluster(['n1', 'n3', 'n4']);
    const err = await twoFull.putObject(inlineRecord('b', 'two-full', randomBytes(100 * KiB))).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('WriteQuorumNotMet');
    expect((err as TesseraError).message).toMatch(/stored on 1 of 3 replicas.*out of disk space/);
    expect(toS3Error(err).status).toBe(503);

    rmSync(join(disk, 'filler'));
    await twoFull.putObject(inlineRecord('b', 'two-full', data));
    expect(await replicas.get('n4')!.getObject('b', 'two-full')).toBeDefined();
  });
});

/** Mutations a FaultyMeta can fail. */
type Mutation = 'putObject' | 'addPending' | 'abandonPending' | 'removeGc' | 'saveWorkerState';

/**
 * A real LMDB store whose `failing` mutations reject with MetadataStoreFull while `full` is set,
 * as a full metadata disk makes them; counts the calls of each.
 */
class FaultyMeta {
  full = false;
  readonly calls = new Map<string, number>();
  readonly store: LmdbMetaStore;

  constructor(readonly real: LmdbMetaStore, private readonly failing: ReadonlySet<Mutation>) {
    this.store = new Proxy(real, {
      get: (target, name, receiver) => {
        const value: unknown = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]): unknown => {
          this.calls.set(String(name), (this.calls.get(String(name)) ?? 0) + 1);
          if (this.full && this.failing.has(name as Mutation)) return Promise.reject(new TesseraError('MetadataStoreFull', 'The metadata store is out of disk space.'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  count(name: string): number {
    return this.calls.get(name) ?? 0;
  }
}

describe('a metadata store that cannot commit, under the object layer and the background workers', () => {
  let dir: string;
  let real: LmdbMetaStore;
  let drives: DriveSet;
  beforeEach(async () => {
    await initBitrot();
    dir = makeTempDir('meta-faulty');
    real = await openMetaStore(join(dir, 'meta'));
    drives = await DriveSet.open(dir, [join(dir, 'drive-1')], undefined, silent);
    await real.createBucket({ name: 'b', createdMs: 1, location: '' });
  });
  afterEach(async () => {
    await real.close();
    removeTempDir(dir);
  });

  const shardFiles = async (): Promise<number> => {
    let count = 0;
    for await (const _ of drives.drives()[0]!.store!.list()) count++;
    return count;
  };
  async function* body(data: Buffer): AsyncGenerator<Buffer> {
    yield data;
  }
  /** A PUT of `sizeBytes` random bytes as bucket b's `key`. */
  const putInput = (key: string, sizeBytes: number): PutObjectInput => ({
    bucket: 'b', key, headers: { userMetadata: {} }, body: body(randomBytes(sizeBytes)), sizeMaxBytes: 1 << 30,
  });
  const layer = (meta: LmdbMetaStore): ObjectLayer => new ObjectLayer({ meta, drives, blockSizeBytes: 64 * KiB, inlineObjectMaxBytes: inlineObjectMaxBytesDefault, log: silent });

  it('a striped PUT whose commit fails leaves no object, and gc deletes its shards once commits work again, backing off meanwhile', async () => {
    const faulty = new FaultyMeta(real, new Set(['putObject', 'abandonPending', 'removeGc']));
    const objects = layer(faulty.store);
    await objects.start();
    faulty.full = true;
    const put = objects.putObject(putInput('striped', 300 * KiB));
    expect(await rejectionCodeOf(put)).toBe('MetadataStoreFull');
    expect(await real.getObject('b', 'striped')).toBeUndefined();
    expect(real.listPending()).toHaveLength(1); // its abandon could not commit either: gc owes it
    expect(await shardFiles()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const tries = faulty.count('abandonPending');
    expect(tries).toBeGreaterThanOrEqual(2); // the write's own try, then gc's
    expect(tries).toBeLessThanOrEqual(5); // backing off (1 s, 2 s, ...), not spinning

    faulty.full = false;
    await waitFor(async () => real.listPending().length === 0 && real.listGc(10).length === 0 && (await shardFiles()) === 0, 20_000, 'gc to delete the shards of the failed write');
    expect(await real.getObject('b', 'striped')).toBeUndefined();
    await objects.stop();
  });

  it('an inline PUT whose commit fails leaves nothing behind', async () => {
    const faulty = new FaultyMeta(real, new Set(['putObject']));
    const objects = layer(faulty.store);
    await objects.start();
    faulty.full = true;
    const put = objects.putObject(putInput('inline', 10 * KiB));
    expect(await rejectionCodeOf(put)).toBe('MetadataStoreFull');
    expect(await real.getObject('b', 'inline')).toBeUndefined();
    expect(real.listPending()).toEqual([]);
    expect(toS3Error(await put.catch((e: unknown) => e))).toMatchObject({ status: 507, code: 'InsufficientStorage' });
    faulty.full = false;
    await objects.putObject(putInput('inline', 10 * KiB));
    expect(await real.getObject('b', 'inline')).toBeDefined();
    await objects.stop();
  });

  it('the reconstructor rebuilds a shard once, keeps it to remove from the queue, and pauses while removals fail', async () => {
    const entries: RepairEntry[] = ['d1', 'd2'].map((dataId) => ({ dataId, shardIndex: 0, driveId: 'x', reason: 'missing', bucket: 'b', key: dataId, recordedMs: 1 }));
    let full = true;
    let removals = 0;
    const queue: RepairQueue = {
      listRepairs: (limit) => entries.slice(0, limit),
      removeRepairs: async (done) => {
        removals++;
        if (full) throw new TesseraError('MetadataStoreFull', 'The metadata store is out of disk space.');
        for (const entry of done) entries.splice(entries.findIndex((e) => e.dataId === entry.dataId), 1);
      },
    };
    const rebuilt: string[] = [];
    const { log, messages } = captureLog();
    const reconstructor = new Reconstructor(queue, async (entry) => {
      rebuilt.push(entry.dataId);
      return { rebuilt: true, bytes: 1 };
    }, log);
    reconstructor.start();
    const until = Date.now() + 2_000;
    while (Date.now() < until) {
      reconstructor.kick();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Both rebuild slots may have taken an entry before the first removal failed; none is rebuilt again while its removal waits.
    expect(rebuilt.length).toBeGreaterThanOrEqual(1);
    expect(new Set(rebuilt).size).toBe(rebuilt.length);
    expect(removals).toBeLessThanOrEqual(3); // 1 s, 2 s backoff: no spinning
    expect(messages(40)).toEqual(['repairs paused: the metadata store cannot commit; retrying with backoff']);

    full = false;
    await waitFor(() => {
      reconstructor.kick();
      return entries.length === 0;
    }, 10_000, 'the queue to drain');
    expect([...rebuilt].sort()).toEqual(['d1', 'd2']);
    expect(messages(30)).toContain('repairs resumed: the metadata store commits again');
    await reconstructor.stop();
  });

  it('scan and scrub cycles go on when their progress cannot be saved, with one warning each', async () => {
    for (let i = 0; i < 5; i++) await real.putObject(inlineRecord('b', `k${i}`, randomBytes(10)));
    const faulty = new FaultyMeta(real, new Set(['saveWorkerState']));
    faulty.full = true;
    const { log, messages } = captureLog();
    const scanner = new Scanner({
      records: (limit, after, scope) => real.scanObjects(limit, after, scope),
      responsible: () => true,
      check: async () => ({ shards: 1, queued: 0, unreachable: 0 }),
      loadState: () => real.workerState<ScanState>('scan'),
      saveState: (state) => faulty.store.saveWorkerState('scan', state),
    }, log, 0);
    await scanner.start(3_600_000); // its first save fails too: start goes on
    expect(await scanner.runCycle()).toMatchObject({ objects: 5, checked: 5 });
    const scrubber = new Scrubber({ stores: () => [], scrub: async () => 'ok', loadState: () => undefined, saveState: (state) => faulty.store.saveWorkerState('scrub', state) }, log, 0);
    await scrubber.start(3_600_000);
    expect(await scrubber.runCycle()).toMatchObject({ shards: 0 });
    expect(messages(40)).toEqual([
      'scan progress not saved: the metadata store cannot commit; the scan goes on',
      'scrub progress not saved: the metadata store cannot commit; the scrub goes on',
    ]);
    await scanner.stop();
    await scrubber.stop();
  });
});
