// MetaStore on one LMDB environment with named sub-databases and binary keys (see keys.ts).
// Every mutation runs as one abortable child transaction whose checks and writes see the same
// snapshot; its promise resolves only after the commit is synced to disk (overlappingSync off).
// A commit that fails (a full or failing disk) rejects with MetadataStoreFull/Failed (meta-health.ts).
import { mkdirSync } from 'node:fs';
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import type { Logger } from 'pino';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { keyLengthMaxBytes, metaStoreProbeBytes, partNumberMax } from '../util/limits.js';
import {
  assertObjectKey, bucketKey, bucketScope, compareUtf8, dataKey, escapeBytes, objectKey, partKey,
  prefixEnd, uploadIdKey, uploadKey, uploadKeyStart, utf8,
} from './keys.js';
import { completionOf, CompletedUploads } from './completed-uploads.js';
import { listRollup, positionAfter, splitRollupPage } from './listing.js';
import type { MarkerPosition, RollupSource, ScanEntry } from './listing.js';
import { assertObjectRecord, assertPageSize, checkConditions, dataRefOf } from './write-rules.js';
import { compareVersions, type MetaReplica } from './meta-store.js';
import { MetaWriteGuard, type MetaStoreHealth } from './meta-health.js';
import type {
  BucketRecord, CompletedUpload, DataOwner, DataPart, DataRef, ListObjectsPage, ListObjectsQuery, ListPartsPage,
  ListUploadsPage, ListUploadsQuery, ObjectRecord, ObjectVersion, PartRecord, RepairEntry, ScanScope, Tombstone, UploadRecord, WriteConditions,
} from './types.js';

/** Key in `repair`: dataId bytes, 0x00, shard index as 2 big-endian bytes. */
function repairKey(dataId: string, shardIndex: number): Buffer {
  const index = Buffer.alloc(2);
  index.writeUInt16BE(shardIndex);
  return Buffer.concat([dataKey(dataId), Buffer.of(0), index]);
}

/** Where an upload's record lives in `uploads` (value of the `upload-ids` index). */
interface UploadLocation {
  bucket: string;
  key: string;
  initiatedMs: number;
}

/**
 * LMDB page size in bytes. 8 KiB pages raise LMDB's key limit from 1,978 to 4,026 bytes, which
 * an upload key needs in the worst case (bucket 63 + 1 + escaped key 2 * 1024 + 2 + 8 + uploadId).
 */
const pageSizeBytes = 8192;
/** Named sub-databases in the environment (LMDB needs the count up front). */
const subDatabasesMax = 16;
/** Worker-state entry the health probe writes and removes while the store is full or failing. */
const healthProbeName = 'meta-health-probe';

/**
 * Opens (creating `path` and the environment if needed) the metadata store at directory `path`.
 *
 * Durability: overlappingSync is off, so LMDB's commit writes the data pages, fsyncs, then
 * writes and syncs the meta page before the commit is acknowledged; a mutation's promise
 * therefore resolves only once it is durable, and this process's readers see a commit only then.
 * (lmdb-js's default on Linux, overlappingSync on, resolves writes at commit and syncs afterwards,
 * so a crash in between loses writes already acknowledged and read.) noSync/noMetaSync stay off.
 * Verified with strace: fdatasync(data.mdb), then the meta page via an O_DSYNC fd, then resolve.
 * Concurrent mutations share a commit (group commit: those queued before the writer starts, and
 * those queued while it runs); each is still atomic.
 *
 * eventTurnBatching is off: with it on, lmdb-js opens each event turn's batch with a write of its
 * own whose promise nobody holds, so a failed commit (a full disk) became an unhandled rejection
 * that ended the process, or, with the write thread waiting for JS transaction callbacks, hung it
 * at exit (libuv joins its threads) with its ports open. Measured: no slower, still group commit.
 * `log` gets the warnings when the store becomes full or failing and when it recovers.
 */
export async function openMetaStore(path: string, options: { log?: Logger } = {}): Promise<LmdbMetaStore> {
  mkdirSync(path, { recursive: true });
  const root = open({
    path,
    pageSize: pageSizeBytes,
    maxDbs: subDatabasesMax,
    overlappingSync: false,
    noSync: false,
    noMetaSync: false,
    eventTurnBatching: false,
  });
  const store = new LmdbMetaStore(root, path, options.log);
  await store.backfillDataIndex();
  return store;
}

/** The MetaStore contract on LMDB; construct through openMetaStore. */
export class LmdbMetaStore implements MetaReplica {
  private readonly buckets: Database<BucketRecord, Buffer>;
  private readonly objects: Database<ObjectRecord, Buffer>;
  private readonly uploads: Database<UploadRecord, Buffer>;
  private readonly uploadIds: Database<UploadLocation, Buffer>;
  private readonly parts: Database<PartRecord, Buffer>;
  private readonly pending: Database<DataRef, Buffer>;
  private readonly gc: Database<DataRef, Buffer>;
  private readonly repair: Database<RepairEntry, Buffer>;
  /** Cluster replicas only: deleted keys (objectKey), so late older versions stay deleted. */
  private readonly tombstones: Database<Tombstone, Buffer>;
  /** dataId (dataKey) -> the object whose current record references it; kept in the record transactions. */
  private readonly dataObjects: Database<DataOwner, Buffer>;
  /** Background workers' durable progress (scan, scrub), by worker name (UTF-8). */
  private readonly workers: Database<unknown, Buffer>;
  private readonly guard: MetaWriteGuard;
  /** Completed multipart uploads (by upload id, and by time for the sweep), for retried completions. */
  private readonly completed: CompletedUploads;

  constructor(private readonly root: RootDatabase, path: string, log?: Logger) {
    const sub = <V>(name: string): Database<V, Buffer> => root.openDB<V, Buffer>({ name, keyEncoding: 'binary' });
    this.buckets = sub('buckets');
    this.objects = sub('objects');
    this.uploads = sub('uploads');
    this.uploadIds = sub('upload-ids');
    this.parts = sub('parts');
    this.pending = sub('pending');
    this.gc = sub('gc');
    this.repair = sub('repair');
    this.tombstones = sub('tombstones');
    this.dataObjects = sub('data-objects');
    this.workers = sub('workers');
    this.completed = new CompletedUploads(sub('completed-uploads'), sub('completed-upload-times'));
    this.guard = new MetaWriteGuard({ path, ...(log ? { log } : {}), probe: () => this.probeCommit() });
  }

  /** Whether commits succeed now ('ok'), or fail for want of space ('full') or otherwise ('failing'). */
  health(): MetaStoreHealth {
    return this.guard.health();
  }

  /** The health probe: commits a metaStoreProbeBytes value, then removes it (two commits). */
  private async probeCommit(): Promise<void> {
    await this.saveWorkerState(healthProbeName, { atMs: Date.now(), fill: Buffer.alloc(metaStoreProbeBytes) });
    await this.saveWorkerState(healthProbeName, undefined);
  }

  /**
   * Fills the dataId -> object index from the object records when it is empty and they are not
   * (a store written before the index existed). One transaction; runs at open.
   */
  async backfillDataIndex(): Promise<number> {
    if (this.dataObjects.getCount() > 0 || this.objects.getCount() === 0) return 0;
    let filled = 0;
    await this.write(() => { // one transaction over every record: may take long, so no stall bound
      for (const { value } of this.objects.getRange()) {
        for (const part of value.parts) {
          this.dataObjects.putSync(dataKey(part.dataId), { bucket: value.bucket, key: value.key });
          filled++;
        }
      }
    }, { unbounded: true });
    return filled;
  }

  /** The object whose current record references data item `dataId`, or undefined (replaced, deleted, an upload's part). */
  objectOfData(dataId: string): DataOwner | undefined {
    return this.dataObjects.get(dataKey(dataId));
  }

  async close(): Promise<void> {
    this.guard.close();
    await this.root.close();
  }

  // ---- buckets ----

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    return this.buckets.get(bucketKey(name));
  }

  async listBuckets(): Promise<BucketRecord[]> {
    return [...this.buckets.getRange().map(({ value }) => value)];
  }

  createBucket(record: BucketRecord): Promise<void> {
    return this.write(() => {
      if (this.buckets.doesExist(bucketKey(record.name))) {
        throw new TesseraError('BucketAlreadyOwnedByYou', 'bucket already exists', { bucket: record.name });
      }
      this.buckets.putSync(bucketKey(record.name), record);
    });
  }

  deleteBucket(name: string): Promise<void> {
    return this.write(() => {
      this.requireBucket(name);
      const scope = bucketScope(name);
      if ([...this.objects.getKeys({ start: scope, end: prefixEnd(scope), limit: 1 })].length > 0) {
        throw new TesseraError('BucketNotEmpty', 'bucket is not empty', { bucket: name });
      }
      const uploads = [...this.uploads.getRange({ start: scope, end: prefixEnd(scope) }).map(({ value }) => value)];
      for (const upload of uploads) this.removeUpload(upload, new Set());
      this.buckets.removeSync(bucketKey(name));
    });
  }

  // ---- objects ----

  async getObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.objects.get(objectKey(bucket, key));
  }

  putObject(record: ObjectRecord, conditions?: WriteConditions): Promise<ObjectRecord | undefined> {
    assertObjectRecord(record);
    return this.write(() => {
      this.requireBucket(record.bucket);
      return this.commitObject(record, conditions);
    });
  }

  /** Also throws NoSuchBucket when the bucket does not exist (as S3 DeleteObject does). */
  deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    return this.write(() => {
      this.requireBucket(bucket);
      const current = this.objects.get(objectKey(bucket, key));
      if (current === undefined) return undefined;
      this.objects.removeSync(objectKey(bucket, key));
      this.collectParts(current.parts, new Set());
      return current;
    });
  }

  /**
   * One page of ListObjects (v1 marker / v2 start-after semantics, API reference "ListObjectsV2").
   * maxKeys 0 returns an empty, non-truncated page, as AWS does. Entries carry no inline bytes
   * (listEntry). Throws NoSuchBucket.
   */
  async listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    this.requireBucket(bucket);
    assertPageSize(query.maxKeys);
    const empty: ListObjectsPage = { objects: [], commonPrefixes: [], isTruncated: false };
    if (query.maxKeys === 0 || Buffer.byteLength(query.prefix) > keyLengthMaxBytes) return empty;
    const scope = bucketScope(bucket);
    const after = positionAfter(scope, utf8(query.startAfter), (raw) => raw);
    const prefixStart = objectKey(bucket, query.prefix);
    const start = query.startAfter === '' || Buffer.compare(prefixStart, after.start) > 0 ? prefixStart : after.start;
    const source: RollupSource<ObjectRecord> = {
      scan: (from, end) => this.objects.getRange({ start: from, end }).map(({ value }) => ({ key: value.key, value })),
      prefixEnd: (prefix) => prefixEnd(objectKey(bucket, prefix)),
    };
    const skip = after.overLong ? (e: ScanEntry<ObjectRecord>) => compareUtf8(e.key, query.startAfter) <= 0 : undefined;
    const page = listRollup(source, { ...query, max: query.maxKeys, start, ...(skip ? { skip } : {}) });
    const { entries, commonPrefixes, last } = splitRollupPage(page);
    const result: ListObjectsPage = { objects: entries.map(listEntry), commonPrefixes, isTruncated: page.isTruncated };
    if (page.isTruncated && last !== undefined) {
      result.nextStartAfter = last.kind === 'entry' ? last.entry.key : last.prefix;
    }
    return result;
  }

  // ---- multipart uploads ----

  createUpload(record: UploadRecord): Promise<void> {
    assertObjectKey(record.key);
    assert(record.uploadId.length > 0 && !record.uploadId.includes('\0'), 'upload ids are non-empty without NUL');
    return this.write(() => {
      this.requireBucket(record.bucket);
      assert(!this.uploadIds.doesExist(uploadIdKey(record.uploadId)), 'upload ids are unique');
      this.uploads.putSync(uploadKey(record.bucket, record.key, record.initiatedMs, record.uploadId), record);
      const location: UploadLocation = { bucket: record.bucket, key: record.key, initiatedMs: record.initiatedMs };
      this.uploadIds.putSync(uploadIdKey(record.uploadId), location);
    });
  }

  async getUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | undefined> {
    return this.uploadOf(bucket, key, uploadId);
  }

  private uploadOf(bucket: string, key: string, uploadId: string): UploadRecord | undefined {
    const location = this.uploadIds.get(uploadIdKey(uploadId));
    if (location === undefined || location.bucket !== bucket || location.key !== key) return undefined;
    return this.uploads.get(uploadKey(bucket, key, location.initiatedMs, uploadId));
  }

  putPart(bucket: string, key: string, uploadId: string, part: PartRecord): Promise<void> {
    assert(Number.isInteger(part.partNumber) && part.partNumber >= 1 && part.partNumber <= partNumberMax, 'part number in 1..partNumberMax');
    return this.write(() => {
      this.requireUpload(bucket, key, uploadId); // throws NoSuchUpload
      const replaced = this.parts.get(partKey(uploadId, part.partNumber));
      this.parts.putSync(partKey(uploadId, part.partNumber), part);
      this.pending.removeSync(dataKey(part.dataId));
      if (replaced !== undefined) this.collectParts([replaced], new Set([part.dataId]));
    });
  }

  /** Parts after partNumberMarker, at most maxParts (0..1000). Throws NoSuchUpload. */
  async listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsPage> {
    this.requireUpload(bucket, key, uploadId);
    assertPageSize(maxParts);
    if (maxParts === 0) return { parts: [], isTruncated: false };
    const first = Math.min(Math.max(0, Math.floor(partNumberMarker)) + 1, partNumberMax + 1);
    const found = [...this.partRange(uploadId, first, maxParts + 1)];
    const parts = found.slice(0, maxParts);
    const last = parts[parts.length - 1];
    const isTruncated = found.length > maxParts;
    return isTruncated && last !== undefined ? { parts, isTruncated, nextPartNumberMarker: last.partNumber } : { parts, isTruncated };
  }

  async getParts(bucket: string, key: string, uploadId: string): Promise<PartRecord[]> {
    this.requireUpload(bucket, key, uploadId);
    return [...this.partRange(uploadId, 0)];
  }

  /**
   * One page of ListMultipartUploads (API reference "ListMultipartUploads"): uploads with key >
   * keyMarker, plus — when uploadIdMarker names an upload of keyMarker — those of keyMarker after
   * it in (initiatedMs, uploadId) order. If that upload is gone, keyMarker's uploads with an id
   * greater than uploadIdMarker follow (the API page's wording). uploadIdMarker without keyMarker
   * is ignored. maxUploads 0 returns an empty, non-truncated page. Throws NoSuchBucket.
   */
  async listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage> {
    this.requireBucket(bucket);
    assertPageSize(query.maxUploads);
    if (query.maxUploads === 0 || Buffer.byteLength(query.prefix) > keyLengthMaxBytes) {
      return { uploads: [], commonPrefixes: [], isTruncated: false };
    }
    const marker = this.uploadMarkerPosition(bucket, query.keyMarker, query.uploadIdMarker);
    const prefixStart = Buffer.concat([bucketScope(bucket), escapeBytes(utf8(query.prefix), false)]);
    const start = marker === undefined || Buffer.compare(prefixStart, marker.start) > 0 ? prefixStart : marker.start;
    const source: RollupSource<UploadRecord> = {
      scan: (from, end) => this.uploads.getRange({ start: from, end }).map(({ value }) => ({ key: value.key, value })),
      prefixEnd: (prefix) => prefixEnd(Buffer.concat([bucketScope(bucket), escapeBytes(utf8(prefix), false)])),
    };
    const skip = marker?.skip;
    const page = listRollup(source, {
      prefix: query.prefix, delimiter: query.delimiter, startAfter: query.keyMarker, max: query.maxUploads, start,
      ...(skip ? { skip } : {}),
    });
    const { entries, commonPrefixes, last } = splitRollupPage(page);
    const result: ListUploadsPage = { uploads: entries, commonPrefixes, isTruncated: page.isTruncated };
    if (page.isTruncated && last !== undefined) {
      result.nextKeyMarker = last.kind === 'entry' ? last.entry.key : last.prefix;
      if (last.kind === 'entry') result.nextUploadIdMarker = last.entry.value.uploadId;
    }
    return result;
  }

  completeUpload(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array, conditions?: WriteConditions): Promise<ObjectRecord | undefined> {
    assertObjectRecord(record);
    return this.write(() => {
      const upload = this.requireUpload(record.bucket, record.key, uploadId);
      // commitObject checks the conditions after the upload is removed; a throw rolls that back.
      const used = new Set(record.parts.map((part) => part.dataId));
      this.removeUpload(upload, used);
      const replaced = this.commitObject(record, conditions);
      this.recordCompletion(uploadId, record, partsDigest);
      return replaced;
    });
  }

  async getCompletedUpload(bucket: string, key: string, uploadId: string): Promise<CompletedUpload | undefined> {
    return this.completed.get(bucket, key, uploadId);
  }

  /** Completed uploads kept on this node. */
  completedUploadCount(): number {
    return this.completed.count();
  }

  /** Commits nothing when nothing is due (an idle sweep costs one read). */
  expireCompletedUploads(olderThanMs: number, keepMax: number, batchMax: number): Promise<number> {
    if (!this.completed.hasExpired(olderThanMs, keepMax)) return Promise.resolve(0);
    return this.write(() => this.completed.expire(olderThanMs, keepMax, batchMax));
  }

  abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    return this.write(() => {
      this.removeUpload(this.requireUpload(bucket, key, uploadId), new Set());
    });
  }

  // ---- cluster replica (last writer wins) ----

  async getObjectVersion(bucket: string, key: string): Promise<ObjectVersion> {
    const record = this.objects.get(objectKey(bucket, key));
    if (record !== undefined) return { record };
    const tombstone = this.tombstones.get(objectKey(bucket, key));
    return tombstone !== undefined ? { tombstone } : {};
  }

  applyObject(record: ObjectRecord): Promise<ObjectRecord | undefined> {
    assertObjectRecord(record);
    return this.write(() => (this.isNewest(record) ? this.storeVersion(record) : undefined));
  }

  applyDelete(tombstone: Tombstone): Promise<ObjectRecord | undefined> {
    return this.write(() => {
      if (!this.isNewest(tombstone)) return undefined;
      const key = objectKey(tombstone.bucket, tombstone.key);
      const current = this.objects.get(key);
      if (current !== undefined) {
        this.objects.removeSync(key);
        this.collectParts(current.parts, new Set());
      }
      this.tombstones.putSync(key, tombstone);
      return current;
    });
  }

  /**
   * Forgets this replica's copy of a key it is no longer a home node of (a layout change moved the
   * record elsewhere): removes the live record when it is not newer than `upTo`, without
   * collecting its data (the record lives on at its new home nodes) and without a tombstone.
   * Returns true when a record was removed.
   */
  dropObject(bucket: string, key: string, upTo: Pick<ObjectRecord, 'lastModifiedMs' | 'writer' | 'layoutVersion'>): Promise<boolean> {
    return this.write(() => {
      const objectId = objectKey(bucket, key);
      const current = this.objects.get(objectId);
      if (current === undefined || compareVersions(current, upTo) > 0) return false;
      this.objects.removeSync(objectId);
      for (const part of current.parts) this.dataObjects.removeSync(dataKey(part.dataId));
      return true;
    });
  }

  /** Records the completion even when a newer version of the key wins here: the completion did happen. */
  applyCompleteUpload(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array): Promise<ObjectRecord | undefined> {
    assertObjectRecord(record);
    return this.write(() => {
      const used = new Set(record.parts.map((part) => part.dataId));
      const upload = this.uploadOf(record.bucket, record.key, uploadId);
      if (upload !== undefined) this.removeUpload(upload, used);
      this.recordCompletion(uploadId, record, partsDigest);
      return this.isNewest(record) ? this.storeVersion(record) : undefined;
    });
  }

  applyBucket(record: BucketRecord): Promise<void> {
    return this.write(() => {
      if (!this.buckets.doesExist(bucketKey(record.name))) this.buckets.putSync(bucketKey(record.name), record);
    });
  }

  removePending(dataIds: readonly string[]): Promise<void> {
    if (dataIds.length === 0) return Promise.resolve(); // no commit (and no fsync) for nothing
    return this.write(() => {
      for (const dataId of dataIds) this.pending.removeSync(dataKey(dataId));
    });
  }

  /**
   * This node's current object records in (bucket, key) byte order, at most `limit` (>= 0),
   * strictly after `after` when given, limited to `scope` (a bucket, and a key prefix within it)
   * when given. A read snapshot per call: the scanner pages through millions of records with it.
   */
  scanObjects(limit: number, after?: DataOwner, scope?: ScanScope): ObjectRecord[] {
    assert(Number.isInteger(limit) && limit >= 0, 'scanObjects limit is a non-negative integer');
    if (limit === 0) return [];
    const scopeStart = scope === undefined ? undefined : objectKey(scope.bucket, scope.prefix ?? '');
    const end = scopeStart === undefined ? undefined : prefixEnd(scopeStart);
    const afterKey = after === undefined ? undefined : objectKey(after.bucket, after.key);
    const start = afterKey !== undefined && (scopeStart === undefined || Buffer.compare(afterKey, scopeStart) >= 0) ? afterKey : scopeStart;
    const range = this.objects.getRange({ ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), limit: limit + 1 });
    return [...range.filter(({ key }) => afterKey === undefined || !afterKey.equals(key)).map(({ value }) => value)].slice(0, limit);
  }

  listTombstones(limit: number): Tombstone[] {
    return [...this.tombstones.getRange({ limit }).map(({ value }) => value)];
  }

  /** True when `version` is newer than the key's live record or tombstone here (or there is none). */
  private isNewest(version: { bucket: string; key: string; lastModifiedMs: number; writer?: string }): boolean {
    const key = objectKey(version.bucket, version.key);
    const current = this.objects.get(key) ?? this.tombstones.get(key);
    return current === undefined || compareVersions(version, current) > 0;
  }

  private storeVersion(record: ObjectRecord): ObjectRecord | undefined {
    this.tombstones.removeSync(objectKey(record.bucket, record.key));
    return this.commitObject(record, undefined);
  }

  // ---- pending and gc queues ----

  addPending(ref: DataRef): Promise<void> {
    return this.write(() => {
      this.pending.putSync(dataKey(ref.dataId), ref);
    });
  }

  /** No-op when `dataId` is not pending. */
  abandonPending(dataId: string): Promise<void> {
    return this.write(() => {
      const ref = this.pending.get(dataKey(dataId));
      if (ref === undefined) return;
      this.pending.removeSync(dataKey(dataId));
      this.gc.putSync(dataKey(dataId), ref);
    });
  }

  /** All pending items in dataId byte order. */
  listPending(): DataRef[] {
    return [...this.pending.getRange().map(({ value }) => value)];
  }

  /** At most `limit` (>= 0) gc items in dataId byte order. */
  listGc(limit: number, afterDataId?: string): DataRef[] {
    assert(Number.isInteger(limit) && limit >= 0, 'listGc limit is a non-negative integer');
    if (limit === 0) return [];
    if (afterDataId === undefined) return [...this.gc.getRange({ limit }).map(({ value }) => value)];
    const start = dataKey(afterDataId);
    return [...this.gc.getRange({ start, limit: limit + 1 }).filter(({ key }) => !start.equals(key)).map(({ value }) => value)].slice(0, limit);
  }

  removeGc(dataIds: string[]): Promise<void> {
    return this.write(() => {
      for (const dataId of dataIds) this.gc.removeSync(dataKey(dataId));
    });
  }

  // ---- background workers ----

  /** The durable state a background worker saved under `name` ('scan', 'scrub'), if any. */
  workerState<T>(name: string): T | undefined {
    return this.workers.get(utf8(name)) as T | undefined;
  }

  /** Worker states whose names start with `prefix`, in name order, at most `limit`. */
  workerStates<T>(prefix: string, limit: number): Array<{ name: string; state: T }> {
    const start = utf8(prefix);
    return [...this.workers.getRange({ start, end: prefixEnd(start), limit }).map(({ key, value }) => ({ name: key.toString('utf8'), state: value as T }))];
  }

  /** Saves (or with undefined removes) worker `name`'s state; durable when the promise resolves. */
  saveWorkerState(name: string, state: unknown): Promise<void> {
    return this.write(() => {
      if (state === undefined) this.workers.removeSync(utf8(name));
      else this.workers.putSync(utf8(name), state);
    });
  }

  // ---- repair queue ----

  /** Keeps the first entry per (dataId, shardIndex): deduplicated. */
  addRepairs(entries: readonly RepairEntry[]): Promise<void> {
    return this.write(() => {
      for (const entry of entries) {
        const key = repairKey(entry.dataId, entry.shardIndex);
        if (!this.repair.doesExist(key)) this.repair.putSync(key, entry);
      }
    });
  }

  /** At most `limit` (>= 0) entries in (dataId, shardIndex) order, after `after` when given. */
  listRepairs(limit: number, after?: Pick<RepairEntry, 'dataId' | 'shardIndex'>): RepairEntry[] {
    assert(Number.isInteger(limit) && limit >= 0, 'listRepairs limit is a non-negative integer');
    if (limit === 0) return [];
    if (after === undefined) return [...this.repair.getRange({ limit }).map(({ value }) => value)];
    const start = repairKey(after.dataId, after.shardIndex);
    return [...this.repair.getRange({ start, limit: limit + 1 }).filter(({ key }) => !start.equals(key)).map(({ value }) => value)].slice(0, limit);
  }

  /** Entries in the repair queue (LMDB's entry count: no scan). */
  repairCount(): number {
    return this.repair.getCount();
  }

  removeRepairs(entries: readonly Pick<RepairEntry, 'dataId' | 'shardIndex'>[]): Promise<void> {
    return this.write(() => {
      for (const entry of entries) this.repair.removeSync(repairKey(entry.dataId, entry.shardIndex));
    });
  }

  // ---- helpers (all run inside the caller's transaction or read snapshot) ----

  /**
   * Runs `action` as one abortable child transaction of the next batched write transaction: a
   * throw rolls back its writes and rejects with the thrown error; otherwise resolves with its
   * result once the commit is durable. A failed commit rolls back every write of its transaction
   * and rejects with MetadataStoreFull or MetadataStoreFailed (MetaWriteGuard.run).
   */
  private write<T>(action: () => T, options: { unbounded?: boolean } = {}): Promise<T> {
    return this.guard.run(() => this.root.childTransaction(action), options);
  }

  private requireBucket(bucket: string): void {
    if (!this.buckets.doesExist(bucketKey(bucket))) {
      throw new TesseraError('NoSuchBucket', 'bucket does not exist', { bucket });
    }
  }

  private requireUpload(bucket: string, key: string, uploadId: string): UploadRecord {
    const upload = this.uploadOf(bucket, key, uploadId);
    if (upload === undefined) throw new TesseraError('NoSuchUpload', 'upload does not exist', { bucket, key, uploadId });
    return upload;
  }

  /** Checks conditions, stores `record`, clears its pending entries, gcs the replaced data. */
  private commitObject(record: ObjectRecord, conditions: WriteConditions | undefined): ObjectRecord | undefined {
    const key = objectKey(record.bucket, record.key);
    const replaced = this.objects.get(key);
    checkConditions(replaced, conditions, record);
    this.objects.putSync(key, record);
    const used = new Set(record.parts.map((part) => part.dataId));
    for (const dataId of used) {
      this.pending.removeSync(dataKey(dataId));
      this.dataObjects.putSync(dataKey(dataId), { bucket: record.bucket, key: record.key });
    }
    if (replaced !== undefined) this.collectParts(replaced.parts, used);
    return replaced;
  }

  /** Stores the completion record of `record` (skipped when partsDigest is missing: see completionOf). */
  private recordCompletion(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array | undefined): void {
    const completion = completionOf(uploadId, record, partsDigest);
    if (completion !== undefined) this.completed.put(completion);
  }

  /** Removes an upload, its index entry and its parts; parts whose dataId is not in `keep` go to gc. */
  private removeUpload(upload: UploadRecord, keep: ReadonlySet<string>): void {
    const parts = [...this.partRange(upload.uploadId, 0)];
    for (const part of parts) this.parts.removeSync(partKey(upload.uploadId, part.partNumber));
    this.collectParts(parts, keep);
    this.uploads.removeSync(uploadKey(upload.bucket, upload.key, upload.initiatedMs, upload.uploadId));
    this.uploadIds.removeSync(uploadIdKey(upload.uploadId));
  }

  /** Queues the data of `parts` not in `keep` for deletion (and drops any pending entry for it). */
  private collectParts(parts: readonly DataPart[], keep: ReadonlySet<string>): void {
    for (const part of parts) {
      if (keep.has(part.dataId)) continue;
      this.pending.removeSync(dataKey(part.dataId));
      this.dataObjects.removeSync(dataKey(part.dataId));
      this.gc.putSync(dataKey(part.dataId), dataRefOf(part));
    }
  }

  /** Parts of an upload with number >= first, ascending, at most `limit`. */
  private partRange(uploadId: string, first: number, limit?: number): Iterable<PartRecord> {
    const scope = Buffer.concat([uploadIdKey(uploadId), Buffer.of(0)]);
    const options = { start: partKey(uploadId, first), end: prefixEnd(scope) };
    return this.parts.getRange(limit === undefined ? options : { ...options, limit }).map(({ value }) => value);
  }

  /** Start position (and filter) for listUploads after (keyMarker, uploadIdMarker). */
  private uploadMarkerPosition(bucket: string, keyMarker: string, uploadIdMarker: string): MarkerPosition<UploadRecord> | undefined {
    if (keyMarker === '') return undefined;
    const scope = bucketScope(bucket);
    if (uploadIdMarker !== '' && Buffer.byteLength(keyMarker) <= keyLengthMaxBytes) {
      const location = this.uploadIds.get(uploadIdKey(uploadIdMarker));
      if (location !== undefined && location.bucket === bucket && location.key === keyMarker) {
        const at = uploadKey(bucket, keyMarker, location.initiatedMs, uploadIdMarker);
        return { start: Buffer.concat([at, Buffer.of(0)]), overLong: false };
      }
      return {
        start: uploadKeyStart(bucket, keyMarker),
        overLong: false,
        skip: (e) => e.key === keyMarker && compareUtf8(e.value.uploadId, uploadIdMarker) <= 0,
      };
    }
    const after = positionAfter(scope, utf8(keyMarker), (raw, terminate) => escapeBytes(raw, terminate));
    return after.overLong ? { ...after, skip: (e) => compareUtf8(e.key, keyMarker) <= 0 } : after;
  }
}

/**
 * A listing's copy of `record`: its parts without their inline bytes and hash. A page lists up to
 * 1000 keys, and with inline objects of up to inlineObjectMaxBytes each it would otherwise carry up
 * to 128 MiB of object data that no listing shows (and overflow a cluster call's callHeaderMaxBytes).
 */
export function listEntry(record: ObjectRecord): ObjectRecord {
  if (!record.parts.some((part) => part.inline !== undefined)) return record;
  return { ...record, parts: record.parts.map(({ inline: _inline, inlineHash: _inlineHash, ...part }) => part) };
}
