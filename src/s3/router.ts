// Request -> (bucket, key, operation). Virtual-host-style when the Host header is
// <bucket>.<one of the configured domains>, path-style otherwise (AWS "Virtual hosting of
// buckets"). Operation names are the S3 API action names, used in logs.
import { s3Error } from './errors.js';
import { bucketConfigOperation } from './ops/bucket-config.js';

/** The addressed bucket and key (both undefined for service-level requests). */
export interface Target {
  bucket: string | undefined;
  key: string | undefined;
  /** True when the bucket came from the Host header. */
  virtualHost: boolean;
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw s3Error('InvalidURI');
  }
}

/**
 * Resolves bucket and key from the Host header and raw (percent-encoded) path.
 * Throws InvalidURI for bad percent-encoding.
 */
export function resolveTarget(host: string | undefined, rawPath: string, domains: readonly string[]): Target {
  const hostName = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  // Longest suffix first: with domains [localhost, s3.localhost], b.s3.localhost is bucket b.
  for (const domain of [...domains].sort((a, b) => b.length - a.length)) {
    const suffix = `.${domain.toLowerCase()}`;
    if (hostName.endsWith(suffix) && hostName.length > suffix.length) {
      const bucket = hostName.slice(0, -suffix.length);
      const key = rawPath.length > 1 ? decodePath(rawPath.slice(1)) : undefined;
      return { bucket, key, virtualHost: true };
    }
  }
  const path = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath;
  if (path === '') return { bucket: undefined, key: undefined, virtualHost: false };
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodePath(path), key: undefined, virtualHost: false };
  const key = path.slice(slash + 1);
  return { bucket: decodePath(path.slice(0, slash)), key: key === '' ? undefined : decodePath(key), virtualHost: false };
}

const unsupportedObjectResources = ['tagging', 'acl', 'retention', 'legal-hold', 'torrent', 'restore', 'select', 'attributes'];

/** Names the S3 operation for a request. Throws MethodNotAllowed / NotImplemented. */
export function operationOf(method: string, target: Target, query: URLSearchParams, headers: Record<string, string | string[] | undefined>): string {
  const has = (name: string): boolean => query.has(name);
  if (!target.bucket) {
    if (method === 'GET') return 'ListBuckets';
    throw s3Error('MethodNotAllowed');
  }
  if (target.key === undefined) {
    // Configuration sub-resources first, so none of them can fall through to ListObjects,
    // CreateBucket or DeleteBucket.
    const config = bucketConfigOperation(method, query);
    if (config !== undefined) return config;
    switch (method) {
      case 'GET':
        if (has('location')) return 'GetBucketLocation';
        if (has('versioning')) return 'GetBucketVersioning';
        if (has('acl')) return 'GetBucketAcl';
        if (has('uploads')) return 'ListMultipartUploads';
        if (has('versions')) return 'ListObjectVersions';
        if (query.get('list-type') === '2') return 'ListObjectsV2';
        return 'ListObjects';
      case 'HEAD': return 'HeadBucket';
      case 'PUT':
        if (has('acl')) return 'PutBucketAcl';
        if (has('versioning')) return 'UnsupportedBucketResource';
        return 'CreateBucket';
      case 'DELETE': return 'DeleteBucket';
      case 'POST':
        if (has('delete')) return 'DeleteObjects';
        throw s3Error('MethodNotAllowed');
      default: throw s3Error('MethodNotAllowed');
    }
  }
  if (has('acl') && method === 'GET') return 'GetObjectAcl';
  if (has('acl') && method === 'PUT') return 'PutObjectAcl';
  if (unsupportedObjectResources.some(has)) return 'UnsupportedObjectResource';
  switch (method) {
    case 'GET': return has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD': return 'HeadObject';
    case 'PUT':
      if (has('partNumber') && has('uploadId')) return headers['x-amz-copy-source'] ? 'UploadPartCopy' : 'UploadPart';
      return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
    case 'DELETE': return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      if (has('uploadId')) return 'CompleteMultipartUpload';
      throw s3Error('MethodNotAllowed');
    default: throw s3Error('MethodNotAllowed');
  }
}
