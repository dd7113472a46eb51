// aws-chunked decoding: the S3 API reference's chunked-upload examples (sigv4-streaming,
// sigv4-streaming-trailers), framing and signature refusals, and input split at any boundary.
import { createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { AwsCrc32c } from '@aws-crypto/crc32c';
import { describe, expect, it } from 'vitest';
import { type AwsChunkedOptions, AwsChunkedDecoder, createAwsChunkedDecoder } from '../../../../src/s3/auth/aws-chunked.js';
import { type AuthContext, EMPTY_SHA256, type HeaderBag, authenticate, deriveSigningKey, sha256Hex } from '../../../../src/s3/auth/sigv4.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2013, 4, 24);
const AMZ_DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const secrets = (id: string): string | undefined => (id === KEY ? SECRET : undefined);

const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const CHUNK_SIGS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
] as const;
const TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const TRAILER_CHUNK_SIGS = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
] as const;
const TRAILER_SIG = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

const PAYLOAD = Buffer.alloc(65536 + 1024, 'a');
const chunkHead = (size: number, sig: string): string => `${size.toString(16)};chunk-signature=${sig}\r\n`;

function docBody(sigs: readonly string[], tail: string): Buffer {
  return Buffer.concat([
    Buffer.from(chunkHead(65536, sigs[0]!)), PAYLOAD.subarray(0, 65536), Buffer.from('\r\n'),
    Buffer.from(chunkHead(1024, sigs[1]!)), PAYLOAD.subarray(65536), Buffer.from('\r\n'),
    Buffer.from(chunkHead(0, sigs[2]!)), Buffer.from(tail),
  ]);
}

function docAuth(payloadHash: string, seed: string): Pick<AuthContext, 'signingKey' | 'amzDate' | 'scope' | 'signature'> & { payloadHash: string } {
  return { signingKey: deriveSigningKey(SECRET, '20130524', 'us-east-1', 's3'), amzDate: AMZ_DATE, scope: SCOPE, signature: seed, payloadHash };
}

/** Feeds `body` to a decoder in the given piece sizes (cycled); resolves output and trailers. */
async function decode(decoder: AwsChunkedDecoder, body: Buffer, pieces: readonly number[] = [body.length]): Promise<{ data: Buffer; trailers: ReadonlyMap<string, string> }> {
  const parts: Buffer[] = [];
  for (let pos = 0, i = 0; pos < body.length; i++) {
    const n = Math.max(1, pieces[i % pieces.length]!);
    parts.push(body.subarray(pos, pos + n));
    pos += n;
  }
  const out: Buffer[] = [];
  const stream = Readable.from(parts, { objectMode: false }).pipe(decoder);
  for await (const chunk of stream) out.push(chunk as Buffer);
  return { data: Buffer.concat(out), trailers: await decoder.trailers };
}

async function decodeError(options: AwsChunkedOptions, body: Buffer | string): Promise<unknown> {
  return decode(new AwsChunkedDecoder(options), Buffer.from(body)).then(
    () => expect.unreachable('decoding should fail'),
    (err: unknown) => err,
  );
}

function signedOptions(extra: Partial<AwsChunkedOptions> = {}): AwsChunkedOptions {
  return { payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', auth: docAuth('', SEED), ...extra };
}

describe('S3 chunked upload example (sigv4-streaming, "Example: PUT Object")', () => {
  const headers: HeaderBag = {
    host: 's3.amazonaws.com',
    'content-encoding': 'aws-chunked',
    'content-length': '66824',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-date': AMZ_DATE,
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
  };
  const body = docBody(CHUNK_SIGS, '\r\n');

  it('seed signature verifies and the body decodes to 64 KiB + 1 KiB of "a"', async () => {
    expect(body.length).toBe(66824);
    const ctx = authenticate({ method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers }, secrets, NOW);
    expect(ctx.payloadHash).toBe('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    const decoder = createAwsChunkedDecoder(ctx, headers);
    const { data, trailers } = await decode(decoder, body);
    expect(data.equals(PAYLOAD)).toBe(true);
    expect(trailers.size).toBe(0);
    expect(decoder.decodedBytes).toBe(66560);
  });

  it('published chunk signatures follow from the chain (AWS4-HMAC-SHA256-PAYLOAD)', () => {
    const key = deriveSigningKey(SECRET, '20130524', 'us-east-1', 's3');
    let previous = SEED;
    for (const [i, data] of [PAYLOAD.subarray(0, 65536), PAYLOAD.subarray(65536), Buffer.alloc(0)].entries()) {
      const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`;
      previous = createHmac('sha256', key).update(sts).digest('hex');
      expect(previous).toBe(CHUNK_SIGS[i]);
    }
  });

  it('decodes identically when fed 1 byte at a time and at random splits', async () => {
    const oneByte = await decode(createAwsChunkedDecoder(authenticate({ method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers }, secrets, NOW), headers), body, [1]);
    expect(oneByte.data.equals(PAYLOAD)).toBe(true);
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % 5000;
    for (let round = 0; round < 5; round++) {
      const pieces = Array.from({ length: 64 }, random);
      const { data } = await decode(new AwsChunkedDecoder({ ...signedOptions(), decodedContentLengthBytes: 66560 }), body, pieces);
      expect(data.equals(PAYLOAD)).toBe(true);
    }
  });
});

describe('S3 trailer example (sigv4-streaming-trailers)', () => {
  const headers: HeaderBag = {
    host: 's3.amazonaws.com',
    'content-encoding': 'aws-chunked',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    'x-amz-date': AMZ_DATE,
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-trailer': 'x-amz-checksum-crc32c',
    authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/${SCOPE}, SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer, Signature=${TRAILER_SEED}`,
  };
  const trailerTail = `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILER_SIG}\r\n\r\n`;

  it('crc32c of the payload is the published trailer value', async () => {
    const crc = new AwsCrc32c();
    crc.update(PAYLOAD);
    expect(Buffer.from(await crc.digest()).toString('base64')).toBe('sOO8/Q==');
  });

  it('seed, chunk and trailer signatures verify; trailers are exposed', async () => {
    const ctx = authenticate({ method: 'PUT', rawPath: '/examplebucket/chunkObject.txt', rawQuery: '', headers }, secrets, NOW);
    expect(ctx.signature).toBe(TRAILER_SEED);
    for (const tail of [trailerTail, `\r\n${trailerTail}`, trailerTail.slice(0, -2)]) {
      const { data, trailers } = await decode(createAwsChunkedDecoder(ctx, headers), docBody(TRAILER_CHUNK_SIGS, tail), [4093]);
      expect(data.equals(PAYLOAD)).toBe(true);
      expect([...trailers]).toEqual([['x-amz-checksum-crc32c', 'sOO8/Q==']]);
    }
  });

  it('a changed trailer value or trailer signature is SignatureDoesNotMatch', async () => {
    const options: AwsChunkedOptions = { payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', auth: docAuth('', TRAILER_SEED) };
    const badValue = docBody(TRAILER_CHUNK_SIGS, trailerTail.replace('sOO8/Q==', 'sOO8/Q=A'));
    expect(await decodeError(options, badValue)).toMatchObject({ code: 'SignatureDoesNotMatch' });
    const badSig = docBody(TRAILER_CHUNK_SIGS, trailerTail.replace(TRAILER_SIG, TRAILER_SIG.replace('d81f', 'd81e')));
    expect(await decodeError(options, badSig)).toMatchObject({ code: 'SignatureDoesNotMatch' });
    const noSig = docBody(TRAILER_CHUNK_SIGS, 'x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n');
    expect(await decodeError(options, noSig)).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });
});

describe('STREAMING-UNSIGNED-PAYLOAD-TRAILER', () => {
  const options: AwsChunkedOptions = { payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', expectedTrailers: ['x-amz-checksum-crc32'], decodedContentLengthBytes: 11 };
  // Trailing CRLF variants seen from SDKs: with and without the final empty line, bare LF.
  const bodies = [
    '5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n',
    '5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n',
    '5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==',
    '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nx-amz-checksum-crc32:DUoRhQ==\n\r\n',
    'b\r\nhello world\r\n0\r\nX-Amz-Checksum-Crc32: DUoRhQ==\r\n\r\n\r\n',
  ];

  it('decodes every trailing-CRLF variant, whole and 1 byte at a time', async () => {
    for (const body of bodies) {
      for (const pieces of [[body.length], [1], [3, 1, 2]]) {
        const { data, trailers } = await decode(new AwsChunkedDecoder(options), Buffer.from(body), pieces);
        expect(data.toString()).toBe('hello world');
        expect(trailers.get('x-amz-checksum-crc32')).toBe('DUoRhQ==');
      }
    }
  });

  it('missing announced trailer, unannounced trailer, malformed trailer line: MalformedTrailerError', async () => {
    expect(await decodeError(options, '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')).toMatchObject({ code: 'MalformedTrailerError' });
    expect(await decodeError(options, 'b\r\nhello world\r\n0\r\nx-amz-checksum-sha256:abc\r\n\r\n')).toMatchObject({ code: 'MalformedTrailerError' });
    expect(await decodeError(options, 'b\r\nhello world\r\n0\r\nno-colon-here\r\n\r\n')).toMatchObject({ code: 'MalformedTrailerError' });
  });
});

describe('refusals', () => {
  const goodChunk = (data: string, previous: string): { head: string; sig: string } => {
    const key = deriveSigningKey(SECRET, '20130524', 'us-east-1', 's3');
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${AMZ_DATE}\n${SCOPE}\n${previous}\n${EMPTY_SHA256}\n${sha256Hex(data)}`;
    const sig = createHmac('sha256', key).update(sts).digest('hex');
    return { head: chunkHead(Buffer.byteLength(data), sig), sig };
  };
  const first = goodChunk('hello', SEED);
  const last = goodChunk('', first.sig);
  const good = `${first.head}hello\r\n${last.head}\r\n`;

  it('a well-formed small signed body decodes', async () => {
    const { data } = await decode(new AwsChunkedDecoder(signedOptions({ decodedContentLengthBytes: 5 })), Buffer.from(good));
    expect(data.toString()).toBe('hello');
  });

  it('bad hex size, missing CRLF, missing chunk-signature: InvalidRequest', async () => {
    expect(await decodeError(signedOptions(), good.replace(/^5;/, 'x5;'))).toMatchObject({ code: 'InvalidRequest' });
    expect(await decodeError(signedOptions(), good.replace('hello\r\n', 'helloXY'))).toMatchObject({ code: 'InvalidRequest' });
    expect(await decodeError(signedOptions(), good.replace(`\r\nhello`, `\nhello`))).toMatchObject({ code: 'InvalidRequest' });
    expect(await decodeError(signedOptions(), `5\r\nhello\r\n${last.head}\r\n`)).toMatchObject({ code: 'InvalidRequest' });
  });

  it('a chunk over the size limit is refused before its data arrives', async () => {
    const err = await decodeError(signedOptions({ chunkSizeMaxBytes: 4 }), good);
    expect(err).toMatchObject({ code: 'InvalidRequest', details: { ChunkSizeBytes: 5, ChunkSizeMaxBytes: 4 } });
  });

  it('truncated body or shorter than declared: IncompleteBody', async () => {
    for (const cut of [3, first.head.length + 2, first.head.length + 7, good.length - last.head.length]) {
      expect(await decodeError(signedOptions(), good.slice(0, cut))).toMatchObject({ code: 'IncompleteBody' });
    }
    expect(await decodeError(signedOptions({ decodedContentLengthBytes: 6 }), good)).toMatchObject({ code: 'IncompleteBody' });
  });

  it('longer than x-amz-decoded-content-length: InvalidRequest', async () => {
    expect(await decodeError(signedOptions({ decodedContentLengthBytes: 4 }), good)).toMatchObject({ code: 'InvalidRequest' });
  });

  it('bad chunk signature or tampered data: SignatureDoesNotMatch, and no unverified byte escapes', async () => {
    const decoder = new AwsChunkedDecoder(signedOptions());
    const out: Buffer[] = [];
    decoder.on('data', (b: Buffer) => out.push(b));
    const err = await decode(decoder, Buffer.from(good.replace('hello', 'hellO'))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(out).toHaveLength(0);
    const wrongSig = good.replace(first.sig, first.sig.replace(/^./, (c) => (c === '0' ? '1' : '0')));
    expect(await decodeError(signedOptions(), wrongSig)).toMatchObject({ code: 'SignatureDoesNotMatch' });
    const wrongFinal = good.replace(last.sig, first.sig);
    expect(await decodeError(signedOptions(), wrongFinal)).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('trailing data after the final chunk without a trailer mode: InvalidRequest', async () => {
    expect(await decodeError(signedOptions(), `${good}x-amz-checksum-crc32:AAAAAA==\r\n`)).toMatchObject({ code: 'InvalidRequest' });
  });

  it('a non-streaming payload hash cannot build a decoder', () => {
    expect(() => new AwsChunkedDecoder({ payloadHash: 'UNSIGNED-PAYLOAD' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
