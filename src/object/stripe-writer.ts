// Streams a body into the k + m shard files of one data item: fills the k data shard buffers
// of a stripe straight from the request chunks (buffers live in the codec's memory, so encoding
// copies nothing), encodes the m parity blocks, and appends [XXH3][block] to every shard file
// that is still writable. Two buffer sets alternate, so one stripe is written while the next
// fills. A shard whose drive fails is dropped; below the write quorum the write fails.
import { createHash } from 'node:crypto';
import type { DataLayout } from '../meta/types.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import type { ShardWriter } from '../store/shard-store.js';
import { TesseraError } from '../util/errors.js';
import { bitrotHash } from '../erasure/bitrot.js';
import { fullShardBytes } from '../erasure/stripe.js';

/** Result of streaming one data item. */
export interface WrittenData {
  sizeBytes: number;
  /** MD5 of the content, 16 bytes. */
  md5: Buffer;
}

/** The shard writers of a data item; undefined entries are shards already lost. */
export interface ShardSink {
  writers: (ShardWriter | undefined)[];
  /** Shard indices whose writer failed during the write. */
  failed: Set<number>;
  /** Fewest writable shards that still make the write durable enough. */
  writeQuorum: number;
}

interface VectorWriter extends ShardWriter {
  writev?(chunks: Uint8Array[]): Promise<void>;
}

/** Appends [XXH3 of block][block] to `writer`, in one vectored write when the writer has one. */
export function writeFramed(writer: VectorWriter, block: Uint8Array): Promise<void> {
  const hash = bitrotHash(block);
  return writer.writev ? writer.writev([hash, block]) : writer.write(hash).then(() => writer.write(block));
}

/** Throws WriteQuorumNotMet when fewer than the quorum of shards remain writable. */
export function checkWriteQuorum(sink: ShardSink): void {
  const alive = sink.writers.filter((w, i) => w !== undefined && !sink.failed.has(i)).length;
  if (alive < sink.writeQuorum) {
    throw new TesseraError('WriteQuorumNotMet', `only ${alive} shards writable, ${sink.writeQuorum} needed`, { alive, writeQuorum: sink.writeQuorum });
  }
}

async function writeStripe(sink: ShardSink, shards: Uint8Array[]): Promise<void> {
  const results = await Promise.allSettled(shards.map((block, i) => {
    const writer = sink.writers[i];
    if (!writer || sink.failed.has(i)) return Promise.resolve();
    return writeFramed(writer, block);
  }));
  results.forEach((result, i) => {
    if (result.status === 'rejected') sink.failed.add(i);
  });
  checkWriteQuorum(sink);
}

/** Re-cuts a short last stripe (written with full-stripe segments of `full` bytes) into segments of ceil(length / k). */
function relayout(buffers: Uint8Array[], k: number, full: number, length: number): number {
  const joined = Buffer.allocUnsafe(length);
  for (let i = 0, at = 0; at < length; i++, at += full) joined.set(buffers[i]!.subarray(0, Math.min(full, length - at)), at);
  const shardBytes = Math.ceil(length / k);
  for (let i = 0; i < k; i++) {
    const start = Math.min(i * shardBytes, length);
    const end = Math.min(start + shardBytes, length);
    const target = buffers[i]!;
    target.set(joined.subarray(start, end), 0);
    target.fill(0, end - start, shardBytes);
  }
  return shardBytes;
}

/**
 * Copies `body` into the shard files of `sink` as bitrot-framed stripes of `layout`, encoding
 * parity with `codec`. Throws EntityTooLarge past `sizeMaxBytes`, WriteQuorumNotMet, and the
 * body's own errors. The caller commits or aborts the writers.
 */
export async function writeStriped(
  body: AsyncIterable<Uint8Array>,
  sink: ShardSink,
  layout: DataLayout,
  codec: ErasureCodec,
  sizeMaxBytes: number,
): Promise<WrittenData> {
  const k = layout.dataShards;
  const total = k + layout.parityShards;
  const shardBytes = fullShardBytes(layout);
  const sets = [codec.allocShards(shardBytes, total), codec.allocShards(shardBytes, total)];
  const md5 = createHash('md5');
  let current = 0;
  let filled = 0; // data bytes in the current stripe
  let sizeBytes = 0;
  let inFlight: Promise<void> | undefined;

  const flush = async (length: number): Promise<void> => {
    const buffers = sets[current]!;
    let blockBytes = shardBytes;
    if (length < layout.blockSizeBytes) blockBytes = relayout(buffers, k, shardBytes, length);
    else if (k * shardBytes > length) buffers[k - 1]!.fill(0, length - (k - 1) * shardBytes, shardBytes);
    const blocks = buffers.map((b) => b.subarray(0, blockBytes));
    codec.encode(blocks);
    await inFlight;
    inFlight = writeStripe(sink, blocks);
    // Observed at the next flush or the end; until then a failure must not count as unhandled.
    inFlight.catch(() => undefined);
    current = 1 - current;
    filled = 0;
  };

  try {
    for await (const chunk of body) {
      sizeBytes += chunk.length;
      if (sizeBytes > sizeMaxBytes) {
        throw new TesseraError('EntityTooLarge', `object larger than ${sizeMaxBytes} bytes`, { sizeMaxBytes });
      }
      md5.update(chunk);
      let offset = 0;
      while (offset < chunk.length) {
        const shard = Math.floor(filled / shardBytes);
        const within = filled - shard * shardBytes;
        const take = Math.min(shardBytes - within, layout.blockSizeBytes - filled, chunk.length - offset);
        sets[current]![shard]!.set(chunk.subarray(offset, offset + take), within);
        filled += take;
        offset += take;
        if (filled === layout.blockSizeBytes) await flush(filled);
      }
    }
    if (filled > 0) await flush(filled);
    await inFlight;
    return { sizeBytes, md5: md5.digest() };
  } finally {
    await inFlight?.catch(() => undefined);
    for (const set of sets) codec.releaseShards(set);
  }
}
