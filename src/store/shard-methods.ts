// The shard protocol's method names and request headers, shared by the shard server (its method
// table) and RemoteShardStore (its calls), so a misspelt method or a missing header field is a
// compile error on either side. The wire is msgpack: method 'shard.<name>', the header as below.
import type { Call } from '../transport/transport.js';
import type { ShardBlocks } from './shard-store.js';

/** Each shard method's request header. */
export interface ShardHeaders {
  /** Body: the shard's bytes. Reply header { sizeBytes } once the shard is durable. */
  'shard.put': { shardId: string };
  /** Reply body: lengthBytes bytes of the shard from offsetBytes. */
  'shard.read': { shardId: string; offsetBytes: number; lengthBytes: number };
  /** Reply header { sizeBytes }, or nil when the shard does not exist. */
  'shard.stat': { shardId: string };
  /** Reply header nil once every block of the shard passed its bitrot check where it lies (BitrotDetected, ShardTruncated otherwise). */
  'shard.verify': { shardId: string; blocks: ShardBlocks };
  /** Reply header nil. */
  'shard.delete': { shardId: string };
  /** No header; reply nil: the node is up. */
  'shard.ping': null;
}

export type ShardMethod = keyof ShardHeaders;

/** The call of shard method `method` with `header` (and a request body for shard.put). */
export function shardCall<M extends ShardMethod>(method: M, header: ShardHeaders[M], body?: AsyncIterable<Uint8Array>): Call {
  return body === undefined ? { method, header } : { method, header, body };
}
