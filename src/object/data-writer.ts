// Writing a data item (an object's body or a part) with the object layer's write protocol, so a
// crash at any instant leaves the old object or the new one:
//   1. record the data id as pending (LMDB, durable before any shard file gets its name)
//   2. stream stripes into temp files, fsync, rename (ShardWriter.commit) on >= write quorum drives
//   3. one LMDB transaction stores the record, clears pending and queues replaced data for gc;
//      shards that missed their drive go to the repair queue.
// Small bodies skip 1 and 2: they are stored inline in their record.
import { createHash } from 'node:crypto';
import type { MetaStore } from '../meta/meta-store.js';
import type { DataLayout, DataPart, RepairReason, StoredChecksum } from '../meta/types.js';
import type { ShardStoreSet } from '../store/shard-store.js';
import { bitrotHash } from '../erasure/bitrot.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import { TesseraError } from '../util/errors.js';
import type { GarbageCollector } from './garbage-collector.js';
import { dataRefOf, newDataId, shardIdOf, writeQuorumOf } from './layout.js';
import { checkWriteQuorum, writeStriped, type ShardSink, type WrittenData } from './stripe-writer.js';

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

/** A written data item, before its metadata commit. */
export interface StoredData {
  /** The part's data fields (sizes, ETag, placement or inline bytes). */
  part: Omit<DataPart, 'partNumber'>;
  written: WrittenData;
  checksum: StoredChecksum | undefined;
  /** Shard indices that missed their drive (to repair after the commit). */
  missedShards: number[];
}

/** Where a write's bytes are stored and for which object (repair entries name it). */
export interface WriteTarget {
  bucket: string;
  key: string;
}

/** What the writer works with: the object layer's metadata, drives, layout, codecs and gc. */
export interface DataWriterOptions {
  meta: MetaStore;
  drives: ShardStoreSet;
  /** The layout new data items are written with. */
  layout: DataLayout;
  codec: (layout: DataLayout) => Promise<ErasureCodec>;
  gc: GarbageCollector;
  /** Bodies up to this many bytes are stored inline in their record; 0 disables. */
  inlineMaxBytes: number;
  /** Queues a shard that missed its drive for repair under the object written. */
  queueRepair: (part: DataPart, shardIndex: number, reason: RepairReason, target: WriteTarget) => void;
}

/** The write protocol's steps for ObjectLayer's PUT and UploadPart. */
export class DataWriter {
  constructor(private readonly options: DataWriterOptions) {}

  /**
   * Steps 1 and 2 of the write protocol. Bodies up to inlineMaxBytes stay in memory and
   * are stored inline in the record; larger ones are striped over the drives. The pending
   * record's commit runs while the body streams and is durable before any rename
   * (ShardWriter.commit waits for it), so no shard file exists under its final name without a
   * pending or committed record naming it. On failure nothing is left but a gc entry. Throws
   * EntityTooLarge (past input.sizeMaxBytes), WriteQuorumNotMet, and the errors of the body and of
   * input.finish.
   */
  async write(input: DataInput, target: WriteTarget): Promise<StoredData> {
    // A body announced as too big for inline goes straight to the drives, so a missing write
    // quorum is known before any of it is read (and the client gets a prompt 503).
    if (input.sizeHintBytes !== undefined && input.sizeHintBytes > this.options.inlineMaxBytes) return this.storeStriped(input.body, input, target);
    const iterator = input.body[Symbol.asyncIterator]();
    const head: Uint8Array[] = [];
    let headBytes = 0;
    let ended = false;
    while (headBytes <= this.options.inlineMaxBytes) {
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
    const drives = this.options.drives.placement(dataId, `${target.bucket}/${target.key}`);
    const pending = this.options.meta.addPending(dataRefOf(dataId, drives));
    pending.catch(() => undefined); // awaited by the commits below; failure surfaces there
    const sink: ShardSink = { writers: [], failed: new Set(), writeQuorum: writeQuorumOf(this.options.layout) };
    try {
      sink.writers = await Promise.all(drives.map(async (driveId, i) => {
        const store = this.options.drives.store(driveId);
        return store?.createWriter(shardIdOf(dataId, i)).catch(() => undefined);
      }));
      checkWriteQuorum(sink);
      const written = await writeStriped(body, sink, this.options.layout, await this.options.codec(this.options.layout), input.sizeMaxBytes);
      const checksum = await input.finish?.(written);
      await this.commitShards(sink, pending);
      const missedShards = drives.map((_, i) => i).filter((i) => !sink.writers[i] || sink.failed.has(i));
      const part = { sizeBytes: written.sizeBytes, etag: written.md5.toString('hex'), dataId, drives, ...(checksum ? { checksum } : {}) };
      return { part, written, checksum, missedShards };
    } catch (err) {
      await Promise.all(sink.writers.map((w) => w?.abort()));
      await pending.then(() => this.options.gc.abandon(dataId), () => undefined);
      this.options.gc.kick();
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

  /**
   * Step 3 of the write protocol: `apply` is the metadata commit naming `stored`. Afterwards the
   * shards that missed their drive are queued for repair; a refused commit drops the data (gc) and
   * rejects with the commit's error.
   */
  async commit<T>(stored: StoredData, target: WriteTarget, apply: () => Promise<T>): Promise<T> {
    try {
      const result = await apply();
      this.options.gc.kick();
      for (const shardIndex of stored.missedShards) this.options.queueRepair(stored.part as DataPart, shardIndex, 'write-failed', target);
      return result;
    } catch (err) {
      // Never replaces `err` (a full metadata disk fails the abandon too: gc retries it).
      if (stored.part.inline === undefined) await this.options.gc.abandon(stored.part.dataId);
      this.options.gc.kick();
      throw err;
    }
  }
}
