// Reads a byte range of one data part stripe by stripe: fetches the k data shard blocks first,
// verifies each block's bitrot hash, and fetches parity blocks and decodes only when one is
// missing, corrupt or slower than shardReadHedgeMs. Every bad shard is reported once (for the
// repair queue) and tried last in the stripes after. One stripe is fetched ahead of the one being sent. Inline parts are verified against their stored hash.
import type { DataLayout, DataPart, RepairReason } from '../meta/types.js';
import type { ErasureCodec } from '../erasure/erasure-codec.js';
import type { ShardStore } from '../store/shard-store.js';
import { TesseraError, isTesseraError } from '../util/errors.js';
import { bitrotHash, bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { stripeAt, type Stripe } from '../erasure/stripe.js';
import { shardIdOf } from './layout.js';
import { shardReadHedgeMs } from '../util/limits.js';

/** What the reader needs from its surroundings. */
export interface StripeSource {
  /** The store of a drive, or undefined when the drive is offline. */
  store(driveId: string): ShardStore | undefined;
  codec(layout: DataLayout): Promise<ErasureCodec>;
  /** Called once per bad shard of the part. */
  onBadShard(part: DataPart, shardIndex: number, reason: RepairReason): void;
}

type ShardRead = { data: Buffer } | { reason: RepairReason };

async function readShard(source: StripeSource, part: DataPart, shardIndex: number, stripe: Stripe): Promise<ShardRead> {
  const store = source.store(part.drives[shardIndex] ?? '');
  if (!store) return { reason: 'missing' };
  const shardId = shardIdOf(part.dataId, shardIndex);
  try {
    const framed = await store.readRange(shardId, stripe.fileOffset, bitrotHashBytes + stripe.shardBytes);
    return { data: verifyFramedBlock(framed, shardId, stripe.index) };
  } catch (err) {
    if (isTesseraError(err, 'BitrotDetected', 'ShardTruncated')) return { reason: 'corrupt' };
    if (isTesseraError(err, 'ShardNotFound', 'StorageIOError')) return { reason: 'missing' };
    throw err;
  }
}

/**
 * The k data blocks of a stripe (decoded when needed). Throws InsufficientShards.
 *
 * Reads k shards, data shards first and shards already found bad in this read last. A failed
 * read is replaced by the next shard at once; and while the stripe is incomplete, one more
 * shard read starts every shardReadHedgeMs, so a node that is gone or stalled (whose read only
 * fails at its deadline) costs the stripe that delay, not the deadline. Reads still running when
 * k blocks are in finish in the background; a late failure is still reported. `exclude` (the
 * shard being rebuilt) is never read. Returns k views of shardBytes each.
 */
export async function readStripe(source: StripeSource, part: DataPart, layout: DataLayout, stripe: Stripe, reported: Set<number>, exclude?: number): Promise<Uint8Array[]> {
  const k = layout.dataShards;
  const shards: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(k + layout.parityShards).fill(undefined);
  const order = [...shards.keys()].filter((i) => i !== exclude).sort((a, b) => Number(reported.has(a)) - Number(reported.has(b)));
  const total = order.length;
  const noteBad = (index: number, reason: RepairReason): void => {
    if (reported.has(index)) return;
    reported.add(index);
    source.onBadShard(part, index, reason);
  };
  let good = 0;
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
      readShard(source, part, index, stripe).then(
        (result) => {
          running--;
          if (!('data' in result)) noteBad(index, result.reason);
          else if (!done) {
            shards[index] = result.data;
            good++;
          }
          if (done) return;
          if (good >= k) return finish();
          while (good + running < k && next < total) launch();
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
  if (good < k) {
    throw new TesseraError('InsufficientShards', `only ${good} of ${shards.length} shards of stripe ${stripe.index} are readable, ${k} needed`, { dataId: part.dataId, stripe: stripe.index });
  }
  const missingData = [];
  for (let i = 0; i < k; i++) if (!shards[i]) missingData.push(i);
  if (missingData.length > 0) {
    const codec = await source.codec(layout);
    codec.reconstruct(shards, { wanted: missingData });
  }
  return shards.slice(0, k) as Uint8Array[];
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
  const fetch = (index: number): Promise<Uint8Array[]> => {
    const promise = readStripe(source, part, layout, stripeAt(layout, part.sizeBytes, index), reported);
    promise.catch(() => undefined); // awaited in order below
    return promise;
  };
  let pending = fetch(firstStripe);
  for (let index = firstStripe; index <= lastStripe; index++) {
    const blocks = await pending;
    if (index < lastStripe) pending = fetch(index + 1);
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
}
