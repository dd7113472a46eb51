// Reads a byte range of one data part a window of stripes at a time: one read per shard covers
// every stripe of the window (up to readWindowBytesMax of data), the k data shards first; each
// block's bitrot hash is verified, and parity shards are fetched and decoded only when a data
// shard is missing, corrupt or slower than shardReadHedgeMs. Every bad shard is reported once (for
// the repair queue) and tried last in the windows after. One window is fetched ahead of the one
// being sent; the first window is a single stripe, so the first byte leaves early. Inline parts
// are verified against their stored hash.
import type { DataLayout, DataPart, RepairReason } from '../meta/types.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import type { ShardStore } from '../store/shard-store.js';
import { TesseraError, isTesseraError } from '../util/errors.js';
import { bitrotHash, bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { stripeAt, type Stripe } from '../erasure/stripe.js';
import { shardIdOf } from './layout.js';
import { readWindowBytesMax, shardReadHedgeMs } from '../util/limits.js';

/** What the reader needs from its surroundings. */
export interface StripeSource {
  /** The store of a drive, or undefined when the drive is offline. */
  store(driveId: string): ShardStore | undefined;
  codec(layout: DataLayout): Promise<ErasureCodec>;
  /** Called once per bad shard of the part. */
  onBadShard(part: DataPart, shardIndex: number, reason: RepairReason): void;
  /** True when the drive's store is on this node (a read costs no transfer); absent: none is. */
  isLocal?(driveId: string): boolean;
}

/** One shard's blocks of a window: a verified block per stripe, or undefined; and why any is missing. */
interface ShardRead {
  blocks: (Buffer | undefined)[];
  reason: RepairReason | undefined;
}

/** Stripes per full read window of `layout`: readWindowBytesMax of data, at least one stripe. */
export function windowStripes(layout: DataLayout): number {
  return Math.max(1, Math.floor(readWindowBytesMax / layout.blockSizeBytes));
}

/** The consecutive stripes first..last of `part` (inclusive). */
export function stripesOf(layout: DataLayout, part: DataPart, first: number, last: number): Stripe[] {
  return Array.from({ length: last - first + 1 }, (_, i) => stripeAt(layout, part.sizeBytes, first + i));
}

/**
 * One shard's blocks of `stripes` (consecutive, so contiguous in the file) in one read, each
 * verified on its own: a bad block costs its stripe this shard, not the window. A file cut short
 * inside the window is read again block by block, so the blocks before the cut still count.
 */
async function readShard(source: StripeSource, part: DataPart, shardIndex: number, stripes: Stripe[]): Promise<ShardRead> {
  const none = (reason: RepairReason): ShardRead => ({ blocks: stripes.map(() => undefined), reason });
  const store = source.store(part.drives[shardIndex] ?? '');
  if (!store) return none('missing');
  const shardId = shardIdOf(part.dataId, shardIndex);
  const first = stripes[0]!;
  const last = stripes[stripes.length - 1]!;
  let framed: Buffer | undefined;
  try {
    framed = await store.readRange(shardId, first.fileOffset, last.fileOffset + bitrotHashBytes + last.shardBytes - first.fileOffset);
  } catch (err) {
    if (isTesseraError(err, 'ShardNotFound', 'StorageIOError')) return none('missing');
    if (!isTesseraError(err, 'ShardTruncated')) throw err;
  }
  let reason: RepairReason | undefined;
  const blocks: (Buffer | undefined)[] = [];
  for (const stripe of stripes) {
    try {
      const at = stripe.fileOffset - first.fileOffset;
      const block = framed?.subarray(at, at + bitrotHashBytes + stripe.shardBytes) ?? await store.readRange(shardId, stripe.fileOffset, bitrotHashBytes + stripe.shardBytes);
      blocks.push(verifyFramedBlock(block, shardId, stripe.index));
    } catch (err) {
      if (isTesseraError(err, 'ShardNotFound', 'StorageIOError')) return { blocks: [...blocks, ...stripes.slice(blocks.length).map(() => undefined)], reason: 'missing' };
      if (!isTesseraError(err, 'BitrotDetected', 'ShardTruncated')) throw err;
      reason = 'corrupt';
      blocks.push(undefined);
    }
  }
  return { blocks, reason };
}

/**
 * The k data blocks of each of `stripes` (consecutive; decoded when needed). Throws InsufficientShards.
 *
 * Reads k shards, data shards first and shards already found bad in this read last, each over the
 * whole window; every stripe needs k good blocks, so a shard with a bad block brings in one more
 * shard for the window. A failed read is replaced at once; and while some stripe is short, one
 * more shard read starts every shardReadHedgeMs, so a node that is gone or stalled (whose read only
 * fails at its deadline) costs the window that delay, not the deadline. Reads still running when
 * every stripe has k blocks finish in the background; a late failure is still reported. `exclude`
 * (the shard being rebuilt) is never read. With `localFirst` (a rebuild), shards on this node's
 * own drives (source.isLocal) are read before the others, data shards first among each: a local
 * parity shard costs one block decode per stripe, a remote data shard a whole transfer.
 * Returns, per stripe, k views of its shardBytes.
 */
export async function readStripes(source: StripeSource, part: DataPart, layout: DataLayout, stripes: Stripe[], reported: Set<number>, exclude?: number, localFirst = false): Promise<Uint8Array[][]> {
  const k = layout.dataShards;
  const width = k + layout.parityShards;
  const shards: ((Buffer | undefined)[] | undefined)[] = new Array<(Buffer | undefined)[] | undefined>(width).fill(undefined);
  // 0 for a shard on this node's own drives when localFirst, else 1: the read order's second key.
  const remoteRank = [...shards.keys()].map((i) => (localFirst && source.isLocal?.(part.drives[i] ?? '') === true ? 0 : 1));
  const remote = (i: number): number => remoteRank[i]!;
  const order = [...shards.keys()].filter((i) => i !== exclude).sort((a, b) => Number(reported.has(a)) - Number(reported.has(b)) || remote(a) - remote(b));
  const total = order.length;
  const good = stripes.map(() => 0);
  const noteBad = (index: number, reason: RepairReason): void => {
    if (reported.has(index)) return;
    reported.add(index);
    source.onBadShard(part, index, reason);
  };
  /** Good blocks the shortest stripe still lacks. */
  const lacking = (): number => Math.max(0, ...good.map((n) => k - n));
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let running = 0;
    let done = false;
    let hedgeTimer: NodeJS.Timeout | undefined;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(hedgeTimer);
      if (err === undefined) resolve();
      else reject(err as Error);
    };
    const launch = (): void => {
      const index = order[next++]!;
      running++;
      readShard(source, part, index, stripes).then(
        (result) => {
          running--;
          if (result.reason !== undefined) noteBad(index, result.reason);
          if (!done) {
            shards[index] = result.blocks;
            result.blocks.forEach((block, j) => {
              if (block !== undefined) good[j]!++;
            });
          }
          if (done) return;
          if (lacking() === 0) return finish();
          while (running < lacking() && next < total) launch();
          if (running === 0) finish(); // every shard tried
        },
        (err: unknown) => finish(err),
      );
    };
    const hedge = (): void => {
      if (done || next >= total) return;
      launch();
      hedgeTimer = setTimeout(hedge, shardReadHedgeMs);
    };
    while (running < k && next < total) launch();
    hedgeTimer = setTimeout(hedge, shardReadHedgeMs);
  });
  const short = good.findIndex((n) => n < k);
  if (short >= 0) {
    const stripe = stripes[short]!.index;
    throw new TesseraError('InsufficientShards', `only ${good[short]} of ${width} shards of stripe ${stripe} are readable, ${k} needed`, { dataId: part.dataId, stripe });
  }
  let codec: ErasureCodec | undefined;
  const result: Uint8Array[][] = [];
  const pick = [...shards.keys()].sort((a, b) => remote(a) - remote(b) || a - b);
  for (const [j] of stripes.entries()) {
    // Exactly k of the blocks go to the decoder: the first k good ones, data shards first (with
    // localFirst, this node's shards first).
    const blocks: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(width).fill(undefined);
    let taken = 0;
    for (const i of pick) {
      if (taken >= k) break;
      const block = shards[i]?.[j];
      if (block === undefined) continue;
      blocks[i] = block;
      taken++;
    }
    const missingData: number[] = [];
    for (let i = 0; i < k; i++) if (blocks[i] === undefined) missingData.push(i);
    if (missingData.length > 0) {
      codec ??= await source.codec(layout);
      codec.reconstruct(blocks, { wanted: missingData });
    }
    result.push(blocks.slice(0, k) as Uint8Array[]);
  }
  return result;
}

/** The k data blocks of one stripe: readStripes over a window of one. Throws InsufficientShards. */
export async function readStripe(source: StripeSource, part: DataPart, layout: DataLayout, stripe: Stripe, reported: Set<number>, exclude?: number): Promise<Uint8Array[]> {
  return (await readStripes(source, part, layout, [stripe], reported, exclude))[0]!;
}

/**
 * Yields bytes [firstByte, lastByte] (inclusive, part-relative) of `part`, verified.
 * Throws InsufficientShards, BitrotDetected (inline part), StorageIOError.
 */
export async function* readPart(
  source: StripeSource,
  part: DataPart,
  layout: DataLayout,
  firstByte: number,
  lastByte: number,
): AsyncGenerator<Buffer> {
  if (lastByte < firstByte) return;
  if (part.inline) {
    const data = Buffer.from(part.inline.buffer, part.inline.byteOffset, part.inline.byteLength);
    if (!part.inlineHash || !bitrotHash(data).equals(Buffer.from(part.inlineHash))) {
      throw new TesseraError('BitrotDetected', `inline data of ${part.dataId} failed its bitrot check`, { dataId: part.dataId });
    }
    yield data.subarray(firstByte, lastByte + 1);
    return;
  }
  const reported = new Set<number>();
  const firstStripe = Math.floor(firstByte / layout.blockSizeBytes);
  const lastStripe = Math.floor(lastByte / layout.blockSizeBytes);
  const perWindow = windowStripes(layout);
  const fetch = (first: number, count: number): { first: number; last: number; blocks: Promise<Uint8Array[][]> } => {
    const last = Math.min(first + count - 1, lastStripe);
    const blocks = readStripes(source, part, layout, stripesOf(layout, part, first, last), reported);
    blocks.catch(() => undefined); // awaited in order below
    return { first, last, blocks };
  };
  let pending = fetch(firstStripe, 1);
  for (;;) {
    const window = pending;
    const blocksOfWindow = await window.blocks;
    if (window.last < lastStripe) pending = fetch(window.last + 1, perWindow);
    for (let index = window.first; index <= window.last; index++) yield* stripeBytes(layout, part, index, blocksOfWindow[index - window.first]!, firstByte, lastByte);
    if (window.last >= lastStripe) return;
  }
}

/** The bytes of stripe `index` within [firstByte, lastByte] (part-relative), as views of its blocks. */
function* stripeBytes(layout: DataLayout, part: DataPart, index: number, blocks: Uint8Array[], firstByte: number, lastByte: number): Generator<Buffer> {
  const stripe = stripeAt(layout, part.sizeBytes, index);
  const from = Math.max(firstByte - stripe.partOffset, 0);
  const to = Math.min(lastByte - stripe.partOffset, stripe.dataBytes - 1);
  for (let i = 0; i < blocks.length; i++) {
    const segStart = i * stripe.shardBytes;
    const segEnd = Math.min(segStart + stripe.shardBytes, stripe.dataBytes) - 1;
    const start = Math.max(from, segStart);
    const end = Math.min(to, segEnd);
    if (start > end) continue;
    const block = blocks[i]!;
    yield Buffer.from(block.buffer, block.byteOffset + (start - segStart), end - start + 1);
  }
}
