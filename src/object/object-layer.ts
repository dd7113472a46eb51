// The object layer: buckets, objects and multipart uploads over a MetaStore (LMDB) and the
// node's drives. Each data item is erasure-coded into k + m shard files on k + m drives (small
// ones live inline in their record), written with the protocol of data-writer.ts so that a crash
// at any instant leaves the old object or the new one. At start-up every still-pending data item
// is garbage; temp files are removed. Background work's hooks are in shard-maintenance.ts.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/meta-store.js';
import type {
  BucketRecord, CompletedUpload, DataLayout, ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage,
  ListUploadsQuery, ObjectHeaders, ObjectRecord, PartRecord, StoredChecksum, UploadRecord, WriteConditions,
} from '../meta/types.js';
import type { DataPart, DataRef, RepairEntry } from '../meta/types.js';
import type { RepairOutcome } from '../repair/reconstructor.js';
import type { ShardStore, ShardStoreSet } from '../store/shard-store.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { createCodec } from '../erasure/create-codec.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import { DataPins, GarbageCollector } from './garbage-collector.js';
import { erasureLayout } from './layout.js';
import { readPart, type StripeSource } from './stripe-reader.js';
import { ShardMaintenance, type ShardCheck } from './shard-maintenance.js';
import { DataWriter, type DataInput } from './data-writer.js';
import { checkCompleteParts, completePartsDigest, multipartRecord, type CompletePart } from './multipart-rules.js';
import { CompletedUploadSweeper, type SweepLimits } from './completed-upload-sweeper.js';
import { completionOf } from '../meta/completed-uploads.js';
import { assert } from '../util/assert.js';

export type { DataInput } from './data-writer.js';

export interface PutObjectInput extends DataInput {
  bucket: string;
  key: string;
  headers: ObjectHeaders;
  conditions?: WriteConditions;
}

/** An object opened for reading: its record and its data kept alive until release(). */
export interface OpenedObject {
  record: ObjectRecord;
  /** Bytes [firstByte, lastByte] inclusive, verified block by block. */
  read(firstByte: number, lastByte: number): AsyncGenerator<Buffer>;
  release(): void;
}

export type { ShardCheck } from './shard-maintenance.js';

export interface ObjectLayerOptions {
  meta: MetaStore;
  /** Where shards live: this node's drives, or the cluster's nodes. */
  drives: ShardStoreSet;
  blockSizeBytes: number;
  /** Bodies up to this many bytes are stored inline in their record; 0 disables. */
  inlineObjectMaxBytes: number;
  log: Logger;
  /** Called after a shard was queued for repair (the node kicks its reconstructor). */
  onRepairQueued?: () => void;
  /** The completed-upload sweep's limits; limits.ts when absent (tests pass small ones). */
  completedUploadLimits?: Partial<SweepLimits>;
  /**
   * False in a gateway worker (config `workers` > 1): start() then skips crash recovery and the
   * completed-upload sweep, which the node's own process runs once for all its processes
   * (recovery there would take other processes' writes in flight for unfinished ones). Each
   * process still collects the garbage its own writes leave. Default true.
   */
  maintenance?: boolean;
  /**
   * Which of the given data ids readers in the node's other processes have pinned (config
   * `workers` > 1: a GET in one gateway worker keeps the data another replaced); gc waits for them.
   */
  pinnedElsewhere?: (dataIds: string[]) => Promise<ReadonlySet<string>>;
}

/** Buckets, objects and multipart uploads. Errors are TesseraError codes named per method. */
export class ObjectLayer {
  private readonly meta: MetaStore;
  private readonly drives: ShardStoreSet;
  private readonly layout: DataLayout;
  private readonly log: Logger;
  private readonly pins = new DataPins();
  private readonly gc: GarbageCollector;
  private readonly sweeper: CompletedUploadSweeper;
  private readonly codecs = new Map<string, Promise<ErasureCodec>>();
  private readonly source: StripeSource;
  private readonly maintenance: ShardMaintenance;
  private readonly writer: DataWriter;
  private readonly runsMaintenance: boolean;

  constructor(options: ObjectLayerOptions) {
    this.runsMaintenance = options.maintenance ?? true;
    this.meta = options.meta;
    this.drives = options.drives;
    const { dataShards, parityShards } = options.drives.format;
    this.layout = erasureLayout(options.blockSizeBytes, dataShards, parityShards);
    this.log = options.log;
    this.gc = new GarbageCollector(this.meta, this.drives, this.pins, this.log, options.pinnedElsewhere);
    this.sweeper = new CompletedUploadSweeper(this.meta, this.log, options.completedUploadLimits);
    this.source = {
      store: (driveId) => this.drives.store(driveId),
      codec: (layout) => this.codec(layout),
      onBadShard: (part, shardIndex, reason) => this.maintenance.queueRepair(part, shardIndex, reason),
      isLocal: (driveId) => {
        const store = this.drives.store(driveId);
        return store !== undefined && this.drives.localStores().includes(store);
      },
    };
    this.maintenance = new ShardMaintenance({
      meta: this.meta, drives: this.drives, pins: this.pins, gc: this.gc, source: this.source, log: this.log,
      ...(options.onRepairQueued ? { onRepairQueued: options.onRepairQueued } : {}),
    });
    this.writer = new DataWriter({
      meta: this.meta, drives: this.drives, layout: this.layout, codec: (layout) => this.codec(layout), gc: this.gc,
      inlineMaxBytes: options.inlineObjectMaxBytes,
      queueRepair: (part, shardIndex, reason, target) => this.maintenance.queueRepair(part, shardIndex, reason, target),
    });
  }

  /** The codec for `layout`'s k + m, created once. */
  private codec(layout: DataLayout): Promise<ErasureCodec> {
    const name = `${layout.dataShards}+${layout.parityShards}`;
    let codec = this.codecs.get(name);
    if (!codec) {
      codec = createCodec(layout.dataShards, layout.parityShards);
      this.codecs.set(name, codec);
    }
    return codec;
  }

  /** Crash recovery: drops pending data items and temp files, then collects garbage. */
  async start(): Promise<void> {
    await this.codec(this.layout);
    if (!this.runsMaintenance) return;
    let temps = 0;
    for (const store of this.drives.localStores()) temps += await store.cleanTemp();
    const pending = this.meta.listPending();
    for (const ref of pending) await this.gc.abandon(ref.dataId); // on a full metadata disk: later, by gc
    if (temps > 0 || pending.length > 0) {
      this.log.info({ tempFiles: temps, pendingDataItems: pending.length }, 'recovered from unfinished writes');
    }
    this.gc.kick();
    this.sweeper.start();
  }

  async stop(): Promise<void> {
    await this.sweeper.stop();
    await this.gc.stop();
  }

  // ---- buckets --------------------------------------------------------------------------

  /** Throws BucketAlreadyOwnedByYou. */
  async createBucket(name: string, location: string): Promise<void> {
    await this.meta.createBucket({ name, createdMs: Date.now(), location });
  }

  /** Throws NoSuchBucket. */
  async getBucket(name: string): Promise<BucketRecord> {
    const bucket = await this.meta.getBucket(name);
    if (!bucket) throw new TesseraError('NoSuchBucket', 'The specified bucket does not exist', { bucket: name });
    return bucket;
  }

  listBuckets(): Promise<BucketRecord[]> {
    return this.meta.listBuckets();
  }

  /** Throws NoSuchBucket, BucketNotEmpty. */
  async deleteBucket(name: string): Promise<void> {
    await this.meta.deleteBucket(name);
    this.gc.kick();
  }

  // ---- objects ------------------------------------------------------------------------------

  /**
   * Streams a new object and commits it atomically. Throws NoSuchBucket, PreconditionFailed,
   * EntityTooLarge, the body's own errors, StorageIOError. Returns the stored record.
   */
  async putObject(input: PutObjectInput): Promise<ObjectRecord> {
    await this.getBucket(input.bucket);
    await this.checkConditions(input.bucket, input.key, input.conditions);
    const stored = await this.writer.write(input, input);
    const { written, checksum } = stored;
    const record: ObjectRecord = {
      ...input.headers,
      bucket: input.bucket,
      key: input.key,
      sizeBytes: written.sizeBytes,
      etag: written.md5.toString('hex'),
      lastModifiedMs: Date.now(),
      layout: this.layout,
      parts: [{ partNumber: 1, ...stored.part }],
      multipart: false,
      ...(checksum ? { checksum } : {}),
    };
    await this.writer.commit(stored, input, () => this.meta.putObject(record, input.conditions));
    return record;
  }

  /** Those of `dataIds` a reader in this process has pinned (asked by the node's other processes' gc). */
  pinnedAmong(dataIds: readonly string[]): string[] {
    return dataIds.filter((id) => this.pins.has(id));
  }

  /** The current record. Throws NoSuchBucket, NoSuchKey. */
  async headObject(bucket: string, key: string): Promise<ObjectRecord> {
    await this.getBucket(bucket);
    const record = await this.meta.getObject(bucket, key);
    if (!record) throw new TesseraError('NoSuchKey', 'The specified key does not exist.', { bucket, key });
    return record;
  }

  /**
   * Opens the current object for reading; its data stays readable until release(), even if
   * it is overwritten meanwhile. Throws NoSuchBucket, NoSuchKey.
   */
  async openObject(bucket: string, key: string): Promise<OpenedObject> {
    const record = await this.headObject(bucket, key);
    // In the same tick as the read's continuation: gc cannot delete these shards before the pin
    // exists unless a replacing commit landed in between (then the read reports missing shards).
    const release = this.pins.pin(record.parts.map((p) => p.dataId));
    return {
      record,
      read: (firstByte, lastByte) => this.readParts(record, firstByte, lastByte),
      release,
    };
  }

  /** Deletes the object (no error when absent). Throws NoSuchBucket. */
  async deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    await this.getBucket(bucket);
    const removed = await this.meta.deleteObject(bucket, key);
    if (removed) this.gc.kick();
    return removed;
  }

  /** Throws NoSuchBucket. */
  listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    return this.meta.listObjects(bucket, query);
  }

  // ---- multipart uploads ------------------------------------------------------------------------

  /** Throws NoSuchBucket. */
  async createUpload(upload: Omit<UploadRecord, 'layout' | 'initiatedMs'>): Promise<UploadRecord> {
    await this.getBucket(upload.bucket);
    const record: UploadRecord = { ...upload, initiatedMs: Date.now(), layout: this.layout };
    await this.meta.createUpload(record);
    return record;
  }

  /** Throws NoSuchBucket, NoSuchUpload. */
  async getUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
    await this.getBucket(bucket);
    const upload = await this.meta.getUpload(bucket, key, uploadId);
    if (!upload) throw noSuchUpload(uploadId);
    return upload;
  }

  /**
   * Checks that CompleteMultipartUpload may go on: the upload is in progress, or it completed and
   * its completion is still kept (a retry). Throws NoSuchBucket, NoSuchUpload.
   */
  async requireCompletableUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.getBucket(bucket);
    if (await this.meta.getUpload(bucket, key, uploadId)) return;
    if (await this.meta.getCompletedUpload(bucket, key, uploadId)) return;
    throw noSuchUpload(uploadId);
  }

  /** Streams one part. Throws NoSuchUpload, EntityTooLarge, the body's errors. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, input: DataInput): Promise<PartRecord> {
    await this.getUpload(bucket, key, uploadId);
    const stored = await this.writer.write(input, { bucket, key });
    const part: PartRecord = { partNumber, ...stored.part, lastModifiedMs: Date.now() };
    await this.writer.commit(stored, { bucket, key }, () => this.meta.putPart(bucket, key, uploadId, part));
    return part;
  }

  /** Throws NoSuchUpload. */
  async listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsPage> {
    await this.getUpload(bucket, key, uploadId);
    return this.meta.listParts(bucket, key, uploadId, partNumberMarker, maxParts);
  }

  /** Throws NoSuchBucket. */
  listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage> {
    return this.meta.listUploads(bucket, query);
  }

  /**
   * Assembles the object from the named parts (AWS CompleteMultipartUpload rules: InvalidPart,
   * InvalidPartOrder, EntityTooSmall) and commits it atomically with its CompletedUpload.
   * `checksumOf` computes the object's flexible checksum from the chosen parts (may throw, e.g.
   * InvalidPart/BadDigest). A retry of an upload that already completed (the upload is gone, its
   * completion kept, the same part list) returns that completion as it was, without checking
   * `conditions` again (AWS answers such a retry 200, If-None-Match: * included), whatever became of
   * the object since; another part list gets NoSuchUpload. Throws NoSuchBucket, NoSuchUpload, PreconditionFailed.
   */
  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    requested: CompletePart[],
    checksumOf: (upload: UploadRecord, parts: PartRecord[]) => StoredChecksum | undefined,
    conditions?: WriteConditions,
  ): Promise<CompletedUpload> {
    const partsDigest = completePartsDigest(requested);
    try {
      const upload = await this.getUpload(bucket, key, uploadId);
      const chosen = checkCompleteParts(requested, await this.meta.getParts(bucket, key, uploadId));
      const record = multipartRecord(upload, chosen, checksumOf(upload, chosen));
      await this.meta.completeUpload(uploadId, record, partsDigest, conditions);
      this.gc.kick();
      const completion = completionOf(uploadId, record, partsDigest);
      assert(completion !== undefined, 'completePartsDigest makes a 32-byte digest');
      return completion;
    } catch (err) {
      // Gone before or while this request ran: a retry, or a request racing its own retry.
      if (!isTesseraError(err, 'NoSuchUpload')) throw err;
      const done = await this.meta.getCompletedUpload(bucket, key, uploadId);
      if (done && Buffer.from(done.partsDigest).equals(partsDigest)) return done;
      throw err;
    }
  }

  /** Throws NoSuchUpload. */
  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.getBucket(bucket);
    await this.meta.abortUpload(bucket, key, uploadId);
    this.gc.kick();
  }

  // ---- internals ------------------------------------------------------------------------------

  private async checkConditions(bucket: string, key: string, conditions: WriteConditions | undefined): Promise<void> {
    if (!conditions || (!conditions.ifMatch && !conditions.ifNoneMatch)) return;
    const current = await this.meta.getObject(bucket, key);
    if (conditions.ifNoneMatch === '*' && current) {
      throw new TesseraError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { condition: 'If-None-Match' });
    }
    if (conditions.ifMatch && (!current || (conditions.ifMatch !== '*' && conditions.ifMatch !== current.etag))) {
      if (!current) throw new TesseraError('NoSuchKey', 'The specified key does not exist.', { bucket, key });
      throw new TesseraError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { condition: 'If-Match' });
    }
  }

  // ---- hooks for background work (shard-maintenance.ts) ---------------------------------------

  /** The reconstructor's rebuild of a queued shard: ShardMaintenance.repairShard. */
  repairShard(entry: RepairEntry): Promise<RepairOutcome> {
    return this.maintenance.repairShard(entry);
  }

  /** The scrubber's check of one local shard file: ShardMaintenance.scrubShard. */
  scrubShard(store: ShardStore, shardId: string): Promise<'ok' | 'repair-queued' | 'unowned'> {
    return this.maintenance.scrubShard(store, shardId);
  }

  /** The scanner's check of one record's shards: ShardMaintenance.checkShards. */
  checkShards(record: ObjectRecord): Promise<ShardCheck> {
    return this.maintenance.checkShards(record);
  }

  /** The rebalancer's copy of one shard to `targetId`: ShardMaintenance.copyShardTo. */
  copyShardTo(part: DataPart, layout: DataLayout, shardIndex: number, targetId: string): Promise<{ bytes: number; rebuilt: boolean }> {
    return this.maintenance.copyShardTo(part, layout, shardIndex, targetId);
  }

  /** The rebalancer's discard of moved shards' old copies: ShardMaintenance.discardShards. */
  discardShards(ref: DataRef): Promise<void> {
    return this.maintenance.discardShards(ref);
  }

  /** Bytes [firstByte, lastByte] of the object, part by part. */
  private async *readParts(record: ObjectRecord, firstByte: number, lastByte: number): AsyncGenerator<Buffer> {
    // Bad shards met by this read are queued under this object, so the reconstructor can find the part.
    const source: StripeSource = { ...this.source, onBadShard: (part, shardIndex, reason) => this.maintenance.queueRepair(part, shardIndex, reason, record) };
    let partStart = 0;
    for (const part of record.parts) {
      const partEnd = partStart + part.sizeBytes - 1;
      if (partEnd >= firstByte && partStart <= lastByte) {
        yield* readPart(source, part, record.layout, Math.max(firstByte, partStart) - partStart, Math.min(lastByte, partEnd) - partStart);
      }
      partStart += part.sizeBytes;
      if (partStart > lastByte) break;
    }
  }

}

function noSuchUpload(uploadId: string): TesseraError {
  return new TesseraError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { uploadId });
}
