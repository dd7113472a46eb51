// Legacy AWS Signature Version 2 for S3 ("Signing and authenticating REST requests" and
// "Query string request authentication alternative" in the Amazon S3 developer guide). Kept
// because the aws cli v1 still presigns with it by default (`aws s3 presign`), as do older
// tools; S3 itself still accepts it. HMAC-SHA1 over verb, Content-MD5, Content-Type,
// Date/Expires, x-amz-* headers and the canonical resource.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors.js';
import { clockSkewMaxMs } from '../../util/limits.js';
import { UNSIGNED_PAYLOAD, headerString, type AuthContext, type HeaderBag, type QueryParam, type SigV4Request } from './canonical.js';

/** Query parameters that are part of the SigV2 canonical resource (botocore's HmacV1Auth list). */
const subresources = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'delete', 'inventory', 'lifecycle', 'location', 'logging', 'metrics',
  'notification', 'partNumber', 'policy', 'replication', 'requestPayment', 'restore', 'select', 'select-type',
  'tagging', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website', 'object-lock',
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
]);

function canonicalResource(req: SigV4Request, params: readonly QueryParam[], virtualHostBucket: string | undefined): string {
  let resource = (virtualHostBucket ? `/${virtualHostBucket}` : '') + req.rawPath;
  const kept = params
    .filter((p) => subresources.has(p.name))
    .map((p) => ({ name: p.name, value: p.value === '' ? undefined : p.value }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (kept.length > 0) resource += `?${kept.map((p) => (p.value === undefined ? p.name : `${p.name}=${p.value}`)).join('&')}`;
  return resource;
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

function verify(secret: string, toSign: string, provided: string): void {
  const expected = createHmac('sha1', secret).update(toSign, 'utf8').digest();
  const given = Buffer.from(provided, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw s3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', { StringToSign: toSign });
  }
}

function context(accessKeyId: string, signature: string, presigned: boolean): AuthContext {
  return {
    accessKeyId, region: '', service: 's3', amzDate: '', scope: '', signingKey: Buffer.alloc(0), signature,
    payloadHash: UNSIGNED_PAYLOAD, presigned, signedHeaders: [],
  };
}

function lookup(accessKeyId: string, lookupSecret: (id: string) => string | undefined): string {
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) throw s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  return secret;
}

/**
 * Presigned SigV2 URL: AWSAccessKeyId, Signature (base64 HMAC-SHA1), Expires (epoch seconds).
 * Throws InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied ('Request has expired').
 */
export function authenticateV2Query(
  req: SigV4Request, params: readonly QueryParam[], lookupSecret: (id: string) => string | undefined, nowMs: number, virtualHostBucket?: string,
): AuthContext {
  const get = (name: string): string | undefined => params.find((p) => p.name === name)?.value;
  const accessKeyId = get('AWSAccessKeyId') ?? '';
  const signature = get('Signature') ?? '';
  const expires = get('Expires') ?? '';
  if (!/^\d+$/.test(expires)) throw s3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  const secret = lookup(accessKeyId, lookupSecret);
  verify(secret, stringToSign(req, expires, canonicalResource(req, params, virtualHostBucket)), signature);
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
  const match = /^AWS ([^:\s]+):(\S+)$/.exec(authorization.trim());
  if (!match) throw s3Error('InvalidArgument', 'Authorization header is invalid -- one and only one \' \' (space) required', { ArgumentName: 'Authorization' });
  const [, accessKeyId = '', signature = ''] = match;
  const amzDate = headerString(req.headers, 'x-amz-date');
  const date = amzDate ?? headerString(req.headers, 'date');
  const ms = date === undefined ? NaN : Date.parse(date);
  if (!Number.isFinite(ms)) throw s3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const secret = lookup(accessKeyId, lookupSecret);
  const resource = canonicalResource(req, params, virtualHostBucket);
  const plainDate = headerString(req.headers, 'date');
  try {
    // AWS: with x-amz-date present the Date slot is empty; botocore signs the Date header anyway.
    verify(secret, stringToSign(req, amzDate !== undefined ? '' : (date ?? ''), resource), signature);
  } catch (err) {
    if (amzDate === undefined || plainDate === undefined) throw err;
    verify(secret, stringToSign(req, plainDate, resource), signature);
  }
  if (Math.abs(nowMs - ms) > clockSkewMaxMs) throw s3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  return context(accessKeyId, signature, false);
}
