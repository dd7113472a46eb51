// Request bodies: decodes aws-chunked, counts bytes, and verifies every digest the client
// sent before anything is committed: x-amz-content-sha256 (hex), Content-MD5, and flexible
// checksums from an x-amz-checksum-* header or trailer (AWS "Checking object integrity").
import { createHash, type Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import type { ChecksumAlgorithm, StoredChecksum } from '../meta/types.js';
import type { WrittenData } from '../object/stripe-writer.js';
import { TesseraError } from '../util/errors.js';
import { partSizeMaxBytes, putObjectSizeMaxBytes, requestBodyStartTimeoutMs, xmlBodyMaxBytes } from '../util/limits.js';
import { createAwsChunkedDecoder, type AwsChunkedDecoder } from './auth/aws-chunked.js';
import { STREAMING_SIGNED_PAYLOAD, STREAMING_SIGNED_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER } from './auth/canonical.js';
import {
  checksumAlgorithms, checksumHeaderName, createChecksummer, decodeChecksumValue, parseChecksumAlgorithm, type Checksummer,
} from './checksum.js';
import type { RequestContext } from './context.js';
import { s3Error } from './errors.js';

const streamingModes = new Set([STREAMING_SIGNED_PAYLOAD, STREAMING_SIGNED_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER]);

/** A request body ready for the object layer. */
export interface Payload {
  body: AsyncIterable<Uint8Array>;
  /** Decoded body size when announced (Content-Length, or x-amz-decoded-content-length for aws-chunked). */
  sizeHintBytes?: number;
  /** After the body ended: verifies digests (throws BadDigest, XAmzContentSHA256Mismatch, InvalidDigest) and returns the checksum to store. */
  finish(written: WrittenData): Promise<StoredChecksum | undefined>;
}

function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Which flexible checksum this body carries, and where its expected value comes from. */
interface ChecksumPlan {
  algorithm: ChecksumAlgorithm;
  /** Expected digest from a header; undefined when from a trailer or when only computing. */
  expected?: Buffer;
  fromTrailer: boolean;
}

function planChecksum(ctx: RequestContext, declared: ChecksumAlgorithm | undefined): ChecksumPlan | undefined {
  const trailer = header(ctx, 'x-amz-trailer')?.trim().toLowerCase();
  for (const algorithm of checksumAlgorithms) {
    const name = checksumHeaderName(algorithm);
    const value = header(ctx, name);
    if (value !== undefined) return { algorithm, expected: decodeChecksumValue(algorithm, value), fromTrailer: false };
    if (trailer === name) return { algorithm, fromTrailer: true };
  }
  const requested = parseChecksumAlgorithm(header(ctx, 'x-amz-sdk-checksum-algorithm'))
    ?? parseChecksumAlgorithm(header(ctx, 'x-amz-checksum-algorithm'), 'x-amz-checksum-algorithm')
    ?? declared;
  return requested ? { algorithm: requested, fromTrailer: false } : undefined;
}

function contentMd5(ctx: RequestContext): Buffer | undefined {
  const value = header(ctx, 'content-md5');
  if (value === undefined) return undefined;
  const digest = Buffer.from(value.trim(), 'base64');
  if (digest.length !== 16 || digest.toString('base64') !== value.trim()) throw s3Error('InvalidDigest');
  return digest;
}

/**
 * The body's chunks, once the client was told to send them (ctx.startBody). Its first byte must
 * come within requestBodyStartTimeoutMs, else RequestTimeout: an admitted request holds a slot, and
 * one that never sends its body must not hold it for long. Any failure of the socket under the body
 * means the client sent less than it announced (IncompleteBody).
 */
async function* guarded(ctx: RequestContext, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  ctx.startBody();
  const iterator = source[Symbol.asyncIterator]();
  try {
    const first = await firstChunk(iterator);
    if (first.done) return;
    yield first.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } catch (err) {
    if (err instanceof TesseraError) throw err;
    throw s3Error('IncompleteBody', undefined, {});
  }
}

/** iterator.next(), or RequestTimeout when nothing arrives within requestBodyStartTimeoutMs. */
async function firstChunk(iterator: AsyncIterator<Buffer>): Promise<IteratorResult<Buffer>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(s3Error('RequestTimeout')), requestBodyStartTimeoutMs);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wraps the request body. `declared` is the algorithm a multipart upload was created with.
 * Throws (synchronously) InvalidRequest / InvalidDigest / InvalidArgument for bad headers.
 */
export function requestPayload(ctx: RequestContext, declared?: ChecksumAlgorithm): Payload {
  const payloadHash = ctx.auth.payloadHash;
  const md5 = contentMd5(ctx);
  const plan = planChecksum(ctx, declared);
  const checksummer: Checksummer | undefined = plan ? createChecksummer(plan.algorithm) : undefined;
  const sha256: Hash | undefined = /^[0-9a-f]{64}$/.test(payloadHash) ? createHash('sha256') : undefined;
  let decoder: AwsChunkedDecoder | undefined;
  let source: AsyncIterable<Buffer> = ctx.req;
  if (streamingModes.has(payloadHash)) {
    decoder = createAwsChunkedDecoder(ctx.auth, ctx.req.headers);
    pipeline(ctx.req, decoder, () => undefined);
    source = decoder;
  } else if (header(ctx, 'content-length') === undefined && header(ctx, 'transfer-encoding') === undefined) {
    throw s3Error('MissingContentLength');
  }
  const expectedLength = decoder ? undefined : Number(header(ctx, 'content-length') ?? NaN);

  async function* body(): AsyncGenerator<Buffer> {
    for await (const chunk of guarded(ctx, source)) {
      ctx.bytesIn += chunk.length;
      sha256?.update(chunk);
      checksummer?.update(chunk);
      yield chunk;
    }
    if (expectedLength !== undefined && Number.isFinite(expectedLength) && ctx.bytesIn < expectedLength) {
      throw s3Error('IncompleteBody');
    }
  }

  async function finish(written: WrittenData): Promise<StoredChecksum | undefined> {
    if (sha256 && sha256.digest('hex') !== payloadHash) throw s3Error('XAmzContentSHA256Mismatch');
    if (md5 && !md5.equals(written.md5)) throw s3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    if (!plan || !checksummer) return undefined;
    const digest = checksummer.digest();
    let expected = plan.expected;
    if (plan.fromTrailer) {
      const trailers = await decoder?.trailers;
      const value = trailers?.get(checksumHeaderName(plan.algorithm));
      if (value === undefined) throw s3Error('MalformedTrailerError');
      expected = decodeChecksumValue(plan.algorithm, value);
    }
    if (expected && !expected.equals(digest)) {
      throw s3Error('BadDigest', `The ${plan.algorithm} you specified did not match the calculated checksum.`);
    }
    return { algorithm: plan.algorithm, type: 'FULL_OBJECT', value: digest.toString('base64') };
  }

  const announced = decoder ? Number(header(ctx, 'x-amz-decoded-content-length') ?? NaN) : expectedLength;
  return { body: body(), finish, ...(announced !== undefined && Number.isSafeInteger(announced) ? { sizeHintBytes: announced } : {}) };
}

/** Operations whose body is an object or a part, with the largest body each accepts (bytes). */
const bodySizeMaxBytes: Readonly<Record<string, number>> = {
  PutObject: putObjectSizeMaxBytes,
  UploadPart: partSizeMaxBytes,
};
/** Operations whose body is an XML document read whole by readSmallBody. */
const xmlBodyOperations: ReadonlySet<string> = new Set(['CompleteMultipartUpload', 'DeleteObjects', 'CreateBucket']);

/**
 * Refuses, from the headers alone and before any of the body is read, a body larger than the
 * operation accepts: EntityTooLarge (with ProposedSize and MaxSizeAllowed, as AWS) for an object
 * or part over 5 GiB (PutObject / UploadPart API reference), MaxMessageLengthExceeded for an XML
 * request over xmlBodyMaxBytes. The size is x-amz-decoded-content-length for aws-chunked bodies,
 * else Content-Length; an absent size is checked while the body streams.
 */
export function checkAnnouncedBodySize(operation: string, headers: IncomingHttpHeaders): void {
  const decoded = headers['x-amz-decoded-content-length'];
  const text = (Array.isArray(decoded) ? decoded[0] : decoded) ?? headers['content-length'];
  if (text === undefined || !/^\d+$/.test(text.trim())) return;
  const announced = Number(text.trim());
  const max = bodySizeMaxBytes[operation];
  if (max !== undefined && announced > max) {
    throw s3Error('EntityTooLarge', undefined, { ProposedSize: announced, MaxSizeAllowed: max });
  }
  if (xmlBodyOperations.has(operation) && announced > xmlBodyMaxBytes) {
    throw s3Error('MaxMessageLengthExceeded', `Your request was too big (limit ${xmlBodyMaxBytes} bytes).`);
  }
}

/**
 * Reads a small body (XML requests) of at most `limitBytes` (default xmlBodyMaxBytes), verifying its
 * digests; returns it decoded as UTF-8. Throws MaxMessageLengthExceeded past the limit, plus
 * requestPayload's errors.
 */
export async function readSmallBody(ctx: RequestContext, limitBytes = xmlBodyMaxBytes): Promise<string> {
  const length = header(ctx, 'content-length');
  if (length === '0' || (length === undefined && header(ctx, 'transfer-encoding') === undefined && !streamingModes.has(ctx.auth.payloadHash))) {
    return '';
  }
  const payload = requestPayload(ctx);
  const chunks: Buffer[] = [];
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of payload.body) {
    size += chunk.length;
    if (size > limitBytes) throw s3Error('MaxMessageLengthExceeded', `Your request was too big (limit ${limitBytes} bytes).`);
    md5.update(chunk);
    chunks.push(Buffer.from(chunk));
  }
  await payload.finish({ sizeBytes: size, md5: md5.digest() });
  return Buffer.concat(chunks).toString('utf8');
}
