// Published SigV4 vectors: the Amazon S3 API reference examples (header auth, presigned URL)
// and the generic AWS SigV4 test suite cases that S3's canonicalisation applies to.
import { describe, expect, it } from 'vitest';
import { type HeaderBag, EMPTY_SHA256, authenticate, sha256Hex } from '../../../../src/s3/auth/sigv4.js';

const S3_KEY = 'AKIAIOSFODNN7EXAMPLE';
const S3_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const S3_NOW = Date.UTC(2013, 4, 24, 0, 0, 0);
const s3Secrets = (id: string): string | undefined => (id === S3_KEY ? S3_SECRET : undefined);

function s3Authorization(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${S3_KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;
}

// Amazon S3 API reference, sig-v4-header-based-auth, "Examples: Signature Calculations".
describe('S3 header auth examples', () => {
  const host = 'examplebucket.s3.amazonaws.com';

  it('GET Object with Range', () => {
    const ctx = authenticate(
      {
        method: 'GET',
        rawPath: '/test.txt',
        rawQuery: '',
        headers: {
          host,
          range: 'bytes=0-9',
          'x-amz-content-sha256': EMPTY_SHA256,
          'x-amz-date': '20130524T000000Z',
          authorization: s3Authorization(
            'host;range;x-amz-content-sha256;x-amz-date',
            'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
          ),
        },
      },
      s3Secrets,
      S3_NOW,
    );
    expect(ctx).toMatchObject({
      accessKeyId: S3_KEY,
      region: 'us-east-1',
      service: 's3',
      amzDate: '20130524T000000Z',
      scope: '20130524/us-east-1/s3/aws4_request',
      payloadHash: EMPTY_SHA256,
      presigned: false,
    });
    expect(ctx.signingKey).toHaveLength(32);
  });

  const putHeaders = (): HeaderBag => ({
    host,
    date: 'Fri, 24 May 2013 00:00:00 GMT',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': sha256Hex('Welcome to Amazon S3.'),
    authorization: s3Authorization(
      'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
      '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    ),
  });

  it('PUT Object, key with $, encoded or raw on the request line', () => {
    expect(sha256Hex('Welcome to Amazon S3.')).toBe('44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    for (const rawPath of ['/test%24file.text', '/test$file.text']) {
      const ctx = authenticate({ method: 'PUT', rawPath, rawQuery: '', headers: putHeaders() }, s3Secrets, S3_NOW);
      expect(ctx.signature).toBe('98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
    }
  });

  it('GET Bucket Lifecycle (query name without value)', () => {
    const headers: HeaderBag = {
      host,
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: s3Authorization('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
    };
    for (const rawQuery of ['lifecycle', 'lifecycle=']) {
      expect(authenticate({ method: 'GET', rawPath: '/', rawQuery, headers }, s3Secrets, S3_NOW).presigned).toBe(false);
    }
  });

  it('GET Bucket (List Objects), query sorted', () => {
    const headers: HeaderBag = {
      host,
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: s3Authorization('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
    };
    for (const rawQuery of ['max-keys=2&prefix=J', 'prefix=J&max-keys=2']) {
      expect(() => authenticate({ method: 'GET', rawPath: '/', rawQuery, headers }, s3Secrets, S3_NOW)).not.toThrow();
    }
  });
});

// Amazon S3 API reference, sigv4-query-string-auth, "An Example".
describe('S3 presigned URL example', () => {
  const rawQuery =
    'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
    '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const request = { method: 'GET', rawPath: '/test.txt', rawQuery, headers: { host: 'examplebucket.s3.amazonaws.com' } };

  it('verifies within its 86400 s lifetime', () => {
    const ctx = authenticate(request, s3Secrets, S3_NOW + 3_600_000);
    expect(ctx).toMatchObject({ presigned: true, payloadHash: 'UNSIGNED-PAYLOAD', amzDate: '20130524T000000Z' });
    expect(ctx.signature).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  it('is still valid at the last second and expired one second later', () => {
    expect(() => authenticate(request, s3Secrets, S3_NOW + 86_400_000)).not.toThrow();
    expect(() => authenticate(request, s3Secrets, S3_NOW + 86_401_000)).toThrow(
      expect.objectContaining({ code: 'AccessDenied', message: 'Request has expired' }),
    );
  });

  it('rejects a changed host', () => {
    const tampered = { ...request, headers: { host: 'examplebucket.s3.amazonaws.co' } };
    expect(() => authenticate(tampered, s3Secrets, S3_NOW)).toThrow(expect.objectContaining({ code: 'SignatureDoesNotMatch' }));
  });
});

// AWS SigV4 test suite (aws-sig-v4-test-suite), service 'service', us-east-1, 20150830T123600Z.
// Only cases whose canonical URI needs no path normalisation (S3 never normalises) are listed.
describe('generic AWS SigV4 test suite', () => {
  const SUITE_KEY = 'AKIDEXAMPLE';
  const SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
  const STS_TOKEN =
    'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';
  const UNRESERVED = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

  interface SuiteCase {
    name: string;
    method: string;
    rawPath: string;
    rawQuery?: string;
    headers?: HeaderBag;
    body?: string;
    signature: string;
  }
  const cases: SuiteCase[] = [
    { name: 'get-vanilla', method: 'GET', rawPath: '/', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'get-vanilla-empty-query-key', method: 'GET', rawPath: '/', rawQuery: 'Param1=value1', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
    { name: 'get-vanilla-query-order-key-case', method: 'GET', rawPath: '/', rawQuery: 'Param2=value2&Param1=value1', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
    { name: 'get-vanilla-query-order-key', method: 'GET', rawPath: '/', rawQuery: 'Param1=value2&Param1=Value1', signature: 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1' },
    { name: 'get-vanilla-query-order-value', method: 'GET', rawPath: '/', rawQuery: 'Param1=value2&Param1=value1', signature: '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694' },
    { name: 'get-vanilla-query-unreserved', method: 'GET', rawPath: '/', rawQuery: `${UNRESERVED}=${UNRESERVED}`, signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197' },
    { name: 'get-vanilla-utf8-query', method: 'GET', rawPath: '/', rawQuery: '%E1%88%B4=bar', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
    { name: 'get-unreserved', method: 'GET', rawPath: `/${UNRESERVED}`, signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
    { name: 'get-utf8', method: 'GET', rawPath: '/%E1%88%B4', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
    { name: 'get-space', method: 'GET', rawPath: '/example%20space/', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
    { name: 'get-header-key-duplicate', method: 'GET', rawPath: '/', headers: { 'my-header1': ['value2', 'value2', 'value1'] }, signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea' },
    { name: 'get-header-value-order', method: 'GET', rawPath: '/', headers: { 'my-header1': ['value4', 'value1', 'value3', 'value2'] }, signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01' },
    { name: 'get-header-value-trim', method: 'GET', rawPath: '/', headers: { 'my-header1': ' value1', 'my-header2': ' "a   b   c"' }, signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736' },
    { name: 'post-vanilla', method: 'POST', rawPath: '/', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
    { name: 'post-vanilla-query', method: 'POST', rawPath: '/', rawQuery: 'Param1=value1', signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11' },
    { name: 'post-header-key-sort', method: 'POST', rawPath: '/', headers: { 'my-header1': 'value1' }, signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c' },
    { name: 'post-header-value-case', method: 'POST', rawPath: '/', headers: { 'my-header1': 'VALUE1' }, signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d' },
    { name: 'post-x-www-form-urlencoded', method: 'POST', rawPath: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Param1=value1', signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a' },
    { name: 'post-x-www-form-urlencoded-parameters', method: 'POST', rawPath: '/', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf8' }, body: 'Param1=value1', signature: '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe' },
    { name: 'post-sts-header-before', method: 'POST', rawPath: '/', headers: { 'x-amz-security-token': STS_TOKEN }, signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead' },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const headers: Record<string, string | string[]> = { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', ...c.headers };
      const signedHeaders = Object.keys(headers).sort().join(';');
      headers.authorization = `AWS4-HMAC-SHA256 Credential=${SUITE_KEY}/20150830/us-east-1/service/aws4_request, SignedHeaders=${signedHeaders}, Signature=${c.signature}`;
      const ctx = authenticate(
        { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery ?? '', headers },
        (id) => (id === SUITE_KEY ? SUITE_SECRET : undefined),
        NOW,
        { service: 'service', region: 'us-east-1', payloadHashWhenAbsent: sha256Hex(c.body ?? '') },
      );
      expect(ctx.signature).toBe(c.signature);
    });
  }
});
