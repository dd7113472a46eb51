// CompleteMultipartUpload rules (AWS API reference, CompleteMultipartUpload "Errors"):
// parts listed in ascending order, each uploaded with the given ETag, every part but the last
// at least 5 MiB; the ETag is MD5 of the concatenated binary part MD5s, '-', the part count.
import { createHash } from 'node:crypto';
import type { DataPart, ObjectRecord, PartRecord, StoredChecksum, UploadRecord } from '../meta/types.js';
import { TesseraError } from '../util/errors.js';
import { partSizeMinBytes } from '../util/limits.js';

/** A part named in the CompleteMultipartUpload body. `etag` may carry quotes. */
export interface CompletePart {
  partNumber: number;
  etag: string;
}

/** Strips surrounding quotes (clients send ETags quoted or not). */
export function unquoteEtag(etag: string): string {
  return etag.trim().replace(/^"(.*)"$/, '$1');
}

/**
 * Returns the uploaded parts matching `requested`, in order.
 * Throws InvalidPartOrder, InvalidPart (missing or ETag mismatch), EntityTooSmall.
 */
export function checkCompleteParts(requested: CompletePart[], uploaded: PartRecord[]): PartRecord[] {
  const byNumber = new Map(uploaded.map((p) => [p.partNumber, p]));
  const chosen: PartRecord[] = [];
  let previous = 0;
  for (const want of requested) {
    if (want.partNumber <= previous) {
      throw new TesseraError('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
    }
    previous = want.partNumber;
    const part = byNumber.get(want.partNumber);
    if (!part || part.etag !== unquoteEtag(want.etag)) {
      throw new TesseraError('InvalidPart', 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.', { partNumber: want.partNumber });
    }
    chosen.push(part);
  }
  chosen.forEach((part, i) => {
    if (i < chosen.length - 1 && part.sizeBytes < partSizeMinBytes) {
      throw new TesseraError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', { partNumber: part.partNumber, sizeBytes: part.sizeBytes });
    }
  });
  return chosen;
}

/** hex(MD5(concat(binary part MD5s))) + '-' + parts.length, without quotes. */
export function multipartEtag(parts: DataPart[]): string {
  const md5 = createHash('md5');
  for (const part of parts) md5.update(Buffer.from(part.etag, 'hex'));
  return `${md5.digest('hex')}-${parts.length}`;
}

/**
 * SHA-256 (32 bytes) of a CompleteMultipartUpload part list: `${partNumber}:${unquoted ETag}\n` per
 * part, in the order given. A retry of a completed upload matches its completion only with the
 * same list; a 10,000-part list is kept as these 32 bytes.
 */
export function completePartsDigest(requested: readonly CompletePart[]): Uint8Array {
  const sha = createHash('sha256');
  for (const part of requested) sha.update(`${part.partNumber}:${unquoteEtag(part.etag)}\n`);
  return sha.digest();
}

/**
 * The object record CompleteMultipartUpload makes of `upload` from its `chosen` parts (in order, as
 * checkCompleteParts returns them): the upload's headers and layout, the parts' total size, the
 * multipart ETag, `checksum` when given, and now as lastModifiedMs.
 */
export function multipartRecord(upload: UploadRecord, chosen: PartRecord[], checksum: StoredChecksum | undefined): ObjectRecord {
  const { bucket, key, uploadId: _u, initiatedMs: _i, layout, checksumAlgorithm: _a, checksumType: _t, ...headers } = upload;
  return {
    ...headers,
    bucket,
    key,
    sizeBytes: chosen.reduce((sum, p) => sum + p.sizeBytes, 0),
    etag: multipartEtag(chosen),
    lastModifiedMs: Date.now(),
    layout,
    parts: chosen.map(({ lastModifiedMs: _m, ...part }) => part),
    multipart: true,
    ...(checksum ? { checksum } : {}),
  };
}
