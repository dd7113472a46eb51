// The metadata contract the object layer writes through. Every mutating call is one LMDB
// write transaction and resolves only after the transaction is durable (synced) on disk: that
// commit is the point at which a write becomes visible and acknowledged.
import type {
  BucketRecord, CompletedUpload, DataRef, ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage,
  DataOwner, ListUploadsQuery, ObjectRecord, ObjectVersion, PartRecord, RepairEntry, Tombstone, UploadRecord, WriteConditions,
} from './types.js';

/**
 * Buckets, current object versions, multipart uploads and two durable queues:
 * - pending: data items being written; at start-up anything still pending is garbage
 *   (its writer crashed before commit), so its shard files are deleted and the entry removed.
 * - gc: data items no longer referenced (overwritten, deleted, aborted, unused parts); their
 *   shard files are deleted in the background and the entry removed afterwards.
 *
 * Errors (TesseraError codes): NoSuchBucket, BucketAlreadyOwnedByYou, BucketNotEmpty,
 * NoSuchUpload, PreconditionFailed (WriteConditions not met).
 */
export interface MetaStore {
  close(): Promise<void>;

  getBucket(name: string): Promise<BucketRecord | undefined>;
  /** Buckets in name order. */
  listBuckets(): Promise<BucketRecord[]>;
  /** Throws BucketAlreadyOwnedByYou when it exists. */
  createBucket(record: BucketRecord): Promise<void>;
  /**
   * Throws NoSuchBucket, or BucketNotEmpty when it holds objects. In-progress multipart
   * uploads are aborted with it (their parts go to gc).
   */
  deleteBucket(name: string): Promise<void>;

  getObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /**
   * Atomically: checks the bucket exists (NoSuchBucket) and `conditions` against the current
   * record (PreconditionFailed), stores `record`, removes `record`'s dataIds from pending, and
   * moves the replaced record's data to gc. Returns the replaced record.
   */
  putObject(record: ObjectRecord, conditions?: WriteConditions): Promise<ObjectRecord | undefined>;
  /** Removes the record (no error when absent) and moves its data to gc; returns it. */
  deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** Throws NoSuchBucket. */
  listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage>;

  /** Throws NoSuchBucket. */
  createUpload(record: UploadRecord): Promise<void>;
  getUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | undefined>;
  /**
   * Throws NoSuchUpload. Stores the part (replacing one with the same number, whose data goes
   * to gc) and removes its dataId from pending.
   */
  putPart(bucket: string, key: string, uploadId: string, part: PartRecord): Promise<void>;
  /** Parts with number > partNumberMarker, ascending, at most maxParts. Throws NoSuchUpload. */
  listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsPage>;
  /** All parts of an upload in number order (for CompleteMultipartUpload). Throws NoSuchUpload. */
  getParts(bucket: string, key: string, uploadId: string): Promise<PartRecord[]>;
  /** Throws NoSuchBucket. Uploads ordered by (key, initiatedMs, uploadId). */
  listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage>;
  /**
   * Atomically: checks the upload exists (NoSuchUpload) and `conditions`, stores `record` as
   * the object, moves parts not in `record.parts` and the replaced object's data to gc, removes
   * the upload and its parts, and stores the upload's CompletedUpload (with `partsDigest`, the
   * 32-byte digest of the requested part list). Returns the replaced record.
   */
  completeUpload(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array, conditions?: WriteConditions): Promise<ObjectRecord | undefined>;
  /**
   * The completion of upload `uploadId` of bucket/key while it is kept (completedUploadKeepMs,
   * completedUploadsMax), else undefined. Cluster: throws ReadQuorumNotMet.
   */
  getCompletedUpload(bucket: string, key: string, uploadId: string): Promise<CompletedUpload | undefined>;
  /**
   * This node's sweep of completion records: removes, oldest first, those completed before
   * `olderThanMs` (ms since the Unix epoch), then any beyond `keepMax`; at most `batchMax` (>= 1)
   * in one transaction. Returns how many it removed (batchMax: call again).
   */
  expireCompletedUploads(olderThanMs: number, keepMax: number, batchMax: number): Promise<number>;
  /** Throws NoSuchUpload; moves all parts' data to gc and removes the upload. */
  abortUpload(bucket: string, key: string, uploadId: string): Promise<void>;

  /** Records data about to be written (before any shard file is created). */
  addPending(ref: DataRef): Promise<void>;
  /** Moves a pending item straight to gc (its write failed). */
  abandonPending(dataId: string): Promise<void>;
  listPending(): DataRef[];
  /** Data items awaiting deletion in dataId order, at most `limit`, after `afterDataId` when given. */
  listGc(limit: number, afterDataId?: string): DataRef[];
  /** Removes gc entries after their shard files are deleted. */
  removeGc(dataIds: string[]): Promise<void>;

  /** Queues shards to rebuild (reads that met a bad shard, writes that missed a drive); deduplicated. */
  addRepairs(entries: readonly RepairEntry[]): Promise<void>;
  /** The object whose current record (on this node) references data item `dataId`, or undefined. */
  objectOfData(dataId: string): DataOwner | undefined;
  /** Queued repairs, at most `limit`, in (dataId, shardIndex) order, after `after` when given. */
  listRepairs(limit: number, after?: Pick<RepairEntry, 'dataId' | 'shardIndex'>): RepairEntry[];
  /** Removes repairs once their shards are rebuilt. */
  removeRepairs(entries: readonly Pick<RepairEntry, 'dataId' | 'shardIndex'>[]): Promise<void>;
}

/**
 * Order of two versions of a key under last-writer-wins: by lastModifiedMs, then writer node id
 * (byte order), so every replica picks the same winner, then layoutVersion (a record the
 * rebalancer moved replaces its unmoved copy). Positive when `a` is newer.
 */
export function compareVersions(a: VersionStamp, b: VersionStamp): number {
  if (a.lastModifiedMs !== b.lastModifiedMs) return a.lastModifiedMs - b.lastModifiedMs;
  const wa = a.writer ?? '';
  const wb = b.writer ?? '';
  if (wa !== wb) return wa < wb ? -1 : 1;
  return (a.layoutVersion ?? 0) - (b.layoutVersion ?? 0);
}

/**
 * What orders versions of a key: time, writer, and for the same version moved by a layout change
 * (same time and writer, new placement), the layout version it was placed under.
 */
export interface VersionStamp {
  lastModifiedMs: number;
  writer?: string;
  layoutVersion?: number;
}

/**
 * What a cluster replica applies on behalf of another node's gateway. The gateway already checked
 * buckets and conditions, so these never throw NoSuchBucket or PreconditionFailed: a replica
 * that missed a bucket or an upload still keeps the object. Versions are last-writer-wins
 * (compareVersions); an older version than the replica holds is ignored (returns undefined).
 */
export interface MetaReplica extends MetaStore {
  /** The replica's live record or tombstone for the key. */
  getObjectVersion(bucket: string, key: string): Promise<ObjectVersion>;
  /** Stores `record` when newer than the replica's version; returns the live record it replaced. */
  applyObject(record: ObjectRecord): Promise<ObjectRecord | undefined>;
  /** Replaces the key with `tombstone` when newer; returns the live record it removed. */
  applyDelete(tombstone: Tombstone): Promise<ObjectRecord | undefined>;
  /**
   * completeUpload when this replica has the upload, else applyObject; LWW either way. The
   * CompletedUpload is stored in the same transaction whether or not the record wins.
   */
  applyCompleteUpload(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array): Promise<ObjectRecord | undefined>;
  /** Creates the bucket record when absent (no error when it exists). */
  applyBucket(record: BucketRecord): Promise<void>;
  /** Drops pending entries without collecting their data (a cluster gateway, before publishing them). */
  removePending(dataIds: readonly string[]): Promise<void>;
  /** Drops this replica's record of a key it no longer homes when not newer than `upTo`; no gc, no tombstone. */
  dropObject(bucket: string, key: string, upTo: VersionStamp): Promise<boolean>;
  /** Tombstones at this replica, at most `limit` (for tests and the future scanner). */
  listTombstones(limit: number): Tombstone[];
}
