// Rebuilds one shard file of a data part from k healthy shards, a window of stripes at a time (one
// read per source shard each, the next window read while this one is written): each stripe's k
// data blocks are read (shards on this node first, decoded from parity when needed, never from the
// shard being rebuilt), the lost block is taken or re-encoded, and written bitrot-framed to a new
// shard file on the drive the part names. The file replaces the old one only at commit (temp file,
// fsync, rename), and every block is verified where it was written (ShardStore.verifyBlocks)
// before the rebuild counts as done.
import type { DataLayout, DataPart } from '../meta/types.js';
import { bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { shardBlocksOf, stripeAt, stripeCount } from '../erasure/stripe.js';
import { repairWindowsAheadMax } from '../util/limits.js';
import type { ShardStore } from '../store/shard-store.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { shardIdOf } from './layout.js';
import { writeFramed } from './stripe-writer.js';
import { readStripes, stripesOf, windowStripes, type StripeSource } from './stripe-reader.js';

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
  // Windows of stripes (one read per shard each) are read repairWindowsAheadMax ahead of the one
  // being encoded and written.
  const perWindow = windowStripes(layout);
  const windows: Promise<Uint8Array[][]>[] = [];
  const readAhead = (window: number): void => {
    const first = window * perWindow;
    if (first >= stripes) return;
    const read = readStripes(source, part, layout, stripesOf(layout, part, first, Math.min(first + perWindow, stripes) - 1), reported, shardIndex, true);
    read.catch(() => undefined); // awaited in order below
    windows[window] = read;
  };
  try {
    for (let window = 0; window <= repairWindowsAheadMax; window++) readAhead(window);
    for (let window = 0; window * perWindow < stripes; window++) {
      const blocksOfWindow = await windows[window]!;
      delete windows[window];
      readAhead(window + repairWindowsAheadMax + 1);
      for (const [j, data] of blocksOfWindow.entries()) {
        const stripe = stripeAt(layout, part.sizeBytes, window * perWindow + j);
        let block: Uint8Array;
        if (shardIndex < k) {
          block = data[shardIndex]!;
        } else {
          const shards = [...data, ...Array.from({ length: layout.parityShards }, () => new Uint8Array(stripe.shardBytes))];
          codec.encode(shards);
          block = shards[shardIndex]!;
        }
        await writeFramed(writer, block);
      }
    }
    await writer.commit();
  } catch (err) {
    await writer.abort();
    await Promise.allSettled(windows);
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
 * `target`, a read window at a time, verifying every block's bitrot hash on the way and the written file
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
      const stripes = stripeCount(layout, part.sizeBytes);
      const perWindow = windowStripes(layout);
      for (let first = 0; first < stripes; first += perWindow) {
        const window = stripesOf(layout, part, first, Math.min(first + perWindow, stripes) - 1);
        const start = window[0]!.fileOffset;
        const end = window[window.length - 1]!.fileOffset + bitrotHashBytes + window[window.length - 1]!.shardBytes;
        const framed = await from.readRange(shardId, start, end - start);
        for (const stripe of window) verifyFramedBlock(framed.subarray(stripe.fileOffset - start, stripe.fileOffset - start + bitrotHashBytes + stripe.shardBytes), shardId, stripe.index);
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
