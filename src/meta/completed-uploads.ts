// Completed multipart uploads, kept so a retried CompleteMultipartUpload gets its first answer:
// one record per upload id, plus a time index (completedMs, uploadId) that the sweep walks oldest
// first. Both are written inside the caller's LMDB transaction, next to the object record.
import type { Database } from 'lmdb';
import { assert } from '../util/assert.js';
import { completionTimeKey, uploadIdKey } from './keys.js';
import type { CompletedUpload, ObjectRecord } from './types.js';

/** Bytes of a completion's partsDigest (SHA-256). */
export const partsDigestBytes = 32;

/**
 * The completion record of `record`, made from upload `uploadId` with the requested part list
 * whose digest is `partsDigest` (32 bytes). Undefined when partsDigest is missing or malformed
 * (a peer that does not send one): nothing is recorded then, and a retry answers NoSuchUpload.
 */
export function completionOf(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array | undefined): CompletedUpload | undefined {
  if (!(partsDigest instanceof Uint8Array) || partsDigest.length !== partsDigestBytes) return undefined;
  return {
    uploadId, bucket: record.bucket, key: record.key, etag: record.etag,
    ...(record.checksum ? { checksum: record.checksum } : {}),
    partsDigest, completedMs: record.lastModifiedMs,
  };
}

/** The two sub-databases of completed uploads; every method runs in the caller's transaction or read snapshot. */
export class CompletedUploads {
  constructor(
    private readonly byId: Database<CompletedUpload, Buffer>,
    private readonly byTime: Database<boolean, Buffer>,
  ) {}

  /** Stores `completion`, replacing an earlier record of the same upload id (and its time entry). */
  put(completion: CompletedUpload): void {
    assert(completion.partsDigest.length === partsDigestBytes, 'partsDigest is a SHA-256');
    const id = uploadIdKey(completion.uploadId);
    const previous = this.byId.get(id);
    if (previous !== undefined) this.byTime.removeSync(completionTimeKey(previous.completedMs, previous.uploadId));
    this.byId.putSync(id, completion);
    this.byTime.putSync(completionTimeKey(completion.completedMs, completion.uploadId), true);
  }

  /** The completion of upload `uploadId` when it belongs to bucket/key, else undefined. */
  get(bucket: string, key: string, uploadId: string): CompletedUpload | undefined {
    const found = this.byId.get(uploadIdKey(uploadId));
    return found !== undefined && found.bucket === bucket && found.key === key ? found : undefined;
  }

  /** Records kept (LMDB's entry count: no scan). */
  count(): number {
    return this.byTime.getCount();
  }

  /** True when expire(olderThanMs, keepMax, ...) would remove something (a read, so the sweep commits nothing when idle). */
  hasExpired(olderThanMs: number, keepMax: number): boolean {
    if (this.count() > keepMax) return true;
    const [oldest] = [...this.byTime.getKeys({ limit: 1 })];
    return oldest !== undefined && completedMsOf(oldest) < olderThanMs;
  }

  /**
   * Removes, oldest first, records completed before `olderThanMs` (ms since the Unix epoch) and
   * then any beyond `keepMax`, at most `batchMax` (>= 1) of them. Returns how many were removed.
   */
  expire(olderThanMs: number, keepMax: number, batchMax: number): number {
    assert(Number.isInteger(batchMax) && batchMax >= 1, 'expire batchMax is a positive integer');
    let left = this.count();
    let removed = 0;
    for (const timeKey of [...this.byTime.getKeys({ limit: batchMax })]) {
      if (completedMsOf(timeKey) >= olderThanMs && left <= keepMax) break;
      const uploadId = timeKey.subarray(8).toString('utf8');
      this.byTime.removeSync(timeKey);
      this.byId.removeSync(uploadIdKey(uploadId));
      left--;
      removed++;
    }
    return removed;
  }
}

/** The completedMs a time-index key starts with. */
function completedMsOf(timeKey: Buffer): number {
  return Number(timeKey.readBigUInt64BE(0));
}
