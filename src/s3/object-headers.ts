// Object headers in and out: the standard headers S3 stores (Content-Type, -Encoding,
// -Disposition, -Language, Cache-Control, Expires) and x-amz-meta-* user metadata. Node hands
// header bytes over as latin1 strings and writes latin1 strings back as the same bytes, so
// values are stored exactly as received: UTF-8 (boto3, curl) and latin1 (Node's http client)
// metadata both come back byte for byte. Sizes are counted in those bytes.
import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectHeaders, ObjectRecord } from '../meta/types.js';
import { userMetadataMaxBytes } from '../util/limits.js';
import { checksumHeaderName } from './checksum.js';
import { s3Error } from './errors.js';

const metaPrefix = 'x-amz-meta-';

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Reads the storable headers of a PUT / CreateMultipartUpload / CopyObject(REPLACE). Throws MetadataTooLarge. */
export function objectHeadersFrom(headers: IncomingHttpHeaders): ObjectHeaders {
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(metaPrefix) || raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    const shortName = name.slice(metaPrefix.length);
    userMetadata[shortName] = value;
    metaBytes += Buffer.byteLength(shortName, 'latin1') + Buffer.byteLength(value, 'latin1');
  }
  if (metaBytes > userMetadataMaxBytes) {
    throw s3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size (${userMetadataMaxBytes} bytes).`);
  }
  const out: ObjectHeaders = { userMetadata };
  const set = (field: keyof Omit<ObjectHeaders, 'userMetadata'>, header: string): void => {
    const value = single(headers, header);
    if (value !== undefined) out[field] = value;
  };
  set('contentType', 'content-type');
  set('contentEncoding', 'content-encoding');
  set('contentDisposition', 'content-disposition');
  set('contentLanguage', 'content-language');
  set('cacheControl', 'cache-control');
  set('expires', 'expires');
  // aws-chunked is a transfer detail, not the object's encoding (AWS strips it too).
  if (out.contentEncoding !== undefined) {
    const kept = out.contentEncoding.split(',').map((s) => s.trim()).filter((s) => s !== '' && s !== 'aws-chunked');
    if (kept.length === 0) delete out.contentEncoding;
    else out.contentEncoding = kept.join(',');
  }
  return out;
}

/** RFC 7231 IMF-fixdate of a millisecond timestamp. */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** ISO 8601 with milliseconds, as S3 listings use. */
export function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

/** Response headers describing an object (GET, HEAD). Checksums only when asked for. */
export function objectResponseHeaders(record: ObjectRecord, withChecksum: boolean): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    'ETag': `"${record.etag}"`,
    'Last-Modified': httpDate(record.lastModifiedMs),
    'Accept-Ranges': 'bytes',
    'Content-Type': record.contentType ?? 'binary/octet-stream',
  };
  if (record.contentEncoding) headers['Content-Encoding'] = record.contentEncoding;
  if (record.contentDisposition) headers['Content-Disposition'] = record.contentDisposition;
  if (record.contentLanguage) headers['Content-Language'] = record.contentLanguage;
  if (record.cacheControl) headers['Cache-Control'] = record.cacheControl;
  if (record.expires) headers['Expires'] = record.expires;
  for (const [name, value] of Object.entries(record.userMetadata)) headers[`x-amz-meta-${name}`] = value;
  if (withChecksum && record.checksum) {
    headers[checksumHeaderName(record.checksum.algorithm)] = record.checksum.value;
    headers['x-amz-checksum-type'] = record.checksum.type;
  }
  return headers;
}
