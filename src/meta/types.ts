// Records kept in LMDB. They are plain JSON-able objects (msgpack-encoded by lmdb-js);
// every field documents its unit. Object data is referenced by `dataId`: shard i of a data
// item lives in the shard store under `${dataId}.${i}` (see src/object/layout.ts).

/** Flexible checksum algorithms (AWS "Checking object integrity" page). */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';
/** COMPOSITE = checksum of part checksums with "-N"; FULL_OBJECT = checksum of the whole content. */
export type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** A stored flexible checksum. `value` is base64 of the digest (COMPOSITE values end in "-N"). */
export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
  value: string;
}

/**
 * How an object's bytes are cut and protected: each stripe of up to blockSizeBytes of data is
 * split into dataShards shard blocks of ceil(blockSizeBytes / dataShards) bytes (the last stripe
 * smaller) plus parityShards Reed-Solomon parity blocks; shard i of every stripe goes to shard
 * file i. Single drive: 1 + 0.
 */
export interface DataLayout {
  /** Object bytes per stripe (the unit of bitrot checks and erasure coding). */
  blockSizeBytes: number;
  dataShards: number;
  parityShards: number;
  /** Bitrot hash stored before every shard block. */
  bitrot: 'xxh3-64';
}

/** One contiguous piece of object data: a single PUT has one, a multipart object one per part. */
export interface DataPart {
  partNumber: number;
  sizeBytes: number;
  /** Hex MD5 of this part's bytes, without quotes. */
  etag: string;
  /** Names the shard files holding this part: shard i is `${dataId}.${i}`. */
  dataId: string;
  /** Drive id holding shard i, length dataShards + parityShards; empty when inline. */
  drives: string[];
  /** The bytes themselves when small enough to live in the metadata (no shard files). */
  inline?: Uint8Array;
  /** XXH3-64 of `inline` (8 bytes), checked on every read. */
  inlineHash?: Uint8Array;
  /** The part's own flexible checksum when the client sent one (base64). */
  checksum?: StoredChecksum;
}

/** Standard headers stored with an object and returned by GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  /** Raw Expires header value as sent. */
  expires?: string;
  /** x-amz-meta-* without the prefix; names lower-case; values RFC 2047-decoded, as UTF-8 bytes in a latin1 string (s3/user-metadata.ts). */
  userMetadata: Record<string, string>;
}

/** The current version of an object (buckets are unversioned: versionId 'null'). */
export interface ObjectRecord extends ObjectHeaders {
  bucket: string;
  key: string;
  sizeBytes: number;
  /** Without quotes: hex MD5, or for multipart hex MD5 of part MD5s + '-' + part count. */
  etag: string;
  /** Milliseconds since the Unix epoch. */
  lastModifiedMs: number;
  layout: DataLayout;
  /** In part-number order; their sizes add up to sizeBytes. */
  parts: DataPart[];
  /** True when the object was made by CompleteMultipartUpload (GET partNumber addresses parts). */
  multipart: boolean;
  checksum?: StoredChecksum;
  /**
   * Cluster only: the node whose gateway wrote this version. With lastModifiedMs it orders
   * versions (last writer wins on (lastModifiedMs, writer)) identically on every replica.
   */
  writer?: string;
  /** Cluster only: the layout version the placement in parts[].drives was computed under. */
  layoutVersion?: number;
}

/** A deleted key at a replica: kept so an older record arriving late cannot bring it back. */
export interface Tombstone {
  bucket: string;
  key: string;
  /** When the delete happened, ms since the Unix epoch (the gateway's clock). */
  lastModifiedMs: number;
  /** Node whose gateway deleted it. */
  writer: string;
}

/** One replica's view of a key: its live record, its tombstone, or neither. */
export interface ObjectVersion {
  record?: ObjectRecord;
  tombstone?: Tombstone;
}

/** Bucket record. */
export interface BucketRecord {
  name: string;
  /** Milliseconds since the Unix epoch. */
  createdMs: number;
  /** Region given at creation (LocationConstraint), '' for us-east-1 default. */
  location: string;
}

/** An in-progress multipart upload. */
export interface UploadRecord extends ObjectHeaders {
  bucket: string;
  key: string;
  uploadId: string;
  /** Milliseconds since the Unix epoch. */
  initiatedMs: number;
  layout: DataLayout;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: ChecksumType;
}

/**
 * A multipart upload that completed, kept for completedUploadKeepMs (at most completedUploadsMax
 * per node) so a retried CompleteMultipartUpload gets the first answer again. Written in the same
 * transaction as the object record it made. Compact: the requested part list (up to 10,000 parts)
 * is kept only as its digest.
 */
export interface CompletedUpload {
  uploadId: string;
  bucket: string;
  key: string;
  /** The object's ETag, without quotes. */
  etag: string;
  checksum?: StoredChecksum;
  /** SHA-256 of the requested part list (completePartsDigest in object/multipart-rules.ts), 32 bytes. */
  partsDigest: Uint8Array;
  /** When it completed: the object record's lastModifiedMs, ms since the Unix epoch. */
  completedMs: number;
}

/** An uploaded part of an in-progress multipart upload. */
export interface PartRecord extends DataPart {
  /** Milliseconds since the Unix epoch. */
  lastModifiedMs: number;
}

/** Shard files that exist (or may exist) on disk for a data item, for crash recovery and GC. */
export interface DataRef {
  dataId: string;
  /** Shard ids in the shard store, e.g. [`${dataId}.0`]. */
  shardIds: string[];
  /** Drive id holding shardIds[i] (same length). */
  drives: string[];
}

/** The object a data item belongs to (the dataId -> object index). */
export interface DataOwner {
  bucket: string;
  key: string;
}

/** What a scan covers: one bucket, or the keys under `prefix` in it (`s3d admin heal bucket[/prefix]`). */
export interface ScanScope {
  bucket: string;
  /** Key prefix within the bucket; '' or absent = the whole bucket. */
  prefix?: string;
}

/** Why a shard needs rebuilding. */
export type RepairReason = 'missing' | 'corrupt' | 'write-failed';

/** A shard the reconstructor must rebuild (durable repair queue, deduplicated per shard). */
export interface RepairEntry {
  dataId: string;
  shardIndex: number;
  /** Drive the shard belongs on. */
  driveId: string;
  reason: RepairReason;
  bucket: string;
  key: string;
  /** Milliseconds since the Unix epoch when first recorded. */
  recordedMs: number;
}

/** Conditions checked inside the commit transaction (AWS conditional writes). */
export interface WriteConditions {
  /** Commit only if the current ETag equals this (unquoted); '*' = any object exists. */
  ifMatch?: string;
  /** '*' = commit only if no object exists at the key. */
  ifNoneMatch?: string;
}

/** Listing input (ListObjects v1/v2 semantics; the S3 layer maps marker/token/start-after). */
export interface ListObjectsQuery {
  prefix: string;
  /** '' = no delimiter. */
  delimiter: string;
  /** List keys strictly greater than this ('' = from the start). */
  startAfter: string;
  /** 0..1000; 0 returns nothing but IsTruncated per AWS. */
  maxKeys: number;
}

/** One page of a listing, in UTF-8 binary key order, objects and prefixes interleaved by order. */
export interface ListObjectsPage {
  objects: ObjectRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned (use as next startAfter) when truncated. */
  nextStartAfter?: string;
}

export interface ListUploadsQuery {
  prefix: string;
  delimiter: string;
  keyMarker: string;
  uploadIdMarker: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface ListPartsPage {
  parts: PartRecord[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}
