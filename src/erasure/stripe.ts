// Stripe geometry. An object part of P bytes is cut into stripes of B = layout.blockSizeBytes
// (the last one L = P - jB bytes). Stripe j's data is split into k segments of
// S_j = ceil(L_j / k) bytes, segment i going to data shard i (the last segment zero-padded);
// m parity blocks of S_j bytes follow. In shard file i, stripe j is [8-byte hash][S_j bytes] at
// offset j * (8 + S), S = ceil(B / k): every stripe but the last has the full S.
import type { DataLayout } from '../meta/types.js';
import { bitrotHashBytes } from './bitrot.js';

/** One stripe of a part. */
export interface Stripe {
  index: number;
  /** Offset of the stripe's first byte within the part. */
  partOffset: number;
  /** Data bytes in the stripe (L_j). */
  dataBytes: number;
  /** Bytes of each shard block in this stripe (S_j). */
  shardBytes: number;
  /** Offset of the stripe's framed block (hash first) in every shard file. */
  fileOffset: number;
}

/** Full-stripe shard block size S = ceil(blockSizeBytes / dataShards). */
export function fullShardBytes(layout: DataLayout): number {
  return Math.ceil(layout.blockSizeBytes / layout.dataShards);
}

/** Stripe `index` of a part of `partBytes` bytes. */
export function stripeAt(layout: DataLayout, partBytes: number, index: number): Stripe {
  const partOffset = index * layout.blockSizeBytes;
  const dataBytes = Math.min(layout.blockSizeBytes, partBytes - partOffset);
  return {
    index,
    partOffset,
    dataBytes,
    shardBytes: Math.ceil(dataBytes / layout.dataShards),
    fileOffset: index * (bitrotHashBytes + fullShardBytes(layout)),
  };
}

/** Number of stripes of a part (0 for an empty part). */
export function stripeCount(layout: DataLayout, partBytes: number): number {
  return Math.ceil(partBytes / layout.blockSizeBytes);
}

/** Size of each shard file of a part. */
export function shardFileBytes(layout: DataLayout, partBytes: number): number {
  const count = stripeCount(layout, partBytes);
  if (count === 0) return 0;
  const last = stripeAt(layout, partBytes, count - 1);
  return last.fileOffset + bitrotHashBytes + last.shardBytes;
}

/** The block geometry of every shard file of a part of `partBytes` bytes (store/shard-store.ts ShardBlocks). */
export function shardBlocksOf(layout: DataLayout, partBytes: number): { count: number; blockBytes: number; lastBlockBytes: number } {
  const count = stripeCount(layout, partBytes);
  const blockBytes = fullShardBytes(layout);
  return { count, blockBytes, lastBlockBytes: count === 0 ? 0 : stripeAt(layout, partBytes, count - 1).shardBytes };
}
