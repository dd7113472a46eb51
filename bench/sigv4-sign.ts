// Minimal AWS SigV4 header signer for the bench load generator: path-style URLs, UNSIGNED-PAYLOAD,
// plain-ASCII keys. Kept apart from src/s3 on purpose, so a bug in the server's verifier cannot hide
// behind the same bug in the client. Follows https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html

import { createHash, createHmac } from 'node:crypto';

/** Value of x-amz-content-sha256 when the body is not hashed (AWS: "UNSIGNED-PAYLOAD"). */
export const unsignedPayload = 'UNSIGNED-PAYLOAD';

const algorithm = 'AWS4-HMAC-SHA256';

/** Credentials and scope shared by every request of one client. */
export interface SigV4Credentials {
  /** Access key id, e.g. "benchadmin". */
  accessKey: string;
  /** Secret access key. */
  secretKey: string;
  /** Region in the credential scope, e.g. "us-east-1". */
  region: string;
}

/** One request to sign. `path` is the decoded path ("/bucket/key"); `query` maps decoded names to values. */
export interface SigV4Request {
  method: string;
  /** Host header value, including ":port" when not the scheme's default. */
  host: string;
  path: string;
  query?: Readonly<Record<string, string>>;
  /** Extra headers to sign (lower- or mixed-case names); host, x-amz-date and x-amz-content-sha256 are added. */
  headers?: Readonly<Record<string, string>>;
  /** Signing time; defaults to now. */
  date?: Date;
}

/**
 * Signs `request` and returns the headers to send: the caller's headers plus host, x-amz-date,
 * x-amz-content-sha256 (UNSIGNED-PAYLOAD) and authorization. Header names in the result are lower-case.
 */
export function signRequest(credentials: SigV4Credentials, request: SigV4Request): Record<string, string> {
  const amzDate = toAmzDate(request.date ?? new Date());
  const shortDate = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
  headers['host'] = request.host;
  headers['x-amz-date'] = amzDate;
  headers['x-amz-content-sha256'] = unsignedPayload;

  const signedNames = Object.keys(headers).sort();
  const canonicalHeaders = signedNames.map((name) => `${name}:${trimHeaderValue(headers[name] ?? '')}\n`).join('');
  const signedHeaders = signedNames.join(';');
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri(request.path),
    canonicalQuery(request.query ?? {}),
    canonicalHeaders,
    signedHeaders,
    unsignedPayload,
  ].join('\n');

  const scope = `${shortDate}/${credentials.region}/s3/aws4_request`;
  const stringToSign = [algorithm, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = createHmac('sha256', signingKey(credentials, shortDate)).update(stringToSign).digest('hex');
  headers['authorization'] =
    `${algorithm} Credential=${credentials.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

/** RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything else is %XX. */
export function uriEncode(value: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// S3 encodes the path once (other services encode twice).
function canonicalUri(path: string): string {
  return uriEncode(path === '' ? '/' : path, true);
}

function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([name, value]) => [uriEncode(name, false), uriEncode(value, false)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function trimHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

// The derived key only changes with the date, so one per (secret, date, region) is cached.
const signingKeyCache = new Map<string, Buffer>();

function signingKey(credentials: SigV4Credentials, shortDate: string): Buffer {
  const cacheKey = `${credentials.secretKey}\n${shortDate}\n${credentials.region}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const dateKey = hmac(`AWS4${credentials.secretKey}`, shortDate);
  const regionKey = hmac(dateKey, credentials.region);
  const serviceKey = hmac(regionKey, 's3');
  const key = hmac(serviceKey, 'aws4_request');
  signingKeyCache.clear();
  signingKeyCache.set(cacheKey, key);
  return key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Formats `date` as SigV4's basic ISO 8601 timestamp, e.g. "20250101T120000Z". */
export function toAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
