// Round trips against the real AWS SDK signer (@smithy/signature-v4, which @aws-sdk/client-s3 and
// @aws-sdk/s3-request-presigner use) configured as the S3 client configures it.
import { describe, expect, it } from 'vitest';
import { encodeKey, sdkSigner, toSigV4Request } from '../../../helpers/sdk-signer.js';
import { type SigV4Request, authenticate } from '../../../../src/s3/auth/sigv4.js';

const ACCESS_KEY = 'TESSERAKEY1';
const SECRET = 'sEcReT/with+odd=chars~';
const NOW = Date.UTC(2026, 0, 15, 10, 30, 0);
const secrets = (id: string): string | undefined => (id === ACCESS_KEY ? SECRET : undefined);
const HOST = '127.0.0.1:9000';

const signer = sdkSigner({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET });

async function sdkSign(method: string, key: string, query: Record<string, string> = {}, body = ''): Promise<SigV4Request> {
  return toSigV4Request(await signer.sign(
    { method, protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: `/bucket/${encodeKey(key)}`, query, headers: { host: HOST, 'content-type': 'text/plain', 'x-amz-meta-note': '  spaced   value ' }, body },
    { signingDate: new Date(NOW) },
  ));
}

const ODD_KEYS = [
  'plain.txt',
  'with space.txt',
  'ünïcødé/日本語/файл.bin',
  'plus+sign=equals&amp',
  'tilde~and_unreserved-._',
  '100%done %20 literal',
  "quote's (paren)*!",
  'dir//double//slash/',
  'emoji 😀 key',
  '$dollar@at:colon,comma;semi',
];

describe('header-signed requests from the SDK signer', () => {
  for (const key of ODD_KEYS) {
    it(`accepts key ${JSON.stringify(key)} and refuses a one-byte tamper`, async () => {
      const req = await sdkSign('PUT', key, {}, 'hello');
      const ctx = authenticate(req, secrets, NOW, { region: 'us-east-1' });
      expect(ctx.payloadHash).toMatch(/^[0-9a-f]{64}$/);
      expect(ctx.signedHeaders).toContain('host');
      const lastChar = req.rawPath.at(-1) === 'x' ? 'y' : 'x';
      const tampered = { ...req, rawPath: req.rawPath.slice(0, -1) + lastChar };
      expect(() => authenticate(tampered, secrets, NOW)).toThrow(expect.objectContaining({ code: 'SignatureDoesNotMatch' }));
      const headers = { ...req.headers, 'x-amz-meta-note': 'spaced value!' };
      expect(() => authenticate({ ...req, headers }, secrets, NOW)).toThrow(expect.objectContaining({ code: 'SignatureDoesNotMatch' }));
    });
  }

  it('accepts odd query names and values (ListObjectsV2 style)', async () => {
    const req = await sdkSign('GET', '', { 'list-type': '2', prefix: 'a b+c/ü', delimiter: '/', 'start-after': '~x=y&z', 'continuation-token': 'AbC+/=' });
    expect(() => authenticate(req, secrets, NOW)).not.toThrow();
    expect(() => authenticate({ ...req, rawQuery: req.rawQuery.replace('list-type=2', 'list-type=1') }, secrets, NOW)).toThrow(
      expect.objectContaining({ code: 'SignatureDoesNotMatch' }),
    );
  });

  it('accepts a raw "+" in the query sent for a space', async () => {
    const req = await sdkSign('GET', '', { prefix: 'a b' });
    expect(req.rawQuery).toBe('prefix=a%20b');
    expect(() => authenticate({ ...req, rawQuery: 'prefix=a+b' }, secrets, NOW)).not.toThrow();
  });
});

describe('presigned URLs from the SDK signer (as @aws-sdk/s3-request-presigner does)', () => {
  async function presign(key: string, query: Record<string, string>, expiresIn: number): Promise<SigV4Request> {
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: `/bucket/${encodeKey(key)}`,
        query: { 'x-id': 'GetObject', ...query },
        headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      { expiresIn, signingDate: new Date(NOW) },
    );
    const req = toSigV4Request(signed);
    const headers: Record<string, string | string[] | undefined> = { ...req.headers };
    delete headers['x-amz-content-sha256']; // a browser sends only the URL
    return { ...req, headers };
  }

  for (const key of ODD_KEYS) {
    it(`accepts key ${JSON.stringify(key)} within its lifetime and refuses tampering`, async () => {
      const req = await presign(key, { 'response-content-disposition': 'attachment; filename="ü ä+1.txt"' }, 3600);
      const ctx = authenticate(req, secrets, NOW + 3_599_000, { region: 'us-east-1' });
      expect(ctx).toMatchObject({ presigned: true, payloadHash: 'UNSIGNED-PAYLOAD' });
      expect(() => authenticate(req, secrets, NOW + 3_601_000)).toThrow(expect.objectContaining({ code: 'AccessDenied' }));
      const tampered = { ...req, rawQuery: req.rawQuery.replace('attachment', 'attachmenT') };
      expect(() => authenticate(tampered, secrets, NOW)).toThrow(expect.objectContaining({ code: 'SignatureDoesNotMatch' }));
    });
  }

  it('the SDK refuses over-long lifetimes itself; the maximum (7 days) verifies', async () => {
    const req = await presign('k', {}, 604_800);
    expect(() => authenticate(req, secrets, NOW + 604_800_000)).not.toThrow();
  });
});
