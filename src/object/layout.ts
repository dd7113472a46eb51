// How data items map to shards: shard i of data item D is the shard file `${D}.${i}` on the
// drive the item's placement names for i.
import { randomBytes } from 'node:crypto';
import type { DataLayout, DataRef } from '../meta/types.js';

/** Shard id of shard `shardIndex` of data item `dataId`. */
export function shardIdOf(dataId: string, shardIndex: number): string {
  return `${dataId}.${shardIndex}`;
}

/** The inverse of shardIdOf, or undefined for a name that is not a shard id. */
export function parseShardId(shardId: string): { dataId: string; shardIndex: number } | undefined {
  const dot = shardId.lastIndexOf('.');
  const shardIndex = Number(shardId.slice(dot + 1));
  if (dot <= 0 || !/^\d{1,3}$/.test(shardId.slice(dot + 1)) || shardIndex > 255) return undefined;
  return { dataId: shardId.slice(0, dot), shardIndex };
}

/** A data item's reference for the pending and gc queues: every shard id with its drive. */
export function dataRefOf(dataId: string, drives: readonly string[]): DataRef {
  return { dataId, shardIds: drives.map((_, i) => shardIdOf(dataId, i)), drives: [...drives] };
}

/**
 * New data id: 20 random hex chars then 12 hex chars of milliseconds (32 chars). The random
 * part leads, so ids spread over the 2-char fan-out directories and the drive rotation.
 */
export function newDataId(nowMs = Date.now()): string {
  return `${randomBytes(10).toString('hex')}${nowMs.toString(16).padStart(12, '0')}`;
}

/** The layout of new data: `dataShards` + `parityShards` over stripes of `blockSizeBytes`. */
export function erasureLayout(blockSizeBytes: number, dataShards: number, parityShards: number): DataLayout {
  return { blockSizeBytes, dataShards, parityShards, bitrot: 'xxh3-64' };
}

/** Fewest durable shards for a write: k, or k + 1 when k = m (so two writes cannot both win half). */
export function writeQuorumOf(layout: DataLayout): number {
  return layout.dataShards + (layout.dataShards === layout.parityShards ? 1 : 0);
}
