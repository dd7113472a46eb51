// S3 request authentication with AWS Signature Version 4: the Authorization header here, query
// (presigned URL) auth in presigned.ts. Invariant: a returned AuthContext means the signature
// verified; every refusal is a TesseraError whose code is the AWS error code.

import { s3Error, type S3Error } from '../errors.js';
import { clockSkewMaxMs } from '../../util/limits.js';
import {
  type AuthContext,
  type AuthOptions,
  type HeaderBag,
  type QueryParam,
  type SigV4Request,
  SIGV4_ALGORITHM,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  UNSIGNED_PAYLOAD,
  deriveSigningKey,
  formatAmzDate,
  headerString,
  parseAmzDate,
  parseCredential,
  parseQuery,
  queryCandidates,
  requireSignedHeaders,
  scopeProblem,
  secretFor,
  uriCandidates,
  verifySignature,
} from './canonical.js';
import { authenticatePresigned } from './presigned.js';

export * from './canonical.js';
export { authenticatePresigned } from './presigned.js';
import { authenticateV2Header, authenticateV2Query } from './sigv2.js';

const HEX_SHA256 = /^[0-9a-f]{64}$/;
const PAYLOAD_HASH_VALUES: ReadonlySet<string> = new Set([
  UNSIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
]);

/**
 * Authenticates an S3 request signed with SigV4, by Authorization header or by presigned query
 * (Amazon S3 API reference: sig-v4-header-based-auth, sigv4-query-string-auth, sigv4-streaming).
 * `nowMs` is the server clock in epoch milliseconds. `params` is parseQuery(req.rawQuery), passed
 * by a caller that has already parsed it. The canonical URI is tried normalised (decoded, then
 * UriEncoded once) and as sent.
 *
 * An Authorization header with an empty value counts as absent (S3 answers such a request as
 * anonymous). `options.region`, when set, is the only region a credential scope may name.
 *
 * Throws TesseraError with code:
 * - AccessDenied: no credentials (anonymous, or an empty Authorization value), missing/invalid
 *   date, presigned URL expired or not yet valid (X-Amz-Expires=0 is always expired), or
 *   SignedHeaders lacking `host` or an x-amz-* header present in the request (details
 *   HeadersNotSigned; see requireSignedHeaders)
 * - InvalidArgument: both header and query auth, or an unsupported Authorization type
 * - InvalidRequest: x-amz-content-sha256 missing on a SigV4 header-signed request
 * SigV2 (Authorization "AWS id:sig" or AWSAccessKeyId/Signature/Expires query) goes to sigv2.ts.
 * - AuthorizationHeaderMalformed: header lacks Credential/SignedHeaders/Signature, or scope
 *   mismatch (a wrong region carries the server's region as detail Region)
 * - AuthorizationQueryParametersError: presigned parameters missing or malformed, scope mismatch
 *   (detail Region as above), X-Amz-Expires negative or over 604800
 * - InvalidAccessKeyId: `lookupSecret` does not know the key
 * - RequestTimeTooSkewed: header-signed request more than limits.clockSkewMaxMs from `nowMs`
 * - SignatureDoesNotMatch: signature differs (details carry StringToSign and CanonicalRequest)
 */
export function authenticate(
  req: SigV4Request,
  lookupSecret: (accessKeyId: string) => string | undefined,
  nowMs: number,
  options: AuthOptions = {},
  params: readonly QueryParam[] = parseQuery(req.rawQuery),
): AuthContext {
  // An empty Authorization value is no credential at all: S3 treats the request as anonymous.
  const authorization = headerString(req.headers, 'authorization')?.trim() || undefined;
  const hasQueryAuth = params.some((p) => p.name === 'X-Amz-Algorithm');
  if (authorization !== undefined && hasQueryAuth) {
    throw s3Error(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  if (hasQueryAuth) return authenticatePresigned(req, params, lookupSecret, nowMs, options);
  if (authorization === undefined) {
    if (params.some((p) => p.name === 'Signature') && params.some((p) => p.name === 'AWSAccessKeyId')) {
      return authenticateV2Query(req, params, lookupSecret, nowMs, options.virtualHostBucket);
    }
    throw s3Error('AccessDenied', 'Access Denied (anonymous requests are not allowed)');
  }
  if (authorization === 'AWS' || authorization.startsWith('AWS ')) {
    return authenticateV2Header(req, authorization, params, lookupSecret, nowMs, options.virtualHostBucket);
  }
  return authenticateHeader(req, authorization, params, lookupSecret, nowMs, options);
}

function sigV2Unsupported(): S3Error {
  return s3Error(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  );
}

function malformedHeader(message: string, details: Record<string, string> = {}): S3Error {
  return s3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`, details);
}

/** The three components of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`. */
export interface AuthorizationHeader {
  credential: string;
  signedHeaders: string[];
  signature: string;
}

/**
 * Parses an Authorization header value. Throws InvalidRequest for SigV2, InvalidArgument for
 * other algorithms, AuthorizationHeaderMalformed when a component is missing or empty.
 */
export function parseAuthorizationHeader(value: string): AuthorizationHeader {
  const trimmed = value.trim();
  const space = trimmed.indexOf(' ');
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm === 'AWS') throw sigV2Unsupported();
  if (algorithm !== SIGV4_ALGORITHM) {
    throw s3Error('InvalidArgument', 'Unsupported Authorization Type', {
      ArgumentName: 'Authorization',
      ArgumentValue: value,
    });
  }
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw malformedHeader('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  return { credential, signedHeaders: signedHeaders.split(';').map((h) => h.trim().toLowerCase()), signature };
}

/** x-amz-date, else the Date header converted; AccessDenied when neither parses. */
function requestAmzDate(headers: HeaderBag): { amzDate: string; ms: number } {
  const amz = headerString(headers, 'x-amz-date');
  if (amz !== undefined) {
    const ms = parseAmzDate(amz.trim());
    if (ms !== undefined) return { amzDate: amz.trim(), ms };
  } else {
    const date = headerString(headers, 'date');
    const ms = date === undefined ? NaN : Date.parse(date);
    if (Number.isFinite(ms)) return { amzDate: formatAmzDate(ms), ms };
  }
  throw s3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

/** The payload hash a header-signed request commits to; see authenticate() for codes. */
function headerPayloadHash(headers: HeaderBag, options: AuthOptions): string {
  const value = headerString(headers, 'x-amz-content-sha256')?.trim();
  if (value === undefined) {
    if (options.payloadHashWhenAbsent !== undefined) return options.payloadHashWhenAbsent;
    throw s3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (HEX_SHA256.test(value) || PAYLOAD_HASH_VALUES.has(value)) return value;
  throw s3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  );
}

function authenticateHeader(
  req: SigV4Request,
  authorization: string,
  params: readonly QueryParam[],
  lookupSecret: (accessKeyId: string) => string | undefined,
  nowMs: number,
  options: AuthOptions,
): AuthContext {
  const auth = parseAuthorizationHeader(authorization);
  const cred = parseCredential(auth.credential);
  if (cred === undefined) {
    throw malformedHeader('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const { amzDate, ms } = requestAmzDate(req.headers);
  const problem = scopeProblem(cred, amzDate, options);
  if (problem !== undefined) throw malformedHeader(problem, options.region ? { Region: options.region } : {});
  if (Math.abs(nowMs - ms) > clockSkewMaxMs) {
    throw s3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: amzDate,
      ServerTime: formatAmzDate(nowMs),
      MaxAllowedSkewMilliseconds: clockSkewMaxMs,
    });
  }
  const payloadHash = headerPayloadHash(req.headers, options);
  const secret = secretFor(cred.accessKeyId, lookupSecret);
  requireSignedHeaders(req.headers, auth.signedHeaders);
  const signingKey = deriveSigningKey(secret, cred.date, cred.region, cred.service);
  const scope = `${cred.date}/${cred.region}/${cred.service}/${cred.terminal}`;
  return verifySignature({
    method: req.method,
    uris: uriCandidates(req.rawPath),
    queries: queryCandidates(params, req.rawQuery),
    headers: req.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash,
    amzDate,
    scope,
    signingKey,
    provided: auth.signature,
    accessKeyId: cred.accessKeyId,
    region: cred.region,
    service: cred.service,
    presigned: false,
  });
}
