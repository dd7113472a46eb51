// Rebuilds one shard file of a data part from k healthy shards, stripe by stripe: each stripe's
// k data blocks are read (decoded from parity when needed, never from the shard being rebuilt),
// the lost block is taken or re-encoded, and written bitrot-framed to a new shard file on the
// drive the part names. The file replaces the old one only at commit (temp file, fsync, rename),
// and is read back and verified block by block before the rebuild counts as done.
import type { DataLayout, DataPart } from '../meta/types.js';
import { bitrotHash, bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { shardBlocksOf, stripeAt, stripeCount } from '../erasure/stripe.js';
import { repairStripesAheadMax } from '../util/limits.js';
import type { ShardStore } from '../store/shard-store.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { shardIdOf } from './layout.js';
import { readStripe, type StripeSource } from './stripe-reader.js';

/**
 * Rebuilds shard `shardIndex` (0 <= shardIndex < k + m) of `part` on the drive part.drives[shardIndex],
 * or on `target` (a node a layout change moves the shard to).
 * Returns the bytes written (framed shard file size). Throws StorageIOError (target drive offline
 * or failing), InsufficientShards (fewer than k other shards readable in some stripe),
 * BitrotDetected (the written file does not read back), and the store's errors.
 */
export async function rebuildShard(source: StripeSource, part: DataPart, layout: DataLayout, shardIndex: number, target?: ShardStore): Promise<number> {
  const k = layout.dataShards;
  const width = k + layout.parityShards;
  if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= width) throw new TesseraError('InvalidArgument', `shard index ${shardIndex} is not in 0..${width - 1}`);
  const driveId = part.drives[shardIndex] ?? '';
  const store = target ?? source.store(driveId);
  if (!store) throw new TesseraError('StorageIOError', `drive ${driveId} of shard ${shardIndex} of ${part.dataId} is offline`, { driveId });
  const shardId = shardIdOf(part.dataId, shardIndex);
  const codec = await source.codec(layout);
  const stripes = stripeCount(layout, part.sizeBytes);
  const reported = new Set<number>();
  const writer = await store.createWriter(shardId);
  // Up to repairStripesAheadMax stripes are read while earlier ones are encoded and written.
  const reads: Promise<Uint8Array[]>[] = [];
  const readAhead = (index: number): void => {
    if (index >= stripes) return;
    const read = readStripe(source, part, layout, stripeAt(layout, part.sizeBytes, index), reported, shardIndex);
    read.catch(() => undefined); // awaited in order below
    reads[index] = read;
  };
  try {
    for (let index = 0; index < Math.min(repairStripesAheadMax, stripes); index++) readAhead(index);
    for (let index = 0; index < stripes; index++) {
      const stripe = stripeAt(layout, part.sizeBytes, index);
      const data = await reads[index]!;
      delete reads[index];
      readAhead(index + repairStripesAheadMax);
      let block: Uint8Array;
      if (shardIndex < k) {
        block = data[shardIndex]!;
      } else {
        const shards = [...data, ...Array.from({ length: layout.parityShards }, () => new Uint8Array(stripe.shardBytes))];
        codec.encode(shards);
        block = shards[shardIndex]!;
      }
      await writer.write(Buffer.concat([bitrotHash(block), block]));
    }
    await writer.commit();
  } catch (err) {
    await writer.abort();
    await Promise.allSettled(reads);
    throw err;
  }
  await verifyShard(store, part, layout, shardIndex);
  return writer.sizeBytes;
}

/**
 * Checks every block of shard `shardIndex` of `part` against its bitrot hash where `store` keeps
 * it (rebuild's read-back, scrub). Throws BitrotDetected, ShardTruncated, ShardNotFound, StorageIOError.
 */
export async function verifyShard(store: ShardStore, part: DataPart, layout: DataLayout, shardIndex: number): Promise<void> {
  await store.verifyBlocks(shardIdOf(part.dataId, shardIndex), shardBlocksOf(layout, part.sizeBytes));
}

/**
 * Copies shard `shardIndex` of `part` from the drive or node part.drives[shardIndex] names to
 * `target`, block by block, verifying every block's bitrot hash on the way and the written file
 * after. When the source cannot give a good block (absent, corrupt, its node down), the shard is
 * rebuilt on `target` from k other shards instead. Returns the bytes written and how.
 * Throws what rebuildShard throws.
 */
export async function copyShard(source: StripeSource, part: DataPart, layout: DataLayout, shardIndex: number, target: ShardStore): Promise<{ bytes: number; rebuilt: boolean }> {
  const from = source.store(part.drives[shardIndex] ?? '');
  const shardId = shardIdOf(part.dataId, shardIndex);
  if (from) {
    const writer = await target.createWriter(shardId);
    try {
      for (let index = 0; index < stripeCount(layout, part.sizeBytes); index++) {
        const stripe = stripeAt(layout, part.sizeBytes, index);
        const framed = await from.readRange(shardId, stripe.fileOffset, bitrotHashBytes + stripe.shardBytes);
        verifyFramedBlock(framed, shardId, index);
        await writer.write(framed);
      }
      await writer.commit();
      await verifyShard(target, part, layout, shardIndex);
      return { bytes: writer.sizeBytes, rebuilt: false };
    } catch (err) {
      await writer.abort();
      if (!isTesseraError(err, 'ShardNotFound', 'ShardTruncated', 'BitrotDetected', 'StorageIOError')) throw err;
    }
  }
  return { bytes: await rebuildShard(source, part, layout, shardIndex, target), rebuilt: true };
}
