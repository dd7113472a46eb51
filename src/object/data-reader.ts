// Reads a byte range of an object from its parts' shard files block by block, verifying every
// block's bitrot hash, with a bounded read-ahead so disk reads overlap sending to the client.
import type { DataPart, DataLayout } from '../meta/types.js';
import type { ShardStore } from '../store/shard-store.js';
import { framedBlockOffset, bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { shardIdOf } from './layout.js';

/** Blocks read ahead of the one being sent (bounds memory to (1 + this) blocks per GET). */
export const readAheadBlocksMax = 2;

interface BlockRead {
  shardId: string;
  blockIndex: number;
  offsetBytes: number;
  lengthBytes: number;
  /** Slice of the block's data to emit. */
  sliceStart: number;
  sliceEnd: number;
}

function* planBlocks(parts: DataPart[], layout: DataLayout, firstByte: number, lastByte: number): Generator<BlockRead> {
  const blockSize = layout.blockSizeBytes;
  let partStart = 0;
  for (const part of parts) {
    const partEnd = partStart + part.sizeBytes; // exclusive
    if (partEnd > firstByte && partStart <= lastByte && part.sizeBytes > 0) {
      const from = Math.max(firstByte, partStart) - partStart;
      const to = Math.min(lastByte, partEnd - 1) - partStart;
      const shardId = shardIdOf(part.dataId, 0);
      for (let b = Math.floor(from / blockSize); b <= Math.floor(to / blockSize); b++) {
        const blockStart = b * blockSize;
        const blockLen = Math.min(blockSize, part.sizeBytes - blockStart);
        yield {
          shardId,
          blockIndex: b,
          offsetBytes: framedBlockOffset(b, blockSize),
          lengthBytes: bitrotHashBytes + blockLen,
          sliceStart: Math.max(from - blockStart, 0),
          sliceEnd: Math.min(to - blockStart, blockLen - 1) + 1,
        };
      }
    }
    partStart = partEnd;
    if (partStart > lastByte) break;
  }
}

/**
 * Yields the bytes [firstByte, lastByte] (inclusive) of the data made of `parts`, each chunk a
 * verified block slice. Throws BitrotDetected, ShardNotFound, ShardTruncated, StorageIOError.
 */
export async function* readData(
  store: ShardStore,
  parts: DataPart[],
  layout: DataLayout,
  firstByte: number,
  lastByte: number,
): AsyncGenerator<Buffer> {
  if (lastByte < firstByte) return;
  const plan = planBlocks(parts, layout, firstByte, lastByte);
  const queue: Array<{ read: BlockRead; data: Promise<Buffer> }> = [];
  const fill = (): void => {
    while (queue.length <= readAheadBlocksMax) {
      const next = plan.next();
      if (next.done) return;
      const read = next.value;
      const data = store.readRange(read.shardId, read.offsetBytes, read.lengthBytes);
      data.catch(() => undefined); // awaited below; avoid unhandled rejection while queued
      queue.push({ read, data });
    }
  };
  fill();
  try {
    while (queue.length > 0) {
      const head = queue.shift()!;
      const framed = await head.data;
      fill();
      const data = verifyFramedBlock(framed, head.read.shardId, head.read.blockIndex);
      yield data.subarray(head.read.sliceStart, head.read.sliceEnd);
    }
  } finally {
    queue.length = 0;
  }
}
