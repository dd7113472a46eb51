// The shard store contract: named byte files ("shards") with atomic creation. The object layer
// never asks whether a store is local or remote; the local filesystem implementation is
// local-shard-store.ts, a remote one (over the transport) comes with the cluster.

/** Streams one shard file into place. Nothing is visible under the shard id before commit(). */
export interface ShardWriter {
  /** Appends bytes; resolves when the OS accepted them (not yet durable). */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * fsyncs the temp file, waits for `beforeRename` (if given), renames the file to its shard id
   * and fsyncs the directory: durable after. A rejected `beforeRename` aborts the writer.
   */
  commit(beforeRename?: Promise<unknown>): Promise<void>;
  /** Removes the temp file; safe to call after a failed write or twice. */
  abort(): Promise<void>;
  /** Bytes written so far. */
  readonly sizeBytes: number;
}

/**
 * The block geometry of a shard file (erasure/stripe.ts): `count` blocks, each stored as
 * [8-byte bitrot hash][data]; every block holds `blockBytes` data bytes but the last, which holds
 * `lastBlockBytes` (1..blockBytes). A shard of an empty part has count 0.
 */
export interface ShardBlocks {
  count: number;
  blockBytes: number;
  lastBlockBytes: number;
}

/**
 * Shard ids are `[A-Za-z0-9._-]+` (no path separators). Errors (TesseraError codes):
 * ShardNotFound (no such shard), ShardTruncated (a read past its end), StorageIOError.
 */
export interface ShardStore {
  /** Opens a temp file for a new shard; an existing shard with the id is replaced on commit. */
  createWriter(shardId: string): Promise<ShardWriter>;
  /** Reads exactly `lengthBytes` from `offsetBytes`; throws ShardNotFound or ShardTruncated. */
  readRange(shardId: string, offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  /**
   * Reads every block of a committed shard where it is stored and checks its bitrot hash (a
   * rebuild's read-back, scrub): no shard bytes cross the network. Throws BitrotDetected (a block
   * fails its hash), ShardTruncated (the file ends early), ShardNotFound, StorageIOError.
   */
  verifyBlocks(shardId: string, blocks: ShardBlocks): Promise<void>;
  /** Size of a committed shard, or undefined when absent. */
  stat(shardId: string): Promise<{ sizeBytes: number } | undefined>;
  /** Deletes a shard; no error when it is absent. */
  delete(shardId: string): Promise<void>;
  /** Every committed shard id in byte order, or those after `after` (to resume a walk). */
  list(after?: string): AsyncIterable<string>;
  /** Removes temp files left by writers that never committed (run at start-up); returns count. */
  cleanTemp(): Promise<number>;
  close(): Promise<void>;
}

/** The erasure set geometry new data is written with. */
export interface ErasureSetFormat {
  dataShards: number;
  parityShards: number;
}

/**
 * Where shards live: one node's drives (DriveSet) or the cluster's nodes (ClusterShardStores).
 * Ids in a data item's placement ("drive ids") name a drive or a node; store() resolves them.
 */
export interface ShardStoreSet {
  readonly format: ErasureSetFormat;
  /** The store holding shards placed on `driveId`, local or remote; undefined when offline or unknown. */
  store(driveId: string): ShardStore | undefined;
  /**
   * The drive (or node) ids for shards 0..k+m-1 of a new data item, length k + m, all distinct.
   * `placementKey` is `${bucket}/${key}`: in a cluster every data item of an object goes to the
   * nodes that also keep its metadata; a single node's drives rotate by `dataId` instead.
   */
  placement(dataId: string, placementKey: string): string[];
  /** This node's own stores (crash recovery cleans their temp files). */
  localStores(): ShardStore[];
}
