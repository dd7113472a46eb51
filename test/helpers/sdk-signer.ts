// The real AWS SDK signer (@smithy/signature-v4, which @aws-sdk/client-s3 and
// @aws-sdk/s3-request-presigner use) over node:crypto, configured as the S3 client configures it,
// and its signed requests as the SigV4Request that src/s3/auth's authenticate() reads.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SigV4Request } from '../../src/s3/auth/sigv4.js';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** node:crypto behind the SDK's `Checksum` shape (what @smithy/hash-node does): SHA-256, or HMAC-SHA256 with a secret. */
class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret: Buffer | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : toBuffer(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

/**
 * An SDK signer for service s3 with `credentials`, scoped to `region` (default us-east-1). As
 * @aws-sdk/client-s3: the path is not escaped again (it comes encoded once), and with
 * `applyChecksum` (default true) the signer adds x-amz-content-sha256 itself.
 */
export function sdkSigner(
  credentials: { accessKeyId: string; secretAccessKey: string },
  opts: { region?: string; applyChecksum?: boolean } = {},
): SignatureV4 {
  return new SignatureV4({
    service: 's3', region: opts.region ?? 'us-east-1', credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: opts.applyChecksum ?? true,
  });
}

/** RFC 3986 encoding as the SDK extends it (encodeURIComponent plus !'()*), '/' kept: how it encodes a key in a path. */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** A query as the SDK sends it: names and values encoded as keys, '/' in values too; a null value sends the name alone. */
function encodeQuery(query: Record<string, string | string[] | null>): string {
  return Object.entries(query)
    .flatMap(([k, v]) => (v === null ? [encodeKey(k)] : (Array.isArray(v) ? v : [v]).map((x) => `${encodeKey(k)}=${encodeKey(x).replaceAll('/', '%2F')}`)))
    .join('&');
}

/** A request as SignatureV4.sign() and presign() take and return it (@smithy/types HttpRequest). */
export type SdkRequest = Awaited<ReturnType<SignatureV4['presign']>>;

/** `signed` (what the SDK signer returned) as authenticate() sees it arrive: lower-case header names, the query as sent. */
export function toSigV4Request(signed: SdkRequest): SigV4Request {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = v;
  return { method: signed.method, rawPath: signed.path, rawQuery: encodeQuery(signed.query ?? {}), headers };
}
