// Conditional requests. GET/HEAD follow RFC 7232 section 6 order, which is also what the
// GetObject API reference documents: If-Match, else If-Unmodified-Since (412); then
// If-None-Match, else If-Modified-Since (304). Copy-source conditions all fail with 412.
// Dates are HTTP-dates only (RFC 9110 5.6.7); anything else is ignored, as RFC 9110 13.1.3 says.
import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectRecord, WriteConditions } from '../meta/types.js';
import { s3Error } from './errors.js';
import { parseHttpDate } from './http-date.js';

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((item) => {
    const tag = item.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    return tag === '*' || tag === etag;
  });
}

/** Whole seconds: HTTP dates carry no milliseconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

interface ConditionNames {
  ifMatch: string;
  ifNoneMatch: string;
  ifModifiedSince: string;
  ifUnmodifiedSince: string;
}

const plain: ConditionNames = { ifMatch: 'if-match', ifNoneMatch: 'if-none-match', ifModifiedSince: 'if-modified-since', ifUnmodifiedSince: 'if-unmodified-since' };
const copySource: ConditionNames = {
  ifMatch: 'x-amz-copy-source-if-match',
  ifNoneMatch: 'x-amz-copy-source-if-none-match',
  ifModifiedSince: 'x-amz-copy-source-if-modified-since',
  ifUnmodifiedSince: 'x-amz-copy-source-if-unmodified-since',
};

/** 'ok', 'precondition' (412) or 'not-modified' (304). */
function evaluate(headers: IncomingHttpHeaders, record: ObjectRecord, names: ConditionNames): 'ok' | 'precondition' | 'not-modified' {
  const modified = seconds(record.lastModifiedMs);
  const ifMatch = header(headers, names.ifMatch);
  const ifUnmodifiedSince = parseHttpDate(header(headers, names.ifUnmodifiedSince));
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, record.etag)) return 'precondition';
  } else if (ifUnmodifiedSince !== undefined && modified > seconds(ifUnmodifiedSince)) {
    return 'precondition';
  }
  const ifNoneMatch = header(headers, names.ifNoneMatch);
  const ifModifiedSince = parseHttpDate(header(headers, names.ifModifiedSince));
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, record.etag)) return 'not-modified';
  } else if (ifModifiedSince !== undefined && modified <= seconds(ifModifiedSince)) {
    return 'not-modified';
  }
  return 'ok';
}

/** GET/HEAD: throws PreconditionFailed (412) or NotModified (304). */
export function checkReadConditions(headers: IncomingHttpHeaders, record: ObjectRecord): void {
  const result = evaluate(headers, record, plain);
  if (result === 'precondition') throw s3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  if (result === 'not-modified') throw s3Error('NotModified');
}

/** CopyObject / UploadPartCopy source: every failed condition is PreconditionFailed (412). */
export function checkCopySourceConditions(headers: IncomingHttpHeaders, record: ObjectRecord): void {
  if (evaluate(headers, record, copySource) !== 'ok') {
    throw s3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-If-Match' });
  }
}

/** PUT / CompleteMultipartUpload conditional writes (If-Match, If-None-Match: *). */
export function writeConditionsFrom(headers: IncomingHttpHeaders): WriteConditions | undefined {
  const ifMatch = header(headers, 'if-match');
  const ifNoneMatch = header(headers, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw s3Error('NotImplemented', 'If-None-Match on writes supports only *');
  }
  const out: WriteConditions = {};
  if (ifMatch !== undefined) out.ifMatch = ifMatch.trim().replace(/^"(.*)"$/, '$1');
  if (ifNoneMatch !== undefined) out.ifNoneMatch = '*';
  return out;
}
