// How data items map to shards: shard i of data item D is the shard file `${D}.${i}`.
// Issue 2 stores one shard per data item (k=1, m=0); erasure coding widens this.
import { randomBytes } from 'node:crypto';
import type { DataLayout, DataRef } from '../meta/types.js';

/** Shard id of shard `shardIndex` of data item `dataId`. */
export function shardIdOf(dataId: string, shardIndex: number): string {
  return `${dataId}.${shardIndex}`;
}

/** A data item's reference for the pending and gc queues: every shard id of the layout. */
export function dataRefOf(dataId: string, layout: DataLayout): DataRef {
  const shardIds: string[] = [];
  for (let i = 0; i < layout.dataShards + layout.parityShards; i++) shardIds.push(shardIdOf(dataId, i));
  return { dataId, shardIds };
}

/**
 * New data id: 12 hex chars of milliseconds then 20 random hex chars (32 chars). Time first
 * spreads files over the 2-char fan-out directories only slowly, so the random part leads.
 */
export function newDataId(nowMs = Date.now()): string {
  return `${randomBytes(10).toString('hex')}${nowMs.toString(16).padStart(12, '0')}`;
}

/** The single-copy layout (k=1, m=0) with the given block size. */
export function singleShardLayout(blockSizeBytes: number): DataLayout {
  return { blockSizeBytes, dataShards: 1, parityShards: 0, bitrot: 'xxh3-64' };
}
