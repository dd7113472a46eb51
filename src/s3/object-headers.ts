// Object headers in and out: the standard headers S3 stores (Content-Type, -Encoding,
// -Disposition, -Language, Cache-Control, Expires) and x-amz-meta-* user metadata. Node hands
// header bytes over as latin1 strings and writes latin1 strings back as the same bytes, so the
// standard headers are stored and returned byte for byte as sent (empty values included; a
// repeated header is its values joined with ',', as SigV4 canonicalizes it), except that the
// aws-chunked token leaves Content-Encoding. User metadata follows user-metadata.ts (RFC 2047).
import type { IncomingHttpHeaders } from 'node:http';
import type { ObjectHeaders, ObjectRecord } from '../meta/types.js';
import { userMetadataMaxBytes } from '../util/limits.js';
import { checksumHeaderName } from './checksum.js';
import { s3Error } from './errors.js';
import { metadataResponseValue, storedMetadataValue } from './user-metadata.js';

const metaPrefix = 'x-amz-meta-';

/** A request's header lines: lower-case names and values as received (IncomingMessage has both). */
export interface RequestHeaderLines {
  headers: IncomingHttpHeaders;
  /** Alternating names and values as sent; repeated headers appear once per line. */
  rawHeaders: string[];
}

/** Every header's lines joined with ',' (Node itself drops repeated Content-Type and Expires). */
function joinedHeaders(request: RequestHeaderLines): Map<string, string> {
  const joined = new Map<string, string>();
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    const value = request.rawHeaders[i + 1]!;
    const previous = joined.get(name);
    joined.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  return joined;
}

/**
 * Content-Encoding without the aws-chunked token (a transfer detail: AWS "Signature Calculations
 * for the Authorization Header: Transferring Payload in Multiple Chunks" says S3 stores the object
 * without it, and without the header at all when it was the only value). Otherwise byte for byte.
 */
export function storedContentEncoding(value: string): string | undefined {
  const items = value.split(',');
  if (!items.some((item) => item.trim().toLowerCase() === 'aws-chunked')) return value;
  const kept = items.filter((item) => item.trim().toLowerCase() !== 'aws-chunked').join(',').trim();
  return kept === '' ? undefined : kept;
}

/**
 * Reads the storable headers of a PUT / CreateMultipartUpload / CopyObject(REPLACE) from the
 * request's raw header lines. Throws MetadataTooLarge past userMetadataMaxBytes (counted in
 * UTF-8 bytes of names and decoded values, as AWS counts).
 */
export function objectHeadersFrom(request: RequestHeaderLines): ObjectHeaders {
  const lines = joinedHeaders(request);
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, raw] of lines) {
    if (!name.startsWith(metaPrefix)) continue;
    const value = storedMetadataValue(raw);
    const shortName = name.slice(metaPrefix.length);
    userMetadata[shortName] = value;
    metaBytes += Buffer.byteLength(shortName, 'latin1') + Buffer.byteLength(value, 'latin1');
  }
  if (metaBytes > userMetadataMaxBytes) {
    throw s3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size (${userMetadataMaxBytes} bytes).`);
  }
  const out: ObjectHeaders = { userMetadata };
  const set = (field: keyof Omit<ObjectHeaders, 'userMetadata'>, header: string): void => {
    const value = lines.get(header);
    if (value !== undefined) out[field] = value;
  };
  set('contentType', 'content-type');
  set('contentDisposition', 'content-disposition');
  set('contentLanguage', 'content-language');
  set('cacheControl', 'cache-control');
  set('expires', 'expires');
  const encoding = lines.get('content-encoding');
  const storedEncoding = encoding === undefined ? undefined : storedContentEncoding(encoding);
  if (storedEncoding !== undefined) out.contentEncoding = storedEncoding;
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
  const stored: Array<[string, string | undefined]> = [
    ['Content-Encoding', record.contentEncoding],
    ['Content-Disposition', record.contentDisposition],
    ['Content-Language', record.contentLanguage],
    ['Cache-Control', record.cacheControl],
    ['Expires', record.expires],
  ];
  for (const [name, value] of stored) if (value !== undefined) headers[name] = value;
  for (const [name, value] of Object.entries(record.userMetadata)) headers[`x-amz-meta-${name}`] = metadataResponseValue(value);
  if (withChecksum && record.checksum) {
    headers[checksumHeaderName(record.checksum.algorithm)] = record.checksum.value;
    headers['x-amz-checksum-type'] = record.checksum.type;
  }
  return headers;
}
