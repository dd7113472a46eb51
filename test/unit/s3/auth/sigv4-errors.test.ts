// authenticate() refusals: each failure maps to the AWS error code S3 returns for it.
import { codeOf } from '../../../helpers/error-code.js';
import { describe, expect, it } from 'vitest';
import { clockSkewMaxMs } from '../../../../src/util/limits.js';
import { type HeaderBag, type SigV4Request, EMPTY_SHA256, authenticate, deriveSigningKey } from '../../../../src/s3/auth/sigv4.js';
import { canonicalUri, parseCredential } from '../../../../src/s3/auth/canonical.js';
import { percentDecode, uriEncode } from '../../../../src/s3/auth/uri-encode.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2013, 4, 24);
const secrets = (id: string): string | undefined => (id === KEY ? SECRET : undefined);
const GOOD_SIG = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';

/** The S3 reference's GET Object example, with header overrides (undefined deletes). */
function getObject(overrides: Record<string, string | undefined> = {}, rawQuery = ''): SigV4Request {
  const headers: Record<string, string> = {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': '20130524T000000Z',
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${GOOD_SIG}`,
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { method: 'GET', rawPath: '/test.txt', rawQuery, headers };
}

describe('header auth refusals', () => {
  it('the unmodified example verifies (baseline)', () => {
    expect(codeOf(() => authenticate(getObject(), secrets, NOW))).toBeUndefined();
  });

  it('no credentials at all: AccessDenied', () => {
    expect(codeOf(() => authenticate(getObject({ authorization: undefined }), secrets, NOW))).toBe('AccessDenied');
  });

  it('unknown access key: InvalidAccessKeyId', () => {
    expect(codeOf(() => authenticate(getObject(), () => undefined, NOW))).toBe('InvalidAccessKeyId');
  });

  it('one-byte tampering of a signed header, the path, the method or the signature: SignatureDoesNotMatch', () => {
    expect(codeOf(() => authenticate(getObject({ range: 'bytes=0-8' }), secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...getObject(), rawPath: '/test.txT' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...getObject(), method: 'PUT' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...getObject(), rawQuery: 'x' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    const auth = (getObject().headers as Record<string, string>).authorization!;
    expect(codeOf(() => authenticate(getObject({ authorization: auth.replace(/1$/, '2') }), secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate(getObject({ authorization: auth.replace(/f0e8/, 'F0E8') }), secrets, NOW))).toBe('SignatureDoesNotMatch');
  });

  it('an unsigned extra header does not matter; a signed one missing does', () => {
    expect(codeOf(() => authenticate(getObject({ 'user-agent': 'x' }), secrets, NOW))).toBeUndefined();
    expect(codeOf(() => authenticate(getObject({ range: undefined }), secrets, NOW))).toBe('SignatureDoesNotMatch');
  });

  it('malformed Authorization header: AuthorizationHeaderMalformed', () => {
    const missing = `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws4_request,Signature=${GOOD_SIG}`;
    const badCredential = `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1,SignedHeaders=host,Signature=${GOOD_SIG}`;
    const wrongService = `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/iam/aws4_request,SignedHeaders=host,Signature=${GOOD_SIG}`;
    const wrongDate = `AWS4-HMAC-SHA256 Credential=${KEY}/20130525/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=${GOOD_SIG}`;
    const wrongTerminal = `AWS4-HMAC-SHA256 Credential=${KEY}/20130524/us-east-1/s3/aws5_request,SignedHeaders=host,Signature=${GOOD_SIG}`;
    for (const authorization of [missing, badCredential, wrongService, wrongDate, wrongTerminal, 'AWS4-HMAC-SHA256']) {
      expect(codeOf(() => authenticate(getObject({ authorization }), secrets, NOW))).toBe('AuthorizationHeaderMalformed');
    }
  });

  it('region other than the configured one: AuthorizationHeaderMalformed naming the region', () => {
    expect(() => authenticate(getObject(), secrets, NOW, { region: 'eu-west-1' })).toThrow(
      expect.objectContaining({ code: 'AuthorizationHeaderMalformed', details: { Region: 'eu-west-1' } }),
    );
    expect(codeOf(() => authenticate(getObject(), secrets, NOW, { region: 'us-east-1' }))).toBeUndefined();
  });

  it('SigV2 goes to the SigV2 verifier; other schemes InvalidArgument', () => {
    // The fixture's x-amz-date is SigV4's basic format, which SigV2 does not read: no usable date.
    expect(codeOf(() => authenticate(getObject({ authorization: `AWS ${KEY}:frJIUN8DYpKDtOLCwo//yllqDzg=` }), secrets, NOW))).toBe('AccessDenied');
    expect(codeOf(() => authenticate(getObject({ authorization: 'Bearer abc' }), secrets, NOW))).toBe('InvalidArgument');
    expect(codeOf(() => authenticate(getObject({ authorization: undefined }, 'AWSAccessKeyId=a&Signature=b&Expires=1'), secrets, NOW))).toBe('InvalidAccessKeyId');
  });

  it('header and query auth together: InvalidArgument', () => {
    expect(codeOf(() => authenticate(getObject({}, 'X-Amz-Algorithm=AWS4-HMAC-SHA256'), secrets, NOW))).toBe('InvalidArgument');
  });

  it('x-amz-content-sha256 missing: InvalidRequest; not a hash or known value: InvalidArgument', () => {
    expect(codeOf(() => authenticate(getObject({ 'x-amz-content-sha256': undefined }), secrets, NOW))).toBe('InvalidRequest');
    expect(codeOf(() => authenticate(getObject({ 'x-amz-content-sha256': 'abc' }), secrets, NOW))).toBe('InvalidArgument');
  });

  it('no usable date: AccessDenied', () => {
    expect(codeOf(() => authenticate(getObject({ 'x-amz-date': undefined }), secrets, NOW))).toBe('AccessDenied');
    expect(codeOf(() => authenticate(getObject({ 'x-amz-date': '2013-05-24T00:00:00Z' }), secrets, NOW))).toBe('AccessDenied');
  });

  it(`clock skew beyond ${clockSkewMaxMs} ms either way: RequestTimeTooSkewed`, () => {
    expect(codeOf(() => authenticate(getObject(), secrets, NOW + clockSkewMaxMs))).toBeUndefined();
    expect(codeOf(() => authenticate(getObject(), secrets, NOW - clockSkewMaxMs))).toBeUndefined();
    expect(codeOf(() => authenticate(getObject(), secrets, NOW + clockSkewMaxMs + 1000))).toBe('RequestTimeTooSkewed');
    expect(codeOf(() => authenticate(getObject(), secrets, NOW - clockSkewMaxMs - 1000))).toBe('RequestTimeTooSkewed');
  });
});

describe('presigned refusals', () => {
  const base: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${KEY}/20130524/us-east-1/s3/aws4_request`,
    'X-Amz-Date': '20130524T000000Z',
    'X-Amz-Expires': '86400',
    'X-Amz-SignedHeaders': 'host',
    'X-Amz-Signature': 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
  };
  const headers: HeaderBag = { host: 'examplebucket.s3.amazonaws.com' };
  const presigned = (overrides: Record<string, string | undefined> = {}): SigV4Request => {
    const q = { ...base, ...overrides };
    const rawQuery = Object.entries(q)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${uriEncode(v, true)}`)
      .join('&');
    return { method: 'GET', rawPath: '/test.txt', rawQuery, headers };
  };

  it('baseline verifies', () => {
    expect(codeOf(() => authenticate(presigned(), secrets, NOW))).toBeUndefined();
  });

  it('a missing parameter: AuthorizationQueryParametersError', () => {
    for (const name of Object.keys(base).filter((n) => n !== 'X-Amz-Algorithm')) {
      expect(codeOf(() => authenticate(presigned({ [name]: undefined }), secrets, NOW))).toBe('AuthorizationQueryParametersError');
    }
  });

  it('X-Amz-Expires negative, over 604800 or not a number: AuthorizationQueryParametersError', () => {
    for (const value of ['604801', '-5', 'abc', '1.5']) {
      expect(codeOf(() => authenticate(presigned({ 'X-Amz-Expires': value }), secrets, NOW))).toBe('AuthorizationQueryParametersError');
    }
    // In range: shape accepted, the (unchanged) signature no longer matches.
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Expires': '604800' }), secrets, NOW))).toBe('SignatureDoesNotMatch');
  });

  it('bad algorithm, credential or date: AuthorizationQueryParametersError', () => {
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Algorithm': 'AWS4-HMAC-SHA1' }), secrets, NOW))).toBe('AuthorizationQueryParametersError');
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Credential': `${KEY}/20130524` }), secrets, NOW))).toBe('AuthorizationQueryParametersError');
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Date': '20130524' }), secrets, NOW))).toBe('AuthorizationQueryParametersError');
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Date': '20130525T000000Z' }), secrets, NOW + 86_400_000))).toBe('AuthorizationQueryParametersError');
  });

  it('expired: AccessDenied "Request has expired"; dated in the future: AccessDenied', () => {
    expect(() => authenticate(presigned(), secrets, NOW + 86_400_001)).toThrow(
      expect.objectContaining({ code: 'AccessDenied', message: 'Request has expired' }),
    );
    expect(() => authenticate(presigned(), secrets, NOW - clockSkewMaxMs - 1)).toThrow(
      expect.objectContaining({ code: 'AccessDenied', message: 'Request is not valid yet' }),
    );
  });

  it('unknown access key: InvalidAccessKeyId; tampered signature: SignatureDoesNotMatch', () => {
    expect(codeOf(() => authenticate(presigned(), () => undefined, NOW))).toBe('InvalidAccessKeyId');
    expect(codeOf(() => authenticate(presigned({ 'X-Amz-Signature': base['X-Amz-Signature']!.replace(/4$/, '5') }), secrets, NOW))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(codeOf(() => authenticate({ ...presigned(), rawPath: '/test.txu' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
  });
});

describe('building blocks', () => {
  it('UriEncode keeps unreserved, encodes the rest as upper-case UTF-8 %XX', () => {
    expect(uriEncode('a b/c~d+e$é', false)).toBe('a%20b/c~d%2Be%24%C3%A9');
    expect(uriEncode('a/b', true)).toBe('a%2Fb');
    expect(uriEncode("!'()*", true)).toBe('%21%27%28%29%2A');
    expect(uriEncode('😀', true)).toBe('%F0%9F%98%80');
  });

  it('percentDecode never throws and keeps stray % signs', () => {
    expect(percentDecode('100%')).toBe('100%');
    expect(percentDecode('%zz%41')).toBe('%zzA');
    expect(percentDecode('a+b', true)).toBe('a b');
    expect(percentDecode('%E6%97%A5')).toBe('日');
  });

  it('canonical URI encodes exactly once and keeps an encoded slash inside a segment', () => {
    expect(canonicalUri('/a%2Fb/c d/%7Etilde/%25')).toBe('/a%2Fb/c%20d/~tilde/%25');
    expect(canonicalUri('')).toBe('/');
    expect(canonicalUri('/a//b/')).toBe('/a//b/');
  });

  it('credentials split from the right; the signing key is cached', () => {
    expect(parseCredential('AK/ID/20130524/us-east-1/s3/aws4_request')).toMatchObject({ accessKeyId: 'AK/ID', date: '20130524' });
    expect(parseCredential('/20130524/us-east-1/s3/aws4_request')).toBeUndefined();
    expect(deriveSigningKey(SECRET, '20130524', 'us-east-1', 's3')).toBe(deriveSigningKey(SECRET, '20130524', 'us-east-1', 's3'));
  });
});
