// The object layer: buckets, objects and multipart uploads over a MetaStore (LMDB) and the
// node's drives. Each data item is erasure-coded into k + m shard files on k + m drives (small
// ones live inline in their record). Write protocol, so a crash at any instant leaves the old
// object or the new one:
//   1. record the data id as pending (LMDB, durable before any shard file gets its name)
//   2. stream stripes into temp files, fsync, rename (ShardWriter.commit) on >= write quorum drives
//   3. one LMDB transaction stores the record, clears pending and queues replaced data for gc;
//      shards that missed their drive go to the repair queue.
// At start-up every still-pending data item is garbage; temp files are removed.
import { createHash } from 'node:crypto';
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
import { bitrotHash } from '../erasure/bitrot.js';
import { createCodec } from '../erasure/create-codec.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import { DataPins, GarbageCollector } from './garbage-collector.js';
import { dataRefOf, erasureLayout, newDataId, shardIdOf, writeQuorumOf } from './layout.js';
import { checkWriteQuorum, writeStriped, type ShardSink, type WrittenData } from './stripe-writer.js';
import { readPart, type StripeSource } from './stripe-reader.js';
import { ShardMaintenance, type ShardCheck } from './shard-maintenance.js';
import { checkCompleteParts, completePartsDigest, multipartRecord, type CompletePart } from './multipart-rules.js';
import { CompletedUploadSweeper, type SweepLimits } from './completed-upload-sweeper.js';
import { completionOf } from '../meta/completed-uploads.js';
import { assert } from '../util/assert.js';

/** What a PUT or UploadPart streams in. */
export interface DataInput {
  body: AsyncIterable<Uint8Array>;
  /** Larger bodies fail with EntityTooLarge. */
  sizeMaxBytes: number;
  /** The body's size when the request announced it (Content-Length, x-amz-decoded-content-length). */
  sizeHintBytes?: number;
  /**
   * Runs after the body ended and before anything is committed; throwing aborts the write
   * (used by the S3 layer to verify Content-MD5, x-amz-content-sha256 and checksums).
   * Returns the flexible checksum to store, if any.
   */
  finish?: (written: WrittenData) => StoredChecksum | undefined | Promise<StoredChecksum | undefined>;
}

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
}

/** A written data item, before its metadata commit. */
interface StoredData {
  /** The part's data fields (sizes, ETag, placement or inline bytes). */
  part: Omit<DataPart, 'partNumber'>;
  written: WrittenData;
  checksum: StoredChecksum | undefined;
  /** Shard indices that missed their drive (to repair after the commit). */
  missedShards: number[];
}

/** Where a write's bytes are stored and for which object (repair entries name it). */
interface WriteTarget {
  bucket: string;
  key: string;
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
  private readonly inlineMaxBytes: number;
  private readonly maintenance: ShardMaintenance;

  constructor(options: ObjectLayerOptions) {
    this.meta = options.meta;
    this.inlineMaxBytes = options.inlineObjectMaxBytes;
    this.drives = options.drives;
    const { dataShards, parityShards } = options.drives.format;
    this.layout = erasureLayout(options.blockSizeBytes, dataShards, parityShards);
    this.log = options.log;
    this.gc = new GarbageCollector(this.meta, this.drives, this.pins, this.log);
    this.sweeper = new CompletedUploadSweeper(this.meta, this.log, options.completedUploadLimits);
    this.source = {
      store: (driveId) => this.drives.store(driveId),
      codec: (layout) => this.codec(layout),
      onBadShard: (part, shardIndex, reason) => this.maintenance.queueRepair(part, shardIndex, reason),
    };
    this.maintenance = new ShardMaintenance({
      meta: this.meta, drives: this.drives, pins: this.pins, gc: this.gc, source: this.source, log: this.log,
      ...(options.onRepairQueued ? { onRepairQueued: options.onRepairQueued } : {}),
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
    const stored = await this.writeDataItem(input, input);
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
    await this.commit(stored, input, () => this.meta.putObject(record, input.conditions));
    return record;
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
    const stored = await this.writeDataItem(input, { bucket, key });
    const part: PartRecord = { partNumber, ...stored.part, lastModifiedMs: Date.now() };
    await this.commit(stored, { bucket, key }, () => this.meta.putPart(bucket, key, uploadId, part));
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

  /**
   * Steps 1 and 2 of the write protocol. Bodies up to inlineMaxBytes stay in memory and
   * are stored inline in the record; larger ones are striped over the drives. The pending
   * record's commit runs while the body streams and is durable before any rename
   * (ShardWriter.commit waits for it), so no shard file exists under its final name without a
   * pending or committed record naming it. On failure nothing is left but a gc entry.
   */
  private async writeDataItem(input: DataInput, target: WriteTarget): Promise<StoredData> {
    // A body announced as too big for inline goes straight to the drives, so a missing write
    // quorum is known before any of it is read (and the client gets a prompt 503).
    if (input.sizeHintBytes !== undefined && input.sizeHintBytes > this.inlineMaxBytes) return this.storeStriped(input.body, input, target);
    const iterator = input.body[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let ended = false;
    while (headBytes <= this.inlineMaxBytes) {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        break;
      }
      head.push(next.value);
      headBytes += next.value.length;
    }
    if (ended) return this.storeInline(Buffer.concat(head, headBytes), input);
    async function* whole(): AsyncGenerator<Uint8Array> {
      try {
        yield* head;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
      } finally {
        await iterator.return?.();
      }
    }
    return this.storeStriped(whole(), input, target);
  }

  private async storeInline(data: Buffer, input: DataInput): Promise<StoredData> {
    const md5 = createHash('md5').update(data).digest();
    const written: WrittenData = { sizeBytes: data.length, md5 };
    if (data.length > input.sizeMaxBytes) throw new TesseraError('EntityTooLarge', `object larger than ${input.sizeMaxBytes} bytes`);
    const checksum = await input.finish?.(written);
    const part = {
      sizeBytes: data.length, etag: md5.toString('hex'), dataId: newDataId(), drives: [],
      inline: data, inlineHash: bitrotHash(data), ...(checksum ? { checksum } : {}),
    };
    return { part, written, checksum, missedShards: [] };
  }

  private async storeStriped(body: AsyncIterable<Uint8Array>, input: DataInput, target: WriteTarget): Promise<StoredData> {
    const dataId = newDataId();
    const drives = this.drives.placement(dataId, `${target.bucket}/${target.key}`);
    const pending = this.meta.addPending(dataRefOf(dataId, drives));
    pending.catch(() => undefined); // awaited by the commits below; failure surfaces there
    const sink: ShardSink = { writers: [], failed: new Set(), writeQuorum: writeQuorumOf(this.layout) };
    try {
      sink.writers = await Promise.all(drives.map(async (driveId, i) => {
        const store = this.drives.store(driveId);
        return store?.createWriter(shardIdOf(dataId, i)).catch(() => undefined);
      }));
      checkWriteQuorum(sink);
      const written = await writeStriped(body, sink, this.layout, await this.codec(this.layout), input.sizeMaxBytes);
      const checksum = await input.finish?.(written);
      await this.commitShards(sink, pending);
      const missedShards = drives.map((_, i) => i).filter((i) => !sink.writers[i] || sink.failed.has(i));
      const part = { sizeBytes: written.sizeBytes, etag: written.md5.toString('hex'), dataId, drives, ...(checksum ? { checksum } : {}) };
      return { part, written, checksum, missedShards };
    } catch (err) {
      await Promise.all(sink.writers.map((w) => w?.abort()));
      await pending.then(() => this.gc.abandon(dataId), () => undefined);
      this.gc.kick();
      throw err;
    }
  }

  /** Commits every live shard writer; throws WriteQuorumNotMet when too few made it. */
  private async commitShards(sink: ShardSink, pending: Promise<void>): Promise<void> {
    const results = await Promise.allSettled(sink.writers.map((w, i) => (w && !sink.failed.has(i) ? w.commit(pending) : Promise.resolve())));
    await pending; // a failed pending record fails the write even if every shard committed
    results.forEach((result, i) => {
      if (result.status === 'rejected') sink.failed.add(i);
    });
    checkWriteQuorum(sink);
  }

  /** Step 3 of the write protocol: the metadata commit; a refused commit drops the data. */
  private async commit<T>(stored: StoredData, target: WriteTarget, apply: () => Promise<T>): Promise<T> {
    try {
      const result = await apply();
      this.gc.kick();
      for (const shardIndex of stored.missedShards) this.maintenance.queueRepair(stored.part as DataPart, shardIndex, 'write-failed', target);
      return result;
    } catch (err) {
      // Never replaces `err` (a full metadata disk fails the abandon too: gc retries it).
      if (stored.part.inline === undefined) await this.gc.abandon(stored.part.dataId);
      this.gc.kick();
      throw err;
    }
  }
}

function noSuchUpload(uploadId: string): TesseraError {
  return new TesseraError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { uploadId });
}
