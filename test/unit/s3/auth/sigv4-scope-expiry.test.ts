// Credential scope region, presigned X-Amz-Expires edge cases and empty Authorization values,
// each answered as S3 answers it (codes, messages and the Region detail SDKs read to retry).
import { describe, expect, it } from 'vitest';
import { errorOf as refusal } from '../../../helpers/error-code.js';
import { sdkSigner, toSigV4Request } from '../../../helpers/sdk-signer.js';
import { type SigV4Request, authenticate } from '../../../../src/s3/auth/sigv4.js';
import { presignExpiresMaxSeconds } from '../../../../src/util/limits.js';

const ACCESS_KEY = 'TESSERAKEY1';
const SECRET = 'scope-secret';
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOST = '127.0.0.1:9000';
const SERVER = { region: 'us-east-1' };
const secrets = (id: string): string | undefined => (id === ACCESS_KEY ? SECRET : undefined);
const signer = (region: string) => sdkSigner({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET }, { region });

const getRequest = { method: 'GET', protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: '/bucket/key', query: {} };

async function signedGet(region = 'us-east-1'): Promise<SigV4Request> {
  return toSigV4Request(await signer(region).sign({ ...getRequest, headers: { host: HOST } }, { signingDate: new Date(NOW) }));
}

/** A presigned GET (the SDK refuses odd X-Amz-Expires values: withExpires() rewrites them after signing). */
async function presignedGet(opts: { region?: string; expiresIn?: number } = {}): Promise<SigV4Request> {
  return toSigV4Request(await signer(opts.region ?? 'us-east-1').presign(
    { ...getRequest, headers: { host: HOST, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
    { signingDate: new Date(NOW), expiresIn: opts.expiresIn ?? 3600 },
  ));
}

function withExpires(req: SigV4Request, value: string): SigV4Request {
  return { ...req, rawQuery: req.rawQuery.replace(/X-Amz-Expires=[^&]*/, `X-Amz-Expires=${value}`) };
}

describe('credential scope region', () => {
  it('header auth scoped to eu-west-1 on a us-east-1 server: AuthorizationHeaderMalformed naming the server region', async () => {
    const req = await signedGet('eu-west-1');
    expect(authenticate(req, secrets, NOW).region).toBe('eu-west-1'); // valid signature: only the region is wrong
    expect(refusal(() => authenticate(req, secrets, NOW, SERVER))).toMatchObject({
      code: 'AuthorizationHeaderMalformed',
      message: "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
      details: { Region: 'us-east-1' },
    });
    expect(authenticate(await signedGet(), secrets, NOW, SERVER).region).toBe('us-east-1');
  });

  it('presigned URL scoped to eu-west-1: AuthorizationQueryParametersError with Region', async () => {
    const req = await presignedGet({ region: 'eu-west-1' });
    expect(refusal(() => authenticate(req, secrets, NOW, SERVER))).toMatchObject({
      code: 'AuthorizationQueryParametersError',
      message: "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'",
      details: { Region: 'us-east-1' },
    });
  });
});

describe('presigned X-Amz-Expires edge cases', () => {
  it('0: parses, and the URL is expired from its first second (403 AccessDenied "Request has expired")', async () => {
    const req = withExpires(await presignedGet(), '0');
    for (const now of [NOW, NOW + 1, NOW + 1000]) {
      expect(refusal(() => authenticate(req, secrets, now))).toMatchObject({ code: 'AccessDenied', message: 'Request has expired' });
    }
  });

  it('negative: AuthorizationQueryParametersError "must be non-negative"', async () => {
    const req = withExpires(await presignedGet(), '-1');
    expect(refusal(() => authenticate(req, secrets, NOW))).toMatchObject({
      code: 'AuthorizationQueryParametersError',
      message: 'X-Amz-Expires must be non-negative',
    });
  });

  it(`over ${presignExpiresMaxSeconds}: AuthorizationQueryParametersError with S3's message; exactly ${presignExpiresMaxSeconds} verifies`, async () => {
    const base = await presignedGet();
    for (const value of ['604801', '999999999999']) {
      expect(refusal(() => authenticate(withExpires(base, value), secrets, NOW))).toMatchObject({
        code: 'AuthorizationQueryParametersError',
        message: 'X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds',
      });
    }
    const week = await presignedGet({ expiresIn: presignExpiresMaxSeconds });
    expect(authenticate(week, secrets, NOW + presignExpiresMaxSeconds * 1000).presigned).toBe(true);
    expect(refusal(() => authenticate(week, secrets, NOW + presignExpiresMaxSeconds * 1000 + 1000))?.message).toBe('Request has expired');
  });

  it('not a number: AuthorizationQueryParametersError "should be a number"', async () => {
    const base = await presignedGet();
    for (const value of ['abc', '1.5', '1e3']) {
      expect(refusal(() => authenticate(withExpires(base, value), secrets, NOW))).toMatchObject({
        code: 'AuthorizationQueryParametersError',
        message: 'X-Amz-Expires should be a number',
      });
    }
  });
});

describe('empty or bare Authorization values', () => {
  it('an empty value is no credential: anonymous AccessDenied, not InvalidArgument', async () => {
    const req = await signedGet();
    for (const authorization of ['', '   ']) {
      expect(refusal(() => authenticate({ ...req, headers: { ...req.headers, authorization } }, secrets, NOW))).toMatchObject({
        code: 'AccessDenied',
        message: 'Access Denied (anonymous requests are not allowed)',
      });
    }
  });

  it('an empty value next to a presigned query does not spoil the presigned URL', async () => {
    const req = await presignedGet();
    expect(authenticate({ ...req, headers: { ...req.headers, authorization: '' } }, secrets, NOW + 1000).presigned).toBe(true);
  });

  it('"AWS4-HMAC-SHA256" alone: AuthorizationHeaderMalformed; "AWS" alone: InvalidArgument (SigV2 header shape)', async () => {
    const req = await signedGet();
    expect(refusal(() => authenticate({ ...req, headers: { ...req.headers, authorization: 'AWS4-HMAC-SHA256' } }, secrets, NOW))).toMatchObject({
      code: 'AuthorizationHeaderMalformed',
      message: 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    });
    const bareV2 = { ...req, headers: { ...req.headers, authorization: 'AWS', date: new Date(NOW).toUTCString() } };
    expect(refusal(() => authenticate(bareV2, secrets, NOW))?.code).toBe('InvalidArgument');
    const noColon = { ...bareV2, headers: { ...bareV2.headers, authorization: 'AWS invalid' } };
    expect(refusal(() => authenticate(noColon, secrets, NOW))).toMatchObject({
      code: 'InvalidArgument',
      message: 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature',
    });
  });
});
