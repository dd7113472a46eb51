// SignedHeaders must cover `host` and every x-amz-* header the request carries, for header auth and
// presigned URLs alike: otherwise an added x-amz-copy-source turns a signed PUT into a copy, and
// added x-amz-meta-* are stored. S3 answers 403 AccessDenied with HeadersNotSigned listing them.
import { describe, expect, it } from 'vitest';
import { errorOf as refusal } from '../../../helpers/error-code.js';
import { sdkSigner, toSigV4Request } from '../../../helpers/sdk-signer.js';
import { type SigV4Request, authenticate } from '../../../../src/s3/auth/sigv4.js';

const ACCESS_KEY = 'TESSERAKEY1';
const SECRET = 'coverage-secret';
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOST = '127.0.0.1:9000';
const secrets = (id: string): string | undefined => (id === ACCESS_KEY ? SECRET : undefined);
const signer = sdkSigner({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET });

/** A PutObject for uploads/x signed by the SDK signer; `unsignable` names headers it leaves out. */
async function signedPut(unsignable: string[] = []): Promise<SigV4Request> {
  return toSigV4Request(await signer.sign(
    {
      method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/uploads/x', query: {},
      headers: { host: HOST, 'content-type': 'text/plain', 'x-amz-meta-owner': 'alice' }, body: 'hello',
    },
    { signingDate: new Date(NOW), unsignableHeaders: new Set(unsignable) },
  ));
}

/** A presigned PUT URL for uploads/x (as @aws-sdk/s3-request-presigner makes it), sent with `headers` only. */
async function presignedPut(opts: { headers?: Record<string, string>; unsignable?: string[]; unhoistable?: string[] } = {}): Promise<SigV4Request> {
  return toSigV4Request(await signer.presign(
    {
      method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/uploads/x', query: {},
      // As the S3 presigner: the payload is UNSIGNED-PAYLOAD, hoisted into the query with the other x-amz-* headers.
      headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...opts.headers },
    },
    { signingDate: new Date(NOW), expiresIn: 3600, unsignableHeaders: new Set(opts.unsignable), unhoistableHeaders: new Set(opts.unhoistable) },
  ));
}

const withHeaders = (req: SigV4Request, extra: Record<string, string>): SigV4Request => ({ ...req, headers: { ...req.headers, ...extra } });

describe('header auth: unsigned headers', () => {
  it('the SDK-signed PUT verifies as sent (baseline)', async () => {
    const req = await signedPut();
    expect(authenticate(req, secrets, NOW).signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-meta-owner', 'x-amz-date']));
  });

  it('an added x-amz-copy-source is refused: AccessDenied, HeadersNotSigned', async () => {
    const req = withHeaders(await signedPut(), { 'x-amz-copy-source': 'private/secret.txt' });
    expect(refusal(() => authenticate(req, secrets, NOW))).toMatchObject({
      code: 'AccessDenied',
      message: 'There were headers present in the request which were not signed',
      details: { HeadersNotSigned: 'x-amz-copy-source' },
    });
  });

  it('added x-amz-meta-* and x-amz-acl are refused and all listed, sorted', async () => {
    const req = withHeaders(await signedPut(), { 'x-amz-meta-role': 'admin', 'x-amz-acl': 'public-read' });
    expect(refusal(() => authenticate(req, secrets, NOW))).toMatchObject({
      code: 'AccessDenied',
      details: { HeadersNotSigned: 'x-amz-acl, x-amz-meta-role' },
    });
  });

  it('SignedHeaders without host is refused (HeadersNotSigned host), though the signature is right', async () => {
    const req = await signedPut(['host']);
    expect(req.headers.authorization).not.toMatch(/SignedHeaders=[^,]*host/);
    expect(refusal(() => authenticate(req, secrets, NOW))).toMatchObject({ code: 'AccessDenied', details: { HeadersNotSigned: 'host' } });
  });

  it('x-amz-content-sha256 may be left unsigned (its value is the signed payload hash); other headers need no signing', async () => {
    const req = await signedPut(['x-amz-content-sha256']);
    expect(authenticate(withHeaders(req, { 'user-agent': 'x', expect: '100-continue' }), secrets, NOW).payloadHash).toMatch(/^[0-9a-f]{64}$/);
    const changed = withHeaders(req, { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' });
    expect(refusal(() => authenticate(changed, secrets, NOW))?.code).toBe('SignatureDoesNotMatch');
  });
});

describe('presigned URL: unsigned headers', () => {
  it('the presigned PUT verifies when sent bare (baseline)', async () => {
    const req = await presignedPut();
    expect(authenticate(req, secrets, NOW + 1000).presigned).toBe(true);
  });

  it('an added x-amz-copy-source is refused: AccessDenied, HeadersNotSigned', async () => {
    const req = withHeaders(await presignedPut(), { 'x-amz-copy-source': 'private/secret.txt' });
    expect(refusal(() => authenticate(req, secrets, NOW + 1000))).toMatchObject({
      code: 'AccessDenied',
      details: { HeadersNotSigned: 'x-amz-copy-source' },
    });
  });

  it('an added x-amz-meta-* is refused', async () => {
    const req = withHeaders(await presignedPut(), { 'x-amz-meta-role': 'admin' });
    expect(refusal(() => authenticate(req, secrets, NOW + 1000))).toMatchObject({ code: 'AccessDenied', details: { HeadersNotSigned: 'x-amz-meta-role' } });
  });

  it('an x-amz-* header the URL signed (left as a header) is accepted when sent', async () => {
    const req = await presignedPut({ headers: { 'x-amz-meta-owner': 'alice' }, unhoistable: ['x-amz-meta-owner'] });
    expect(decodeURIComponent(req.rawQuery)).toContain('X-Amz-SignedHeaders=host;x-amz-meta-owner');
    expect(authenticate(req, secrets, NOW + 1000).signedHeaders).toEqual(['host', 'x-amz-meta-owner']);
  });

  it('X-Amz-SignedHeaders without host is refused (HeadersNotSigned host)', async () => {
    const req = await presignedPut({ headers: { 'content-type': 'text/plain' }, unsignable: ['host'] });
    expect(decodeURIComponent(req.rawQuery)).toContain('X-Amz-SignedHeaders=content-type&');
    expect(refusal(() => authenticate(req, secrets, NOW + 1000))).toMatchObject({ code: 'AccessDenied', details: { HeadersNotSigned: 'host' } });
  });

  it('an unsigned x-amz-content-sha256 is tolerated and does not change the payload hash', async () => {
    const req = withHeaders(await presignedPut(), { 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' });
    expect(authenticate(req, secrets, NOW + 1000).payloadHash).toBe('UNSIGNED-PAYLOAD');
  });
});
