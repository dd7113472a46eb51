// SigV4 building blocks shared by header auth (sigv4.ts), presigned URLs (presigned.ts) and
// aws-chunked bodies: hashing, the signing-key cache, canonical request and signature checks.
// Source: Amazon S3 API reference, "Authenticating Requests (AWS Signature Version 4)".

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors.js';
import { percentDecode, uriEncode } from './uri-encode.js';

/** Derived signing keys kept in memory; one per (secret, date, region, service). */
export const signingKeyCacheEntriesMax = 1024;

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** Hex SHA-256 of zero bytes. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

/** Header map as Node delivers it: lower-case names; `req.headersDistinct` also fits. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** The parts of an HTTP request that SigV4 covers. */
export interface SigV4Request {
  method: string;
  /** Path exactly as on the request line, percent-encoded, without the query. */
  rawPath: string;
  /** Query after '?', as sent; '' if none. */
  rawQuery: string;
  /** Lower-case header names (Node's IncomingHttpHeaders or headersDistinct). */
  headers: HeaderBag;
}

/** What a verified request proved; aws-chunked decoding continues from `signature`. */
export interface AuthContext {
  accessKeyId: string;
  region: string;
  service: string;
  /** Request time, ISO 8601 basic: YYYYMMDDTHHMMSSZ. */
  amzDate: string;
  /** Credential scope: date/region/service/aws4_request. */
  scope: string;
  /** 32-byte derived signing key. */
  signingKey: Buffer;
  /** Seed signature: 64 lower-case hex characters. */
  signature: string;
  /** x-amz-content-sha256 value: hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value. */
  payloadHash: string;
  presigned: boolean;
  /** Signature version: 4 (AWS4-HMAC-SHA256) or 2 (legacy HMAC-SHA1). */
  version: 2 | 4;
  /** SignedHeaders, lower-case, in the order signed. */
  signedHeaders: string[];
}

/** Server-side expectations; all optional. */
export interface AuthOptions {
  /** Region the credential scope must name; any region when omitted. */
  region?: string;
  /** Service the scope must name (default 's3'; the generic AWS test suite uses 'service'). */
  service?: string;
  /** Payload hash to sign with when x-amz-content-sha256 is absent (non-S3 services only). */
  payloadHashWhenAbsent?: string;
  /** Bucket named by the Host header (virtual-host style); SigV2's canonical resource needs it. */
  virtualHostBucket?: string;
}

/** Hex SHA-256 (64 characters) of `data` (strings as UTF-8). */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** HMAC-SHA256 of `data` under `key`; returns 32 bytes. */
export function hmacSha256(key: string | Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

const signingKeyCache = new Map<string, Buffer>();

/**
 * The SigV4 signing key: HMAC chain over "AWS4"+secret, date (YYYYMMDD), region, service and
 * "aws4_request"; 32 bytes. Cached in a FIFO map bounded by signingKeyCacheEntriesMax.
 */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  const cacheKey = `${date}\n${region}\n${service}\n${secret}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const kDate = hmacSha256('AWS4' + secret, date);
  const key = hmacSha256(hmacSha256(hmacSha256(kDate, region), service), 'aws4_request');
  if (signingKeyCache.size >= signingKeyCacheEntriesMax) {
    const oldest = signingKeyCache.keys().next().value;
    if (oldest !== undefined) signingKeyCache.delete(oldest);
  }
  signingKeyCache.set(cacheKey, key);
  return key;
}

/** One header's value as a string: repeated values joined with ',' as SigV4 wants. */
export function headerString(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

function trimAll(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a header value as Node hands it over: latin1, one char per byte. Clients send
 * non-ASCII text as its UTF-8 bytes (botocore, curl, Go), so bytes that are valid UTF-8 are read as
 * UTF-8; other bytes stay one char each (latin1). SigV4 signs this text (the canonical request then
 * hashes the bytes sent), and x-amz-meta-* values are stored as it (s3/user-metadata.ts).
 */
export function headerText(value: string): string {
  if (!/[^\x00-\x7f]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

function canonicalValue(value: string): string {
  return trimAll(headerText(value));
}

/** Canonical header block: `name:value\n` per signed header, values trimmed and spaces collapsed. */
export function canonicalHeaders(headers: HeaderBag, signedHeaders: readonly string[]): string {
  let out = '';
  for (const name of signedHeaders) {
    let value = headers[name];
    if (value === undefined && name === 'host') value = headers[':authority'];
    const text = value === undefined ? '' : typeof value === 'string' ? canonicalValue(value) : value.map(canonicalValue).join(',');
    out += `${name}:${text}\n`;
  }
  return out;
}

/**
 * Canonical URI for S3: each '/'-separated segment percent-decoded then UriEncoded, so the
 * result is encoded exactly once ('%2F' inside a segment stays encoded). '' becomes '/'.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  return rawPath
    .split('/')
    .map((segment) => uriEncode(percentDecode(segment), true))
    .join('/');
}

/** A query parameter as sent (`raw*`) and percent-decoded. */
export interface QueryParam {
  rawName: string;
  rawValue: string;
  name: string;
  value: string;
}

/** Splits a raw query on '&' and the first '='; empty segments are dropped. */
export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (rawQuery === '') return params;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    params.push({ rawName, rawValue, name: percentDecode(rawName), value: percentDecode(rawValue) });
  }
  return params;
}

/**
 * Canonical query string: names and values UriEncoded (including '/'), sorted by name then value,
 * joined as `name=value` with '&'. `plusAsSpace` reads a raw '+' as a space (form encoding).
 */
export function canonicalQuery(params: readonly QueryParam[], plusAsSpace = false, omitName?: string): string {
  const pairs: [string, string][] = [];
  for (const p of params) {
    if (omitName !== undefined && p.name === omitName) continue;
    const name = plusAsSpace ? percentDecode(p.rawName, true) : p.name;
    const value = plusAsSpace ? percentDecode(p.rawValue, true) : p.value;
    pairs.push([uriEncode(name, true), uriEncode(value, true)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/** The six-line canonical request (method, URI, query, headers, signed headers, payload hash). */
export function buildCanonicalRequest(
  method: string,
  uri: string,
  query: string,
  headers: HeaderBag,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const block = canonicalHeaders(headers, signedHeaders);
  return `${method}\n${uri}\n${query}\n${block}\n${signedHeaders.join(';')}\n${payloadHash}`;
}

/** String to sign: algorithm, amzDate, scope, hex SHA-256 of the canonical request. */
export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}

/** Hex HMAC-SHA256 (64 characters) of `stringToSign` under the 32-byte `signingKey`. */
export function signString(signingKey: Uint8Array, stringToSign: string): string {
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

/** Constant-time comparison of two hex signatures (false when lengths differ). */
export function signaturesEqual(expectedHex: string, providedHex: string): boolean {
  if (expectedHex.length !== providedHex.length) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'latin1'), Buffer.from(providedHex, 'latin1'));
}

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Milliseconds since the epoch for a YYYYMMDDTHHMMSSZ string, or undefined when malformed. */
export function parseAmzDate(value: string): number | undefined {
  const m = AMZ_DATE.exec(value);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) return undefined;
  return ms;
}

/** YYYYMMDDTHHMMSSZ for an epoch time in milliseconds. */
export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** The credential `AKID/YYYYMMDD/region/service/aws4_request`, split from the right. */
export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminal: string;
}

/** Splits a credential; undefined when it lacks the four scope parts or an access key. */
export function parseCredential(value: string): Credential | undefined {
  const parts = value.split('/');
  if (parts.length < 5) return undefined;
  const [date, region, service, terminal] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (accessKeyId === '' || !/^\d{8}$/.test(date) || region === '' || service === '') return undefined;
  return { accessKeyId, date, region, service, terminal };
}

/**
 * Checks a credential scope against the request date and the server's options; returns
 * `undefined` when fine or the AWS message explaining the mismatch.
 */
export function scopeProblem(cred: Credential, amzDate: string, options: AuthOptions): string | undefined {
  const service = options.service ?? 's3';
  if (cred.date !== amzDate.slice(0, 8)) return 'Invalid credential date. Date is not the same as X-Amz-Date.';
  if (options.region !== undefined && cred.region !== options.region) {
    return `the region '${cred.region}' is wrong; expecting '${options.region}'`;
  }
  if (cred.service !== service) return `incorrect service '${cred.service}'. This endpoint belongs to '${service}'.`;
  if (cred.terminal !== 'aws4_request') return `incorrect terminal '${cred.terminal}'. This endpoint uses 'aws4_request'.`;
  return undefined;
}

/**
 * x-amz-* headers that may arrive unsigned. Only x-amz-content-sha256: header auth commits to its
 * value as the canonical request's payload hash (a changed value fails the signature), presigned
 * auth ignores it unless signed, and S3 does not require it in SignedHeaders.
 */
const unsignedAmzHeadersAllowed: ReadonlySet<string> = new Set(['x-amz-content-sha256']);

/**
 * Refuses a SigV4 request (header or presigned) whose SignedHeaders leave out `host` or any
 * x-amz-* header present in the request: such a header would act (x-amz-copy-source turns a PUT
 * into a copy, x-amz-meta-* is stored) without the signer having approved it. `signedHeaders` are
 * lower-case names. Throws AccessDenied with a HeadersNotSigned detail listing the names
 * (comma-separated, `host` first), as S3 answers (403, "There were headers present in the request
 * which were not signed"; Amazon S3 API reference, sig-v4-header-based-auth: "The CanonicalHeaders
 * list must include ... HTTP host header ... Any x-amz-* headers that you plan to include").
 */
export function requireSignedHeaders(headers: HeaderBag, signedHeaders: readonly string[]): void {
  const signed = new Set(signedHeaders);
  const unsigned: string[] = [];
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || headers[name] === undefined) continue;
    if (!signed.has(lower) && !unsignedAmzHeadersAllowed.has(lower)) unsigned.push(lower);
  }
  unsigned.sort();
  if (!signed.has('host')) unsigned.unshift('host');
  if (unsigned.length === 0) return;
  throw s3Error('AccessDenied', 'There were headers present in the request which were not signed', {
    HeadersNotSigned: unsigned.join(', '),
  });
}

/** The secret for `accessKeyId`, or InvalidAccessKeyId. */
export function secretFor(accessKeyId: string, lookupSecret: (accessKeyId: string) => string | undefined): string {
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) {
    throw s3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: accessKeyId,
    });
  }
  return secret;
}

/** Inputs to signature verification; every candidate URI x query is tried. */
export interface VerifyInput {
  method: string;
  uris: readonly string[];
  queries: readonly string[];
  headers: HeaderBag;
  signedHeaders: readonly string[];
  payloadHash: string;
  amzDate: string;
  scope: string;
  signingKey: Buffer;
  provided: string;
  accessKeyId: string;
  region: string;
  service: string;
  presigned: boolean;
}

/**
 * Verifies `provided` against the canonical forms (normalised first, then as-sent) and returns
 * what the request proved. Throws SignatureDoesNotMatch, with the normalised string to sign and
 * canonical request as details.
 */
export function verifySignature(input: VerifyInput): AuthContext {
  let first: { canonicalRequest: string; stringToSign: string } | undefined;
  for (const uri of input.uris) {
    for (const query of input.queries) {
      const canonicalRequest = buildCanonicalRequest(input.method, uri, query, input.headers, input.signedHeaders, input.payloadHash);
      const stringToSign = buildStringToSign(input.amzDate, input.scope, canonicalRequest);
      if (signaturesEqual(signString(input.signingKey, stringToSign), input.provided)) return authContextOf(input);
      first ??= { canonicalRequest, stringToSign };
    }
  }
  throw s3Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    {
      AWSAccessKeyId: input.accessKeyId,
      SignatureProvided: input.provided,
      StringToSign: first?.stringToSign ?? '',
      CanonicalRequest: first?.canonicalRequest ?? '',
    },
  );
}

function authContextOf(input: VerifyInput): AuthContext {
  return {
    accessKeyId: input.accessKeyId,
    region: input.region,
    service: input.service,
    amzDate: input.amzDate,
    scope: input.scope,
    signingKey: input.signingKey,
    signature: input.provided,
    payloadHash: input.payloadHash,
    presigned: input.presigned,
    version: 4,
    signedHeaders: [...input.signedHeaders],
  };
}

/** Candidate canonical URIs: the normalised form, then the raw path when it differs. */
export function uriCandidates(rawPath: string): string[] {
  const normalised = canonicalUri(rawPath);
  return rawPath !== '' && rawPath !== normalised ? [normalised, rawPath] : [normalised];
}

/** Candidate canonical queries: '+' literal, then '+' as space when the raw query has one. */
export function queryCandidates(params: readonly QueryParam[], rawQuery: string, omitName?: string): string[] {
  const literal = canonicalQuery(params, false, omitName);
  if (!rawQuery.includes('+')) return [literal];
  return [literal, canonicalQuery(params, true, omitName)];
}
