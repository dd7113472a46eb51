// Rules every metadata write applies, as small named functions: AWS write conditions, the gc
// reference of replaced data, and assertions on what the object layer hands in.
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { listKeysMax } from '../util/limits.js';
import { assertObjectKey } from './keys.js';
import type { DataPart, DataRef, ObjectRecord, WriteConditions } from './types.js';

/**
 * Throws PreconditionFailed unless `current` satisfies `conditions` (AWS conditional writes):
 * ifMatch '*' needs an object, otherwise its ETag; ifNoneMatch '*' needs no object, otherwise a
 * different ETag. ETags are compared unquoted.
 */
export function checkConditions(current: ObjectRecord | undefined, conditions: WriteConditions | undefined, target: ObjectRecord): void {
  if (conditions === undefined) return;
  const { ifMatch, ifNoneMatch } = conditions;
  const matchOk = ifMatch === undefined || (current !== undefined && (ifMatch === '*' || ifMatch === current.etag));
  const noneMatchOk = ifNoneMatch === undefined || current === undefined || (ifNoneMatch !== '*' && ifNoneMatch !== current.etag);
  if (!matchOk || !noneMatchOk) {
    throw new TesseraError('PreconditionFailed', 'write condition not met', { bucket: target.bucket, key: target.key });
  }
}

/** Shard files of a data part: `${dataId}.${i}` on drives[i]; none when the part is inline. */
export function dataRefOf(part: DataPart): DataRef {
  if (part.inline !== undefined) return { dataId: part.dataId, shardIds: [], drives: [] };
  return { dataId: part.dataId, shardIds: part.drives.map((_, i) => `${part.dataId}.${i}`), drives: [...part.drives] };
}

/** Asserts a max-keys / max-uploads / max-parts value in 0..listKeysMax (the S3 layer clamps). */
export function assertPageSize(max: number): void {
  assert(Number.isInteger(max) && max >= 0 && max <= listKeysMax, 'page size is an integer in 0..listKeysMax');
}

/** Asserts a record the object layer built: a valid key and parts adding up to sizeBytes. */
export function assertObjectRecord(record: ObjectRecord): void {
  assertObjectKey(record.key);
  const total = record.parts.reduce((sum, part) => sum + part.sizeBytes, 0);
  assert(total === record.sizeBytes, 'object parts add up to sizeBytes');
}
