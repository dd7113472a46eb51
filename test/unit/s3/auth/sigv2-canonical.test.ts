// SigV2 canonical resource for every path form, against requests botocore (signature_version='s3')
// sent byte for byte (captured with a fixed Date, Tue, 27 Mar 2007 21:15:45 GMT) and the Amazon
// S3 developer guide's examples ("Signing and authenticating REST requests"; its published
// signatures are computed for bucket "johnsmith"). Also: every x-amz-* header is signed, and
// presigned URLs live at most 7 days.
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../../helpers/error-code.js';
import { authenticate } from '../../../../src/s3/auth/sigv4.js';
import { clockSkewMaxMs, presignExpiresMaxSeconds } from '../../../../src/util/limits.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const secrets = (id: string): string | undefined => (id === KEY ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined);
const DATE = 'Tue, 27 Mar 2007 21:15:45 GMT';
const NOW = Date.parse(DATE) + 5000;

interface Captured {
  style: 'path' | 'virtual';
  op: string;
  method: string;
  host: string;
  rawPath: string;
  rawQuery: string;
  amz: Record<string, string>;
  signature: string;
}

// botocore 1.43 HmacV1Auth; path style sends /my-bucket?... but signs /my-bucket/?...
const botocore: Captured[] = [
  { style: 'path', op: 'ListObjects', method: 'GET', host: '127.0.0.1:9443', rawPath: '/my-bucket', rawQuery: 'encoding-type=url', amz: {}, signature: 'ejJScq57j4o7PypR3i75uPO+4aU=' },
  { style: 'path', op: 'ListObjectsV2', method: 'GET', host: '127.0.0.1:9443', rawPath: '/my-bucket', rawQuery: 'list-type=2&prefix=a%20b%2F&encoding-type=url', amz: {}, signature: 'ejJScq57j4o7PypR3i75uPO+4aU=' },
  { style: 'path', op: 'GetBucketAcl', method: 'GET', host: '127.0.0.1:9443', rawPath: '/my-bucket', rawQuery: 'acl', amz: {}, signature: 'RJ/ymtT4O55xczICZjt/uQFPByM=' },
  { style: 'path', op: 'ListMultipartUploads', method: 'GET', host: '127.0.0.1:9443', rawPath: '/my-bucket', rawQuery: 'uploads', amz: {}, signature: 'zwv/k0URtKPxnI679g7p3lWSj6Q=' },
  { style: 'path', op: 'DeleteObjects', method: 'POST', host: '127.0.0.1:9443', rawPath: '/my-bucket', rawQuery: 'delete', amz: { 'x-amz-checksum-crc32': 'Yb1hmA==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'RI6c2KvHZ3obOqRu96KZuacg3GM=' },
  { style: 'path', op: 'PutObject', method: 'PUT', host: '127.0.0.1:9443', rawPath: '/my-bucket/dir/a%20b%2Bc%26d%3De%3Ff~g%27s%20%281%29%2A%21.txt', rawQuery: '', amz: { 'x-amz-meta-note': 'v', 'x-amz-checksum-crc32': 'jNwWgw==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'QlAfm1zjqVtIqZvSZ51fk8czhfw=' },
  { style: 'path', op: 'UploadPart', method: 'PUT', host: '127.0.0.1:9443', rawPath: '/my-bucket/big%20file', rawQuery: 'uploadId=a%2Fb%2Bc%3D&partNumber=2', amz: { 'x-amz-checksum-crc32': 'jNwWgw==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'n4lfolQR3umbevDvQtgu6Ym3nTc=' },
  { style: 'virtual', op: 'ListObjects', method: 'GET', host: 'my-bucket.s3.localhost:9443', rawPath: '/', rawQuery: 'encoding-type=url', amz: {}, signature: 'ejJScq57j4o7PypR3i75uPO+4aU=' },
  { style: 'virtual', op: 'ListObjectsV2', method: 'GET', host: 'my-bucket.s3.localhost:9443', rawPath: '/', rawQuery: 'list-type=2&prefix=a%20b%2F&encoding-type=url', amz: {}, signature: 'ejJScq57j4o7PypR3i75uPO+4aU=' },
  { style: 'virtual', op: 'GetBucketAcl', method: 'GET', host: 'my-bucket.s3.localhost:9443', rawPath: '/', rawQuery: 'acl', amz: {}, signature: 'RJ/ymtT4O55xczICZjt/uQFPByM=' },
  { style: 'virtual', op: 'ListMultipartUploads', method: 'GET', host: 'my-bucket.s3.localhost:9443', rawPath: '/', rawQuery: 'uploads', amz: {}, signature: 'zwv/k0URtKPxnI679g7p3lWSj6Q=' },
  { style: 'virtual', op: 'DeleteObjects', method: 'POST', host: 'my-bucket.s3.localhost:9443', rawPath: '/', rawQuery: 'delete', amz: { 'x-amz-checksum-crc32': 'Yb1hmA==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'RI6c2KvHZ3obOqRu96KZuacg3GM=' },
  { style: 'virtual', op: 'PutObject', method: 'PUT', host: 'my-bucket.s3.localhost:9443', rawPath: '/dir/a%20b%2Bc%26d%3De%3Ff~g%27s%20%281%29%2A%21.txt', rawQuery: '', amz: { 'x-amz-meta-note': 'v', 'x-amz-checksum-crc32': 'jNwWgw==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'QlAfm1zjqVtIqZvSZ51fk8czhfw=' },
  { style: 'virtual', op: 'UploadPart', method: 'PUT', host: 'my-bucket.s3.localhost:9443', rawPath: '/big%20file', rawQuery: 'uploadId=a%2Fb%2Bc%3D&partNumber=2', amz: { 'x-amz-checksum-crc32': 'jNwWgw==', 'x-amz-sdk-checksum-algorithm': 'CRC32' }, signature: 'n4lfolQR3umbevDvQtgu6Ym3nTc=' },
];

function request(c: Captured, extra: Record<string, string> = {}): Parameters<typeof authenticate>[0] {
  return { method: c.method, rawPath: c.rawPath, rawQuery: c.rawQuery, headers: { host: c.host, date: DATE, ...c.amz, ...extra, authorization: `AWS ${KEY}:${c.signature}` } };
}

const options = (c: Captured): { virtualHostBucket?: string } => (c.style === 'virtual' ? { virtualHostBucket: 'my-bucket' } : {});

describe('botocore SigV2 requests verify in both addressing styles', () => {
  for (const c of botocore) {
    it(`${c.style} ${c.op} ${c.method} ${c.rawPath}${c.rawQuery ? `?${c.rawQuery}` : ''}`, () => {
      expect(authenticate(request(c), secrets, NOW, options(c)).accessKeyId).toBe(KEY);
    });
  }

  it('path style bucket-level with the trailing slash sent verifies too; another bucket or sub-resource does not', () => {
    const acl = botocore.find((c) => c.style === 'path' && c.op === 'GetBucketAcl')!;
    expect(codeOf(() => authenticate({ ...request(acl), rawPath: '/my-bucket/' }, secrets, NOW))).toBeUndefined();
    expect(codeOf(() => authenticate({ ...request(acl), rawPath: '/my-bucket2' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...request(acl), rawPath: '/my-bucket/acl' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...request(acl), rawQuery: 'policy' }, secrets, NOW))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate(request(acl), secrets, NOW, { virtualHostBucket: 'other' }))).toBe('SignatureDoesNotMatch');
  });
});

describe('SigV2 signs every x-amz-* header', () => {
  const put = botocore.find((c) => c.style === 'path' && c.op === 'PutObject')!;
  for (const [name, value] of [['x-amz-copy-source', 'private/secret.txt'], ['x-amz-meta-role', 'admin'], ['x-amz-acl', 'public-read']] as const) {
    it(`an added ${name} breaks the signature`, () => {
      expect(codeOf(() => authenticate(request(put, { [name]: value }), secrets, NOW))).toBe('SignatureDoesNotMatch');
    });
  }
});

describe('the developer guide examples (bucket johnsmith)', () => {
  const at = (date: string, method: string, host: string, rawPath: string, rawQuery: string, signature: string, vhost?: string): string | undefined =>
    codeOf(() =>
      authenticate({ method, rawPath, rawQuery, headers: { host, date, authorization: `AWS ${KEY}:${signature}` } }, secrets, Date.parse(date), vhost ? { virtualHostBucket: vhost } : {}),
    );

  it('Object GET, virtual host: /johnsmith/photos/puppy.jpg', () => {
    expect(at('Tue, 27 Mar 2007 19:36:42 +0000', 'GET', 'johnsmith.s3.amazonaws.com', '/photos/puppy.jpg', '', 'bWq2s1WEIj+Ydj0vQ697zp+IXMU=', 'johnsmith')).toBeUndefined();
  });

  it('List, virtual host: /johnsmith/ without the (non sub-resource) query', () => {
    expect(at('Tue, 27 Mar 2007 19:42:41 +0000', 'GET', 'johnsmith.s3.amazonaws.com', '/', 'prefix=photos&max-keys=50&marker=puppy', 'htDYFYduRNen8P9ZfE/s9SuKy0U=', 'johnsmith')).toBeUndefined();
  });

  it('Fetch ?acl, virtual host: /johnsmith/?acl', () => {
    expect(at('Tue, 27 Mar 2007 19:44:46 +0000', 'GET', 'johnsmith.s3.amazonaws.com', '/', 'acl', 'c2WLPFtWHVgbEmeEG93a4cG37dM=', 'johnsmith')).toBeUndefined();
  });

  it('Unicode keys, path style: the path signed literally, hex case kept', () => {
    const path = '/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re';
    expect(at('Wed, 28 Mar 2007 01:49:49 +0000', 'GET', 's3.amazonaws.com', path, '', 'DNEZGsoieTZ92F3bUfSPQcbGmlM=')).toBeUndefined();
    expect(at('Wed, 28 Mar 2007 01:49:49 +0000', 'GET', 's3.amazonaws.com', path.toUpperCase(), '', 'DNEZGsoieTZ92F3bUfSPQcbGmlM=')).toBe('SignatureDoesNotMatch');
  });

  it('List all my buckets: /', () => {
    expect(at('Wed, 28 Mar 2007 01:29:59 +0000', 'GET', 's3.amazonaws.com', '/', '', 'qGdzdERIC03wnaRNKh6OqZehG9s=')).toBeUndefined();
  });
});

describe('SigV2 presigned URL lifetime', () => {
  // botocore HmacV1QueryAuth (aws s3 presign), Expires fixed at 1795310510.
  const expires = 1795310510;
  const req = {
    method: 'GET',
    rawPath: '/my-bucket/dir/a%20b%2Bc.txt',
    rawQuery: `response-content-type=text%2Fplain&AWSAccessKeyId=${KEY}&Signature=L0whKnRfxl%2FJn6gtCYfnsSsk4rM%3D&Expires=${expires}`,
    headers: { host: '127.0.0.1:9443' },
  };
  const weekMs = presignExpiresMaxSeconds * 1000;

  it(`Expires more than ${presignExpiresMaxSeconds} s (+ clock skew) ahead: AuthorizationQueryParametersError`, () => {
    expect(codeOf(() => authenticate(req, secrets, expires * 1000 - weekMs - clockSkewMaxMs - 1000))).toBe('AuthorizationQueryParametersError');
    expect(codeOf(() => authenticate(req, secrets, expires * 1000 - 365 * 24 * 3600 * 1000))).toBe('AuthorizationQueryParametersError');
  });

  it('a week ahead (with skew allowance) verifies, and so does a URL near its end', () => {
    expect(codeOf(() => authenticate(req, secrets, expires * 1000 - weekMs - clockSkewMaxMs))).toBeUndefined();
    expect(codeOf(() => authenticate(req, secrets, expires * 1000 - weekMs))).toBeUndefined();
    expect(codeOf(() => authenticate(req, secrets, expires * 1000 - 1000))).toBeUndefined();
  });
});
