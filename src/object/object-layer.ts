// The object layer: buckets, objects and multipart uploads over a MetaStore (LMDB) and a
// ShardStore. Write protocol, so a crash at any instant leaves the old object or the new one:
//   1. record the data id as pending (LMDB, durable)
//   2. stream shard blocks into a temp file, fsync, rename (ShardWriter.commit)
//   3. one LMDB transaction stores the record, clears pending and queues replaced data for gc.
// At start-up every still-pending data item is garbage; temp files are removed.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/meta-store.js';
import type {
  BucketRecord, DataLayout, ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage,
  ListUploadsQuery, ObjectHeaders, ObjectRecord, PartRecord, StoredChecksum, UploadRecord, WriteConditions,
} from '../meta/types.js';
import type { ShardStore, ShardWriter } from '../store/shard-store.js';
import { TesseraError } from '../util/errors.js';
import { DataPins, GarbageCollector } from './garbage-collector.js';
import { dataRefOf, newDataId, shardIdOf, singleShardLayout } from './layout.js';
import { writeData, type WrittenData } from './data-writer.js';
import { readData } from './data-reader.js';
import { checkCompleteParts, multipartEtag, type CompletePart } from './multipart-rules.js';

/** What a PUT or UploadPart streams in. */
export interface DataInput {
  body: AsyncIterable<Uint8Array>;
  /** Larger bodies fail with EntityTooLarge. */
  sizeMaxBytes: number;
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

export interface ObjectLayerOptions {
  meta: MetaStore;
  store: ShardStore;
  blockSizeBytes: number;
  log: Logger;
}

/** Buckets, objects and multipart uploads. Errors are TesseraError codes named per method. */
export class ObjectLayer {
  private readonly meta: MetaStore;
  private readonly store: ShardStore;
  private readonly layout: DataLayout;
  private readonly log: Logger;
  private readonly pins = new DataPins();
  private readonly gc: GarbageCollector;

  constructor(options: ObjectLayerOptions) {
    this.meta = options.meta;
    this.store = options.store;
    this.layout = singleShardLayout(options.blockSizeBytes);
    this.log = options.log;
    this.gc = new GarbageCollector(this.meta, this.store, this.pins, this.log);
  }

  /** Crash recovery: drops pending data items and temp files, then collects garbage. */
  async start(): Promise<void> {
    const temps = await this.store.cleanTemp();
    const pending = this.meta.listPending();
    for (const ref of pending) await this.meta.abandonPending(ref.dataId);
    if (temps > 0 || pending.length > 0) {
      this.log.info({ tempFiles: temps, pendingDataItems: pending.length }, 'recovered from unfinished writes');
    }
    this.gc.kick();
  }

  async stop(): Promise<void> {
    await this.gc.stop();
  }

  // ---- buckets --------------------------------------------------------------------------

  /** Throws BucketAlreadyOwnedByYou. */
  async createBucket(name: string, location: string): Promise<void> {
    await this.meta.createBucket({ name, createdMs: Date.now(), location });
  }

  /** Throws NoSuchBucket. */
  getBucket(name: string): BucketRecord {
    const bucket = this.meta.getBucket(name);
    if (!bucket) throw new TesseraError('NoSuchBucket', 'The specified bucket does not exist', { bucket: name });
    return bucket;
  }

  listBuckets(): BucketRecord[] {
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
    this.getBucket(input.bucket);
    this.checkConditions(input.bucket, input.key, input.conditions);
    const { dataId, written, checksum } = await this.writeDataItem(input);
    const record: ObjectRecord = {
      ...input.headers,
      bucket: input.bucket,
      key: input.key,
      sizeBytes: written.sizeBytes,
      etag: written.md5.toString('hex'),
      lastModifiedMs: Date.now(),
      layout: this.layout,
      parts: [{ partNumber: 1, sizeBytes: written.sizeBytes, etag: written.md5.toString('hex'), dataId, ...(checksum ? { checksum } : {}) }],
      multipart: false,
      ...(checksum ? { checksum } : {}),
    };
    await this.commit(dataId, () => this.meta.putObject(record, input.conditions));
    return record;
  }

  /** The current record. Throws NoSuchBucket, NoSuchKey. */
  headObject(bucket: string, key: string): ObjectRecord {
    this.getBucket(bucket);
    const record = this.meta.getObject(bucket, key);
    if (!record) throw new TesseraError('NoSuchKey', 'The specified key does not exist.', { bucket, key });
    return record;
  }

  /**
   * Opens the current object for reading; its data stays readable until release(), even if
   * it is overwritten meanwhile. Throws NoSuchBucket, NoSuchKey.
   */
  openObject(bucket: string, key: string): OpenedObject {
    const record = this.headObject(bucket, key);
    // Synchronous with the read above: gc cannot delete these shards before the pin exists.
    const release = this.pins.pin(record.parts.map((p) => p.dataId));
    return {
      record,
      read: (firstByte, lastByte) => readData(this.store, record.parts, record.layout, firstByte, lastByte),
      release,
    };
  }

  /** Deletes the object (no error when absent). Throws NoSuchBucket. */
  async deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    this.getBucket(bucket);
    const removed = await this.meta.deleteObject(bucket, key);
    if (removed) this.gc.kick();
    return removed;
  }

  /** Throws NoSuchBucket. */
  listObjects(bucket: string, query: ListObjectsQuery): ListObjectsPage {
    return this.meta.listObjects(bucket, query);
  }

  // ---- multipart uploads ------------------------------------------------------------------------

  /** Throws NoSuchBucket. */
  async createUpload(upload: Omit<UploadRecord, 'layout' | 'initiatedMs'>): Promise<UploadRecord> {
    this.getBucket(upload.bucket);
    const record: UploadRecord = { ...upload, initiatedMs: Date.now(), layout: this.layout };
    await this.meta.createUpload(record);
    return record;
  }

  /** Throws NoSuchBucket, NoSuchUpload. */
  getUpload(bucket: string, key: string, uploadId: string): UploadRecord {
    this.getBucket(bucket);
    const upload = this.meta.getUpload(bucket, key, uploadId);
    if (!upload) throw new TesseraError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { uploadId });
    return upload;
  }

  /** Streams one part. Throws NoSuchUpload, EntityTooLarge, the body's errors. */
  async uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, input: DataInput): Promise<PartRecord> {
    this.getUpload(bucket, key, uploadId);
    const { dataId, written, checksum } = await this.writeDataItem(input);
    const part: PartRecord = {
      partNumber,
      sizeBytes: written.sizeBytes,
      etag: written.md5.toString('hex'),
      dataId,
      lastModifiedMs: Date.now(),
      ...(checksum ? { checksum } : {}),
    };
    await this.commit(dataId, () => this.meta.putPart(bucket, key, uploadId, part));
    return part;
  }

  /** Throws NoSuchUpload. */
  listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number): ListPartsPage {
    this.getUpload(bucket, key, uploadId);
    return this.meta.listParts(bucket, key, uploadId, partNumberMarker, maxParts);
  }

  /** Throws NoSuchBucket. */
  listUploads(bucket: string, query: ListUploadsQuery): ListUploadsPage {
    return this.meta.listUploads(bucket, query);
  }

  /**
   * Assembles the object from the named parts (AWS CompleteMultipartUpload rules: InvalidPart,
   * InvalidPartOrder, EntityTooSmall) and commits it atomically. `checksumOf` computes the
   * object's flexible checksum from the chosen parts (may throw, e.g. InvalidPart/BadDigest).
   * Throws NoSuchUpload, PreconditionFailed.
   */
  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    requested: CompletePart[],
    checksumOf: (upload: UploadRecord, parts: PartRecord[]) => StoredChecksum | undefined,
    conditions?: WriteConditions,
  ): Promise<ObjectRecord> {
    const upload = this.getUpload(bucket, key, uploadId);
    const chosen = checkCompleteParts(requested, this.meta.getParts(bucket, key, uploadId));
    const checksum = checksumOf(upload, chosen);
    const { bucket: _b, key: _k, uploadId: _u, initiatedMs: _i, layout, checksumAlgorithm: _a, checksumType: _t, ...headers } = upload;
    const record: ObjectRecord = {
      ...headers,
      bucket,
      key,
      sizeBytes: chosen.reduce((sum, p) => sum + p.sizeBytes, 0),
      etag: multipartEtag(chosen),
      lastModifiedMs: Date.now(),
      layout,
      parts: chosen.map(({ lastModifiedMs: _m, ...part }) => part),
      multipart: true,
      ...(checksum ? { checksum } : {}),
    };
    await this.meta.completeUpload(uploadId, record, conditions);
    this.gc.kick();
    return record;
  }

  /** Throws NoSuchUpload. */
  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    this.getBucket(bucket);
    await this.meta.abortUpload(bucket, key, uploadId);
    this.gc.kick();
  }

  // ---- internals ------------------------------------------------------------------------------

  private checkConditions(bucket: string, key: string, conditions: WriteConditions | undefined): void {
    if (!conditions || (!conditions.ifMatch && !conditions.ifNoneMatch)) return;
    const current = this.meta.getObject(bucket, key);
    if (conditions.ifNoneMatch === '*' && current) {
      throw new TesseraError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { condition: 'If-None-Match' });
    }
    if (conditions.ifMatch && (!current || (conditions.ifMatch !== '*' && conditions.ifMatch !== current.etag))) {
      if (!current) throw new TesseraError('NoSuchKey', 'The specified key does not exist.', { bucket, key });
      throw new TesseraError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { condition: 'If-Match' });
    }
  }

  /**
   * Steps 1 and 2 of the write protocol. The pending record's commit runs while the body streams
   * and must be durable before the rename (ShardWriter.commit waits for it), so no shard file
   * can exist under its final name without a pending or committed record naming it.
   * On failure nothing is left behind but a gc entry.
   */
  private async writeDataItem(input: DataInput): Promise<{ dataId: string; written: WrittenData; checksum: StoredChecksum | undefined }> {
    const dataId = newDataId();
    const pending = this.meta.addPending(dataRefOf(dataId, this.layout));
    pending.catch(() => undefined); // awaited by commit(); failure surfaces there
    let writer: ShardWriter | undefined;
    try {
      writer = await this.store.createWriter(shardIdOf(dataId, 0));
      const written = await writeData(input.body, writer, this.layout, input.sizeMaxBytes);
      const checksum = await input.finish?.(written);
      await writer.commit(pending);
      return { dataId, written, checksum };
    } catch (err) {
      await writer?.abort();
      await pending.then(() => this.meta.abandonPending(dataId), () => undefined);
      this.gc.kick();
      throw err;
    }
  }

  /** Step 3 of the write protocol: the metadata commit; a refused commit drops the data. */
  private async commit<T>(dataId: string, apply: () => Promise<T>): Promise<T> {
    try {
      const result = await apply();
      this.gc.kick();
      return result;
    } catch (err) {
      await this.meta.abandonPending(dataId);
      this.gc.kick();
      throw err;
    }
  }
}
