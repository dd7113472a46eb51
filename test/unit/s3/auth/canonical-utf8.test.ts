// SigV4 canonical headers over the bytes a client sent: non-ASCII header values arrive from Node
// as latin1 strings, while botocore, curl and Go sign (and send) their UTF-8 text.
import { describe, expect, it } from 'vitest';
import { canonicalHeaders } from '../../../../src/s3/auth/canonical.js';

const latin1OfUtf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

describe('canonicalHeaders with non-ASCII values', () => {
  it('reads UTF-8 bytes as the text the client signed', () => {
    expect(canonicalHeaders({ 'cache-control': latin1OfUtf8('ÄMÄZÕÑ S3') }, ['cache-control'])).toBe('cache-control:ÄMÄZÕÑ S3\n');
    // 'à' is C3 A0: read as latin1, A0 (no-break space) would also be collapsed to a space.
    expect(canonicalHeaders({ 'content-disposition': latin1OfUtf8('a  à.txt') }, ['content-disposition'])).toBe('content-disposition:a à.txt\n');
  });

  it('keeps bytes that are not UTF-8 as latin1 characters (what Node clients send for U+0080-U+00FF)', () => {
    expect(canonicalHeaders({ 'x-amz-meta-a': 'caf\u00e9' }, ['x-amz-meta-a'])).toBe('x-amz-meta-a:caf\u00e9\n');
    expect(canonicalHeaders({ 'x-amz-meta-a': ' plain  ascii ' }, ['x-amz-meta-a'])).toBe('x-amz-meta-a:plain ascii\n');
  });
});
