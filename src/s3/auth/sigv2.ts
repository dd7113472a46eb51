// Legacy AWS Signature Version 2 for S3 ("Signing and authenticating REST requests" and
// "Query string request authentication alternative" in the Amazon S3 developer guide). Kept
// because the aws cli v1 still presigns with it by default (`aws s3 presign`), as do older
// tools; S3 itself still accepts it. HMAC-SHA1 over verb, Content-MD5, Content-Type,
// Date/Expires, every x-amz-* header and the canonical resource (so no x-amz-* header can be
// added unsigned). Presigned URLs may live at most limits.presignExpiresMaxSeconds, as SigV4's.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors.js';
import { clockSkewMaxMs, presignExpiresMaxSeconds } from '../../util/limits.js';
import { UNSIGNED_PAYLOAD, headerString, secretFor, type AuthContext, type HeaderBag, type QueryParam, type SigV4Request } from './canonical.js';

/**
 * Query parameters that are part of the SigV2 canonical resource: the developer guide's list
 * (acl ... website, response-*, delete) as botocore's HmacV1Auth extends it for newer
 * sub-resources (it signs ?tagging, ?object-lock, ...).
 */
const subresources = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'inventory', 'lifecycle', 'location',
  'logging', 'metrics', 'notification', 'partNumber', 'policy', 'replication', 'requestPayment', 'restore',
  'select', 'select-type', 'storageClass', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning',
  'versions', 'website', 'object-lock',
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
]);

/** A path-style bucket-level path without its trailing slash: `/bucket`. */
const BUCKET_ONLY_PATH = /^\/[^/]+$/;

/**
 * The CanonicalizedResource candidates ("Constructing the CanonicalizedResource element", Amazon
 * S3 developer guide, Signing and authenticating REST requests): "/" + the Host header's bucket
 * (virtual-host style only), then the path exactly as sent (percent-encoding and case kept), then
 * the sub-resources present, sorted by name, with decoded values ("?acl", "?uploadId=x&partNumber=2"
 * sorted). A path-style bucket-level path is also tried with a trailing slash (`/bucket` as
 * `/bucket/`): S3 names a bucket's resource "/bucket/" (the guide's List example), and botocore
 * signs it so while it sends `/bucket?...`. Both forms address the same bucket.
 */
export function canonicalResources(req: SigV4Request, params: readonly QueryParam[], virtualHostBucket: string | undefined): string[] {
  const path = (virtualHostBucket ? `/${virtualHostBucket}` : '') + req.rawPath;
  const paths = !virtualHostBucket && BUCKET_ONLY_PATH.test(req.rawPath) ? [path, `${path}/`] : [path];
  const kept = params
    .filter((p) => subresources.has(p.name))
    .map((p) => ({ name: p.name, value: p.value === '' ? undefined : p.value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const query = kept.length > 0 ? `?${kept.map((p) => (p.value === undefined ? p.name : `${p.name}=${p.value}`)).join('&')}` : '';
  return paths.map((p) => p + query);
}

function canonicalAmzHeaders(headers: HeaderBag): string {
  const names = Object.keys(headers).filter((n) => n.toLowerCase().startsWith('x-amz-')).map((n) => n.toLowerCase()).sort();
  return names.map((n) => `${n}:${(headerString(headers, n) ?? '').trim()}\n`).join('');
}

function stringToSign(req: SigV4Request, dateOrExpires: string, resource: string): string {
  const md5 = headerString(req.headers, 'content-md5') ?? '';
  const type = headerString(req.headers, 'content-type') ?? '';
  return `${req.method}\n${md5}\n${type}\n${dateOrExpires}\n${canonicalAmzHeaders(req.headers)}${resource}`;
}

function signatureMatches(secret: string, toSign: string, given: Buffer): boolean {
  const expected = createHmac('sha1', secret).update(toSign, 'utf8').digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Accepts when `provided` signs one of the `resources`; SignatureDoesNotMatch (first StringToSign) otherwise. */
function verify(secret: string, req: SigV4Request, dateOrExpires: string, resources: readonly string[], provided: string): void {
  const given = Buffer.from(provided, 'base64');
  for (const resource of resources) {
    if (signatureMatches(secret, stringToSign(req, dateOrExpires, resource), given)) return;
  }
  throw s3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
    StringToSign: stringToSign(req, dateOrExpires, resources[0] ?? '/'),
  });
}

function context(accessKeyId: string, signature: string, presigned: boolean): AuthContext {
  return {
    accessKeyId, region: '', service: 's3', amzDate: '', scope: '', signingKey: Buffer.alloc(0), signature,
    payloadHash: UNSIGNED_PAYLOAD, presigned, version: 2, signedHeaders: [],
  };
}

/**
 * Presigned SigV2 URL: AWSAccessKeyId, Signature (base64 HMAC-SHA1), Expires (epoch seconds).
 * Expires may lie at most limits.presignExpiresMaxSeconds (7 days) after `nowMs`, plus
 * limits.clockSkewMaxMs for a client clock ahead of ours: S3 sets no bound for SigV2, Tessera
 * applies SigV4's. Throws AuthorizationQueryParametersError (Expires too far ahead),
 * InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied ('Request has expired', or Expires
 * not a number).
 */
export function authenticateV2Query(
  req: SigV4Request, params: readonly QueryParam[], lookupSecret: (id: string) => string | undefined, nowMs: number, virtualHostBucket?: string,
): AuthContext {
  const get = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
  const accessKeyId = get('AWSAccessKeyId') ?? '';
  const signature = get('Signature') ?? '';
  const expires = get('Expires') ?? '';
  if (!/^\d+$/.test(expires)) throw s3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  if (Number(expires) * 1000 > nowMs + presignExpiresMaxSeconds * 1000 + clockSkewMaxMs) {
    throw s3Error(
      'AuthorizationQueryParametersError',
      `Expires must be less than a week (in seconds) after the current time; that is, at most ${presignExpiresMaxSeconds} seconds from now`,
      { Expires: expires, ServerTime: new Date(nowMs).toISOString() },
    );
  }
  const secret = secretFor(accessKeyId, lookupSecret);
  verify(secret, req, expires, canonicalResources(req, params, virtualHostBucket), signature);
  if (nowMs > Number(expires) * 1000) throw s3Error('AccessDenied', 'Request has expired', { Expires: new Date(Number(expires) * 1000).toISOString() });
  return context(accessKeyId, signature, true);
}

/**
 * `Authorization: AWS AccessKeyId:Signature`. Throws InvalidAccessKeyId, SignatureDoesNotMatch,
 * AccessDenied (no date), RequestTimeTooSkewed, InvalidArgument (malformed header).
 */
export function authenticateV2Header(
  req: SigV4Request, authorization: string, params: readonly QueryParam[], lookupSecret: (id: string) => string | undefined, nowMs: number, virtualHostBucket?: string,
): AuthContext {
  const value = authorization.trim();
  if (!/^AWS \S+$/.test(value)) {
    throw s3Error('InvalidArgument', 'Authorization header is invalid -- one and only one \' \' (space) required', { ArgumentName: 'Authorization' });
  }
  const match = /^AWS ([^:]+):(.+)$/.exec(value);
  if (!match) {
    throw s3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', { ArgumentName: 'Authorization' });
  }
  const [, accessKeyId = '', signature = ''] = match;
  const amzDate = headerString(req.headers, 'x-amz-date');
  const date = amzDate ?? headerString(req.headers, 'date');
  const ms = date === undefined ? NaN : Date.parse(date);
  if (!Number.isFinite(ms)) throw s3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const secret = secretFor(accessKeyId, lookupSecret);
  const resources = canonicalResources(req, params, virtualHostBucket);
  const plainDate = headerString(req.headers, 'date');
  try {
    // AWS: with x-amz-date present the Date slot is empty; botocore signs the Date header anyway.
    verify(secret, req, amzDate !== undefined ? '' : (date ?? ''), resources, signature);
  } catch (err) {
    if (amzDate === undefined || plainDate === undefined) throw err;
    verify(secret, req, plainDate, resources, signature);
  }
  if (Math.abs(nowMs - ms) > clockSkewMaxMs) throw s3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  return context(accessKeyId, signature, false);
}
