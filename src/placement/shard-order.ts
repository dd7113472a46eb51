// Which node of a stripe's chosen node set holds which shard index. Pure 32-bit integer
// arithmetic on the placement key and node ids, so every process computes the same order.
import { assert } from '../util/assert.js';

/** 32-bit hash of a string: FNV-1a over UTF-16 code units, then the murmur3 finalizer. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mix32(h);
}

/** murmur3's fmix32: full avalanche of a 32-bit value. */
function mix32(value: number): number {
  let h = value ^ (value >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Packing (score, set position, shard index) into one double makes every pair's rank a single
// distinct number: score < 2^32, position and index < 2^9, total < 2^50 < 2^53.
const positionBits = 9;
const positionLimit = 1 << positionBits;
/** Widths up to this match by scanning (w^3 compares, no allocation beyond w^2); wider ones sort. */
const scanWidthMax = 16;

/**
 * Orders `nodeIds` (the stripe's node set, length w <= 512) into shards: returns an array of
 * the same w ids where index i holds shard i. Every (shard index, node) pair gets a
 * rendezvous score (Thaler & Ravishankar 1998, highest random weight) from `keyHash` and
 * `nodeHashes[j]` (hash32 of nodeIds[j]); pairs are taken greedily from the highest score, a
 * pair being skipped when its shard or node is already matched. That is the unique stable
 * matching for these scores, so when one node of the set is replaced by another only the
 * shards along one displacement chain move, not every shard after the changed one (as taking
 * shards in ring-walk order would).
 */
export function orderShards(keyHash: number, nodeIds: readonly string[], nodeHashes: readonly number[]): string[] {
  const width = nodeIds.length;
  assert(width <= positionLimit && nodeHashes.length === width, 'shard order: one hash per node, at most 512 nodes');
  const pairs = rankedPairs(keyHash, nodeHashes);
  const matched = width <= scanWidthMax ? matchByScan(pairs, width) : matchBySort(pairs, width);
  const shards = new Array<string>(width);
  for (let shard = 0; shard < width; shard++) shards[shard] = nodeIds[matched[shard] ?? 0] ?? '';
  return shards;
}

// Reused between calls (place() is synchronous): allocating small typed arrays costs more than
// filling them. Holds scanWidthMax^2 ranks; wider stripes allocate their own.
const scratchPairs = new Float64Array(scanWidthMax * scanWidthMax);

/** w x w packed pair ranks; entry j * w + shard is node j's rank for shard `shard`. */
function rankedPairs(keyHash: number, nodeHashes: readonly number[]): Float64Array {
  const width = nodeHashes.length;
  const pairs = width <= scanWidthMax ? scratchPairs : new Float64Array(width * width);
  for (let j = 0; j < width; j++) {
    const nodeKey = mix32(keyHash ^ (nodeHashes[j] ?? 0));
    for (let shard = 0; shard < width; shard++) {
      const score = mix32(nodeKey ^ Math.imul(shard + 1, 0x9e3779b1));
      pairs[j * width + shard] = score * positionLimit * positionLimit + j * positionLimit + shard;
    }
  }
  return pairs;
}

/** Greedy matching by repeatedly taking the best free pair; returns node position per shard. */
export function matchByScan(pairs: Float64Array, width: number): number[] {
  const nodeOf = new Array<number>(width).fill(0);
  let shardTaken = 0; // bit masks: width <= scanWidthMax < 32
  let nodeTaken = 0;
  assert(width <= scanWidthMax, 'scan matching is for narrow stripes');
  for (let round = 0; round < width; round++) {
    let best = -1;
    for (let j = 0; j < width; j++) {
      if ((nodeTaken >>> j) & 1) continue;
      for (let shard = 0; shard < width; shard++) {
        const rank = pairs[j * width + shard] ?? -1;
        if (((shardTaken >>> shard) & 1) === 0 && rank > best) best = rank;
      }
    }
    const shard = best % positionLimit;
    const j = Math.floor(best / positionLimit) % positionLimit;
    nodeOf[shard] = j;
    shardTaken |= 1 << shard;
    nodeTaken |= 1 << j;
  }
  return nodeOf;
}

/** The same matching as matchByScan, by one sort of all pairs (for wide stripes); `pairs` is sorted in place. */
export function matchBySort(pairs: Float64Array, width: number): number[] {
  const nodeOf = new Array<number>(width).fill(0);
  const shardTaken = new Uint8Array(width);
  const nodeTaken = new Uint8Array(width);
  pairs.subarray(0, width * width).sort();
  let matched = 0;
  for (let p = width * width - 1; p >= 0 && matched < width; p--) {
    const rank = pairs[p] ?? 0;
    const shard = rank % positionLimit;
    const j = Math.floor(rank / positionLimit) % positionLimit;
    if (shardTaken[shard] === 1 || nodeTaken[j] === 1) continue;
    nodeOf[shard] = j;
    shardTaken[shard] = 1;
    nodeTaken[j] = 1;
    matched++;
  }
  assert(matched === width, 'every shard matched');
  return nodeOf;
}

/** A copy of the pair ranks orderShards builds, for testing that both matchers agree. */
export function rankedPairsFor(keyHash: number, nodeHashes: readonly number[]): Float64Array {
  return rankedPairs(keyHash, nodeHashes).slice(0, nodeHashes.length * nodeHashes.length);
}
