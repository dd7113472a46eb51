// SigV2 (legacy) header and query authentication, checked against signatures computed by
// botocore's HmacV1Auth / HmacV1QueryAuth (an independent implementation; the aws cli v1
// presigns with it by default).
import { codeOf } from '../../../helpers/error-code.js';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../../src/s3/auth/sigv4.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const secrets = (id: string): string | undefined => (id === KEY ? 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' : undefined);

describe('SigV2 presigned URL (aws s3 presign)', () => {
  // botocore HmacV1QueryAuth, Expires fixed at 1795310510.
  const rawPath = '/my-bucket/dir/a%20b%2Bc.txt';
  const rawQuery = 'response-content-type=text%2Fplain&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=L0whKnRfxl%2FJn6gtCYfnsSsk4rM%3D&Expires=1795310510';
  const req = { method: 'GET', rawPath, rawQuery, headers: { host: '127.0.0.1:9443' } };

  it('accepts the botocore signature before expiry', () => {
    const auth = authenticate(req, secrets, 1795310510 * 1000 - 1000);
    expect(auth.accessKeyId).toBe(KEY);
    expect(auth.presigned).toBe(true);
    expect(auth.payloadHash).toBe('UNSIGNED-PAYLOAD');
  });

  it('refuses it after expiry, and when tampered', () => {
    expect(codeOf(() => authenticate(req, secrets, 1795310510 * 1000 + 1000))).toBe('AccessDenied');
    expect(codeOf(() => authenticate({ ...req, rawPath: '/my-bucket/dir/a%20b%2Bc.txu' }, secrets, 1795310510 * 1000 - 1000))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...req, method: 'PUT' }, secrets, 1795310510 * 1000 - 1000))).toBe('SignatureDoesNotMatch');
  });
});

describe('SigV2 Authorization header', () => {
  // botocore HmacV1Auth; it signs the Date header's value even with x-amz-date present.
  const headers = {
    host: '127.0.0.1:9443',
    date: 'Sun, 22 Nov 2026 00:23:11 GMT',
    'x-amz-date': 'Tue, 27 Mar 2007 21:15:45 +0000',
    'content-type': 'image/jpeg',
    'content-md5': '1B2M2Y8AsgTpgAmY7PhCfg==',
    'x-amz-meta-a': ' v ',
    'x-amz-meta-b': 'w',
    authorization: `AWS ${KEY}:w2GE0F/Xnt/mmPNVJ56JSN//p9E=`,
  };
  const req = { method: 'PUT', rawPath: '/b/k%20x', rawQuery: 'uploadId=a%2Fb&partNumber=2&foo=1', headers };
  const now = Date.parse('Tue, 27 Mar 2007 21:16:00 +0000');

  it('accepts the botocore signature (sub-resources sorted and decoded, other query ignored)', () => {
    expect(authenticate(req, secrets, now).accessKeyId).toBe(KEY);
  });

  it('refuses a changed signed header, an unknown key and a skewed clock', () => {
    expect(codeOf(() => authenticate({ ...req, headers: { ...headers, 'x-amz-meta-b': 'x' } }, secrets, now))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => authenticate({ ...req, headers: { ...headers, authorization: 'AWS NOPE:w2GE0F/Xnt/mmPNVJ56JSN//p9E=' } }, secrets, now))).toBe('InvalidAccessKeyId');
    expect(codeOf(() => authenticate(req, secrets, now + 20 * 60 * 1000))).toBe('RequestTimeTooSkewed');
  });
});
