// Streams a request body into one data item: cuts it into stripe blocks, frames each with its
// bitrot hash and appends it to the shard file, computing the content MD5 (ETag) on the way.
// At most one block write is in flight while the next block fills (two block buffers).
import { createHash } from 'node:crypto';
import type { DataLayout } from '../meta/types.js';
import type { ShardWriter } from '../store/shard-store.js';
import { TesseraError } from '../util/errors.js';
import { bitrotHash } from '../erasure/bitrot.js';

/** Result of streaming one data item. */
export interface WrittenData {
  sizeBytes: number;
  /** MD5 of the content, 16 bytes. */
  md5: Buffer;
}

interface VectorWriter extends ShardWriter {
  writev?(chunks: Uint8Array[]): Promise<void>;
}

async function writeBlock(writer: VectorWriter, block: Buffer): Promise<void> {
  const hash = bitrotHash(block);
  if (writer.writev) await writer.writev([hash, block]);
  else {
    await writer.write(hash);
    await writer.write(block);
  }
}

/**
 * Copies `body` into `writer` as framed blocks of `layout.blockSizeBytes`.
 * Throws EntityTooLarge past `sizeMaxBytes`; errors of `body` (IncompleteBody, BadDigest, ...)
 * pass through. The caller commits or aborts the writer.
 */
export async function writeData(
  body: AsyncIterable<Uint8Array>,
  writer: ShardWriter,
  layout: DataLayout,
  sizeMaxBytes: number,
): Promise<WrittenData> {
  const blockSize = layout.blockSizeBytes;
  const md5 = createHash('md5');
  let block = Buffer.allocUnsafe(blockSize);
  let spare = Buffer.allocUnsafe(blockSize);
  let filled = 0;
  let sizeBytes = 0;
  let inFlight: Promise<void> | undefined;

  for await (const chunk of body) {
    sizeBytes += chunk.length;
    if (sizeBytes > sizeMaxBytes) {
      throw new TesseraError('EntityTooLarge', `object larger than ${sizeMaxBytes} bytes`, { sizeMaxBytes });
    }
    md5.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(blockSize - filled, chunk.length - offset);
      block.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === blockSize) {
        await inFlight;
        inFlight = writeBlock(writer, block);
        [block, spare] = [spare, block];
        filled = 0;
      }
    }
  }
  await inFlight;
  if (filled > 0) await writeBlock(writer, block.subarray(0, filled));
  return { sizeBytes, md5: md5.digest() };
}
