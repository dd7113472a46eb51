// SigV4 query-string (presigned URL) authentication. Invariant: the URL is checked for shape,
// scope and lifetime before any HMAC is computed; the payload is UNSIGNED-PAYLOAD unless signed.
// Source: Amazon S3 API reference, "Authenticating Requests: Using Query Parameters (SigV4)".

import { s3Error, type S3Error } from '../errors.js';
import { clockSkewMaxMs, presignExpiresMaxSeconds } from '../../util/limits.js';
import {
  type AuthContext,
  type AuthOptions,
  type QueryParam,
  type SigV4Request,
  SIGV4_ALGORITHM,
  UNSIGNED_PAYLOAD,
  deriveSigningKey,
  formatAmzDate,
  headerString,
  parseAmzDate,
  parseCredential,
  queryCandidates,
  requireSignedHeaders,
  scopeProblem,
  secretFor,
  uriCandidates,
  verifySignature,
} from './canonical.js';

const REQUIRED_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;

function queryError(message: string, details: Record<string, string | number> = {}): S3Error {
  return s3Error('AuthorizationQueryParametersError', message, details);
}

function presignParams(params: readonly QueryParam[]): Record<(typeof REQUIRED_PARAMS)[number], string> {
  const found = new Map<string, string>();
  for (const p of params) if (!found.has(p.name)) found.set(p.name, p.value);
  const out: Partial<Record<(typeof REQUIRED_PARAMS)[number], string>> = {};
  for (const name of REQUIRED_PARAMS) {
    const value = found.get(name);
    if (value === undefined || value === '') {
      throw queryError(
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    out[name] = value;
  }
  return out as Record<(typeof REQUIRED_PARAMS)[number], string>;
}

/**
 * X-Amz-Expires as whole seconds in 0..presignExpiresMaxSeconds, else S3's refusal (400
 * AuthorizationQueryParametersError, with S3's messages). 0 parses: such a URL is expired from the
 * start (403 AccessDenied "Request has expired", as S3 answers it).
 */
function expiresSeconds(value: string): number {
  if (!/^-?\d+$/.test(value)) throw queryError('X-Amz-Expires should be a number', { 'X-Amz-Expires': value });
  const seconds = Number(value);
  if (seconds < 0) throw queryError('X-Amz-Expires must be non-negative', { 'X-Amz-Expires': value });
  if (seconds > presignExpiresMaxSeconds) {
    throw queryError(
      `X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than ${presignExpiresMaxSeconds} seconds`,
      { 'X-Amz-Expires': value },
    );
  }
  return seconds;
}

/** UNSIGNED-PAYLOAD unless the URL (or a signed x-amz-content-sha256 header) names a hash. */
function presignedPayloadHash(req: SigV4Request, params: readonly QueryParam[], signedHeaders: readonly string[]): string {
  const fromQuery = params.find((p) => p.name === 'X-Amz-Content-Sha256' || p.name === 'x-amz-content-sha256');
  if (fromQuery !== undefined && fromQuery.value !== '') return fromQuery.value;
  if (signedHeaders.includes('x-amz-content-sha256')) {
    const fromHeader = headerString(req.headers, 'x-amz-content-sha256');
    if (fromHeader !== undefined) return fromHeader.trim();
  }
  return UNSIGNED_PAYLOAD;
}

/**
 * Verifies a presigned request (X-Amz-* query parameters). `params` is parseQuery(req.rawQuery).
 * Throws AuthorizationQueryParametersError (missing/malformed parameters, scope mismatch with the
 * server's region as detail Region, X-Amz-Expires negative or over 604800), InvalidAccessKeyId,
 * AccessDenied ('Request has expired', including X-Amz-Expires=0; 'Request is not valid yet';
 * X-Amz-SignedHeaders lacking `host` or an x-amz-* header the request carries, detail
 * HeadersNotSigned) and SignatureDoesNotMatch. Expiry is exact; only a request dated in the future
 * gets limits.clockSkewMaxMs of grace.
 */
export function authenticatePresigned(
  req: SigV4Request,
  params: readonly QueryParam[],
  lookupSecret: (accessKeyId: string) => string | undefined,
  nowMs: number,
  options: AuthOptions = {},
): AuthContext {
  const q = presignParams(params);
  if (q['X-Amz-Algorithm'] !== SIGV4_ALGORITHM) throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const cred = parseCredential(q['X-Amz-Credential']);
  if (cred === undefined) {
    throw queryError(
      'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const amzDate = q['X-Amz-Date'];
  const dateMs = parseAmzDate(amzDate);
  if (dateMs === undefined) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  const expires = expiresSeconds(q['X-Amz-Expires']);
  const problem = scopeProblem(cred, amzDate, options);
  if (problem !== undefined) {
    throw queryError(`Error parsing the X-Amz-Credential parameter; ${problem}`, options.region ? { Region: options.region } : {});
  }
  const secret = secretFor(cred.accessKeyId, lookupSecret);
  if (nowMs + clockSkewMaxMs < dateMs) {
    throw s3Error('AccessDenied', 'Request is not valid yet', { 'X-Amz-Date': amzDate, ServerTime: formatAmzDate(nowMs) });
  }
  if (expires === 0 || nowMs > dateMs + expires * 1000) {
    throw s3Error('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: formatAmzDate(dateMs + expires * 1000),
      ServerTime: formatAmzDate(nowMs),
    });
  }
  const signedHeaders = q['X-Amz-SignedHeaders'].split(';').map((h) => h.trim().toLowerCase());
  requireSignedHeaders(req.headers, signedHeaders);
  const payloadHash = presignedPayloadHash(req, params, signedHeaders);
  const signingKey = deriveSigningKey(secret, cred.date, cred.region, cred.service);
  const scope = `${cred.date}/${cred.region}/${cred.service}/${cred.terminal}`;
  return verifySignature({
    method: req.method,
    uris: uriCandidates(req.rawPath),
    queries: queryCandidates(params, req.rawQuery, 'X-Amz-Signature'),
    headers: req.headers,
    signedHeaders,
    payloadHash,
    amzDate,
    scope,
    signingKey,
    provided: q['X-Amz-Signature'],
    accessKeyId: cred.accessKeyId,
    region: cred.region,
    service: cred.service,
    presigned: true,
  });
}

/** Query parameters of a presigned URL that carry the signature itself, never a request header. */
const authParamNames: ReadonlySet<string> = new Set([
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature',
  'x-amz-security-token', 'x-amz-content-sha256',
]);

/**
 * The `x-amz-*` request headers a SigV4 presigned URL carries in its query (the JS SDK v3 and
 * others hoist headers such as `x-amz-meta-*`, `x-amz-acl`, `x-amz-server-side-encryption` into the
 * query when presigning, and S3 applies them as if sent as headers). Lower-case names; empty for
 * any request that is not SigV4 query-authenticated, whose query parameters are never headers.
 * The caller applies them only after the signature (which covers the whole query) verified.
 * Source: Amazon S3 API reference, sigv4-query-string-auth; @aws-sdk/s3-request-presigner, which
 * hoists every x-amz-* header it signs into the query unless told otherwise (unhoistableHeaders).
 */
export function presignedQueryHeaders(params: readonly QueryParam[]): Array<[name: string, value: string]> {
  if (!params.some((p) => p.name === 'X-Amz-Algorithm' && p.value === SIGV4_ALGORITHM)) return [];
  const headers: Array<[string, string]> = [];
  for (const p of params) {
    const name = p.name.toLowerCase();
    if (name.startsWith('x-amz-') && !authParamNames.has(name)) headers.push([name, p.value]);
  }
  return headers;
}
