// Object headers in and out: the standard headers S3 stores (Content-Type, -Encoding,
// -Disposition, -Language, Cache-Control, Expires) and x-amz-meta-* user metadata. Node
// decodes header bytes as latin1, so UTF-8 metadata is re-decoded here and written back as
// its UTF-8 bytes: clients get exactly the bytes they sent.
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

/** latin1-decoded header value -> the UTF-8 text the client sent. */
export function headerToUtf8(value: string): string {
  return /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

/** UTF-8 text -> a string whose latin1 bytes are its UTF-8 encoding (for setHeader). */
export function utf8ToHeader(value: string): string {
  return /[^\x00-\x7f]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** Reads the storable headers of a PUT / CreateMultipartUpload / CopyObject(REPLACE). Throws MetadataTooLarge. */
export function objectHeadersFrom(headers: IncomingHttpHeaders): ObjectHeaders {
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith(metaPrefix) || raw === undefined) continue;
    const value = headerToUtf8(Array.isArray(raw) ? raw.join(',') : raw);
    const shortName = name.slice(metaPrefix.length);
    userMetadata[shortName] = value;
    metaBytes += Buffer.byteLength(shortName) + Buffer.byteLength(value);
  }
  if (metaBytes > userMetadataMaxBytes) {
    throw s3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size (${userMetadataMaxBytes} bytes).`);
  }
  const out: ObjectHeaders = { userMetadata };
  const set = (field: keyof Omit<ObjectHeaders, 'userMetadata'>, header: string): void => {
    const value = single(headers, header);
    if (value !== undefined) out[field] = headerToUtf8(value);
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
    'Content-Type': utf8ToHeader(record.contentType ?? 'binary/octet-stream'),
  };
  if (record.contentEncoding) headers['Content-Encoding'] = utf8ToHeader(record.contentEncoding);
  if (record.contentDisposition) headers['Content-Disposition'] = utf8ToHeader(record.contentDisposition);
  if (record.contentLanguage) headers['Content-Language'] = utf8ToHeader(record.contentLanguage);
  if (record.cacheControl) headers['Cache-Control'] = utf8ToHeader(record.cacheControl);
  if (record.expires) headers['Expires'] = utf8ToHeader(record.expires);
  for (const [name, value] of Object.entries(record.userMetadata)) headers[`x-amz-meta-${name}`] = utf8ToHeader(value);
  if (withChecksum && record.checksum) {
    headers[checksumHeaderName(record.checksum.algorithm)] = record.checksum.value;
    headers['x-amz-checksum-type'] = record.checksum.type;
  }
  return headers;
}
