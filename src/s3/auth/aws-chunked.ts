// Streaming decoder for `Content-Encoding: aws-chunked` request bodies (SigV4 streaming, signed or
// unsigned, with or without trailers). Invariant: in signed modes no byte of a chunk leaves the
// decoder before that chunk's signature verified, so at most one chunk is held in memory.
// Sources: Amazon S3 API reference, sigv4-streaming and sigv4-streaming-trailers.

import { type Hash, createHash, createHmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { assert } from '../../util/assert.js';
import { s3Error, type S3Error } from '../errors.js';
import { awsChunkSizeMaxBytes } from '../../util/limits.js';
import {
  type AuthContext,
  EMPTY_SHA256,
  type HeaderBag,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  headerString,
  sha256Hex,
  signaturesEqual,
} from './canonical.js';

/** Longest chunk header line (`hex-size;chunk-signature=<64 hex>` is 90 bytes at most). */
export const chunkHeaderLineMaxBytes = 4096;
/** Largest trailer section (all trailer lines together). */
export const trailerSectionMaxBytes = 16 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const HEX_SIZE = /^[0-9a-fA-F]{1,16}$/;
const HEX_SIGNATURE = /^[0-9a-f]{64}$/;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';

/** How to decode one body. */
export interface AwsChunkedOptions {
  /** The request's x-amz-content-sha256: one of the three STREAMING-* values. */
  payloadHash: string;
  /** Seed signature, key, date and scope from authenticate(); required for signed modes. */
  auth?: Pick<AuthContext, 'signingKey' | 'amzDate' | 'scope' | 'signature'>;
  /** x-amz-decoded-content-length in bytes, when given. */
  decodedContentLengthBytes?: number;
  /** Lower-case trailer names announced by x-amz-trailer; each must arrive, and no others. */
  expectedTrailers?: readonly string[];
  /** Per-chunk size limit in bytes (default limits.awsChunkSizeMaxBytes). */
  chunkSizeMaxBytes?: number;
}

type State = 'header' | 'data' | 'dataCrlf' | 'trailer';

function framing(message: string, details: Record<string, string | number> = {}): S3Error {
  return s3Error('InvalidRequest', `Malformed aws-chunked body: ${message}`, details);
}

function incomplete(details: Record<string, string | number> = {}): S3Error {
  return s3Error('IncompleteBody', 'The request body terminated unexpectedly', details);
}

function malformedTrailer(details: Record<string, string | number> = {}): S3Error {
  return s3Error(
    'MalformedTrailerError',
    'The request contained trailing data that was not well-formed or did not conform to our published schema.',
    details,
  );
}

function signatureMismatch(stringToSign: string): S3Error {
  return s3Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    { StringToSign: stringToSign },
  );
}

/**
 * Transform from an aws-chunked body to the decoded payload bytes. Signed chunk and trailer
 * signatures are chained from the seed signature. Errors (TesseraError) destroy the stream:
 * InvalidRequest (bad framing, chunk over the size limit, body longer than declared),
 * IncompleteBody (truncated, or shorter than x-amz-decoded-content-length),
 * SignatureDoesNotMatch (chunk or trailer signature), MalformedTrailerError (trailer missing,
 * unannounced or malformed). `trailers` resolves once the input ended cleanly.
 */
export class AwsChunkedDecoder extends Transform {
  /** Trailer name (lower-case) -> value, without x-amz-trailer-signature. */
  readonly trailers: Promise<ReadonlyMap<string, string>>;
  /** Payload bytes emitted so far. */
  decodedBytes = 0;

  private readonly signed: boolean;
  private readonly withTrailer: boolean;
  private readonly chunkSizeMaxBytes: number;
  private state: State = 'header';
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  private remainingBytes = 0;
  private crlfSeen = 0;
  private chunkHash: Hash | undefined;
  private chunkSignature = '';
  private previousSignature = '';
  private pending: Buffer[] = [];
  private trailerLines: string[] = [];
  private trailerBytes = 0;
  private resolveTrailers!: (t: ReadonlyMap<string, string>) => void;
  private rejectTrailers!: (e: unknown) => void;

  constructor(private readonly options: AwsChunkedOptions) {
    super();
    const mode = options.payloadHash;
    if (mode !== STREAMING_SIGNED_PAYLOAD && mode !== STREAMING_SIGNED_PAYLOAD_TRAILER && mode !== STREAMING_UNSIGNED_PAYLOAD_TRAILER) {
      throw s3Error('InvalidArgument', 'x-amz-content-sha256 is not a streaming value for aws-chunked', {
        ArgumentName: 'x-amz-content-sha256',
        ArgumentValue: mode,
      });
    }
    this.signed = mode !== STREAMING_UNSIGNED_PAYLOAD_TRAILER;
    this.withTrailer = mode !== STREAMING_SIGNED_PAYLOAD;
    assert(!this.signed || options.auth !== undefined, 'signed aws-chunked decoding needs the seed AuthContext');
    this.previousSignature = options.auth?.signature ?? '';
    this.chunkSizeMaxBytes = options.chunkSizeMaxBytes ?? awsChunkSizeMaxBytes;
    this.trailers = new Promise((resolve, reject) => {
      this.resolveTrailers = resolve;
      this.rejectTrailers = reject;
    });
    this.trailers.catch(() => undefined); // callers may never await it; the stream error is the signal
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      this.rejectTrailers(err);
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (this.state !== 'trailer') throw incomplete({ DecodedBytes: this.decodedBytes });
      if (this.lineBytes > 0) this.onTrailerLine(this.takeLine(false));
      const declared = this.options.decodedContentLengthBytes;
      if (declared !== undefined && this.decodedBytes < declared) {
        throw incomplete({ DecodedBytes: this.decodedBytes, DecodedContentLength: declared });
      }
      this.resolveTrailers(this.finishTrailers());
      callback();
    } catch (err) {
      this.rejectTrailers(err);
      callback(err as Error);
    }
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      if (this.state === 'data') pos = this.consumeData(buf, pos);
      else if (this.state === 'dataCrlf') {
        if (buf[pos] !== (this.crlfSeen === 0 ? CR : LF)) throw framing('chunk data is not followed by CRLF');
        pos++;
        if (++this.crlfSeen === 2) {
          this.crlfSeen = 0;
          this.state = 'header';
        }
      } else pos = this.consumeLine(buf, pos);
    }
  }

  private consumeData(buf: Buffer, pos: number): number {
    const n = Math.min(this.remainingBytes, buf.length - pos);
    const piece = buf.subarray(pos, pos + n);
    this.remainingBytes -= n;
    if (this.signed) {
      this.chunkHash!.update(piece);
      this.pending.push(piece);
    } else {
      this.decodedBytes += n;
      this.push(piece);
    }
    if (this.remainingBytes === 0) {
      if (this.signed) this.verifyChunk(this.chunkHash!.digest('hex'));
      this.state = 'dataCrlf';
    }
    return pos + n;
  }

  /** Accumulates one line (header or trailer); handles it once its LF arrives. */
  private consumeLine(buf: Buffer, pos: number): number {
    const limit = this.state === 'header' ? chunkHeaderLineMaxBytes : trailerSectionMaxBytes - this.trailerBytes;
    const lf = buf.indexOf(LF, pos);
    const end = lf === -1 ? buf.length : lf + 1;
    this.lineBytes += end - pos;
    if (this.lineBytes > limit) {
      throw this.state === 'header' ? framing('chunk header line too long') : malformedTrailer({ Reason: 'trailer too long' });
    }
    this.lineParts.push(buf.subarray(pos, end));
    if (lf !== -1) {
      if (this.state === 'header') this.onHeaderLine(this.takeLine(true));
      else this.onTrailerLine(this.takeLine(false));
    }
    return end;
  }

  /** The accumulated line without its line ending; `strict` requires CRLF. */
  private takeLine(strict: boolean): string {
    const line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts, this.lineBytes);
    this.lineParts = [];
    this.lineBytes = 0;
    let end = line.length;
    if (end > 0 && line[end - 1] === LF) end--;
    if (end > 0 && line[end - 1] === CR) end--;
    else if (strict) throw framing('chunk header is not terminated by CRLF');
    return line.toString('latin1', 0, end);
  }

  private onHeaderLine(line: string): void {
    const semi = line.indexOf(';');
    const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
    if (!HEX_SIZE.test(sizeText)) throw framing('chunk size is not hexadecimal', { ChunkHeader: line.slice(0, 100) });
    const size = parseInt(sizeText, 16);
    if (size > this.chunkSizeMaxBytes) {
      throw framing('chunk is larger than allowed', { ChunkSizeBytes: size, ChunkSizeMaxBytes: this.chunkSizeMaxBytes });
    }
    const declared = this.options.decodedContentLengthBytes;
    if (declared !== undefined && this.decodedBytes + size > declared) {
      throw framing('body is longer than x-amz-decoded-content-length', { DecodedContentLength: declared });
    }
    if (this.signed) this.chunkSignature = this.chunkSignatureOf(line, semi);
    if (size === 0) {
      if (this.signed) this.verifyChunk(EMPTY_SHA256);
      this.state = 'trailer';
      return;
    }
    this.remainingBytes = size;
    if (this.signed) this.chunkHash = createHash('sha256');
    this.state = 'data';
  }

  private chunkSignatureOf(line: string, semi: number): string {
    if (semi !== -1) {
      for (const ext of line.slice(semi + 1).split(';')) {
        const eq = ext.indexOf('=');
        if (eq !== -1 && ext.slice(0, eq).trim() === 'chunk-signature') {
          const value = ext.slice(eq + 1).trim();
          if (HEX_SIGNATURE.test(value)) return value;
          break;
        }
      }
    }
    throw framing('signed chunk lacks a valid chunk-signature', { ChunkHeader: line.slice(0, 100) });
  }

  /** Verifies the current chunk (hex SHA-256 of its data) and releases its held bytes. */
  private verifyChunk(dataHashHex: string): void {
    const auth = this.options.auth!;
    const stringToSign = `AWS4-HMAC-SHA256-PAYLOAD\n${auth.amzDate}\n${auth.scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${dataHashHex}`;
    const expected = createHmac('sha256', auth.signingKey).update(stringToSign).digest('hex');
    if (!signaturesEqual(expected, this.chunkSignature)) throw signatureMismatch(stringToSign);
    this.previousSignature = this.chunkSignature;
    for (const piece of this.pending) {
      this.decodedBytes += piece.length;
      this.push(piece);
    }
    this.pending = [];
  }

  private onTrailerLine(line: string): void {
    this.trailerBytes += line.length + 2;
    if (line.trim() === '') return; // CRLF after the final chunk and at the end of the trailer
    if (!this.withTrailer) throw framing('trailing data after the final chunk');
    this.trailerLines.push(line);
  }

  private finishTrailers(): ReadonlyMap<string, string> {
    const trailers = new Map<string, string>();
    let signature: string | undefined;
    let canonical = '';
    for (const line of this.trailerLines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformedTrailer({ Reason: 'trailer line without a name' });
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === TRAILER_SIGNATURE) {
        signature = value;
        continue;
      }
      if (trailers.has(name)) throw malformedTrailer({ TrailerHeader: name, Reason: 'repeated' });
      trailers.set(name, value);
      canonical += `${name}:${value}\n`;
    }
    this.checkAnnounced(trailers);
    if (this.signed && this.withTrailer) this.verifyTrailer(canonical, signature);
    return trailers;
  }

  private checkAnnounced(trailers: ReadonlyMap<string, string>): void {
    const expected = this.options.expectedTrailers ?? [];
    for (const name of expected) if (!trailers.has(name)) throw malformedTrailer({ TrailerHeader: name, Reason: 'missing' });
    if (expected.length === 0) return;
    for (const name of trailers.keys()) {
      if (!expected.includes(name)) throw malformedTrailer({ TrailerHeader: name, Reason: 'not announced in x-amz-trailer' });
    }
  }

  private verifyTrailer(canonical: string, signature: string | undefined): void {
    const auth = this.options.auth!;
    const stringToSign = `AWS4-HMAC-SHA256-TRAILER\n${auth.amzDate}\n${auth.scope}\n${this.previousSignature}\n${sha256Hex(canonical)}`;
    const expected = createHmac('sha256', auth.signingKey).update(stringToSign).digest('hex');
    if (signature === undefined || !signaturesEqual(expected, signature)) throw signatureMismatch(stringToSign);
  }
}

/**
 * A decoder for a request that authenticate() accepted with a STREAMING-* payload hash; reads
 * x-amz-decoded-content-length and x-amz-trailer (comma-separated) from `headers`.
 * Throws InvalidArgument when x-amz-decoded-content-length is not a non-negative integer.
 */
export function createAwsChunkedDecoder(auth: AuthContext, headers: HeaderBag): AwsChunkedDecoder {
  const lengthText = headerString(headers, 'x-amz-decoded-content-length')?.trim();
  if (lengthText !== undefined && !/^\d{1,16}$/.test(lengthText)) {
    throw s3Error('InvalidArgument', 'x-amz-decoded-content-length must be a non-negative integer', {
      ArgumentName: 'x-amz-decoded-content-length',
      ArgumentValue: lengthText,
    });
  }
  const trailerText = headerString(headers, 'x-amz-trailer');
  const expectedTrailers = trailerText === undefined ? [] : trailerText.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '');
  return new AwsChunkedDecoder({
    payloadHash: auth.payloadHash,
    auth,
    decodedContentLengthBytes: lengthText === undefined ? undefined : Number(lengthText),
    expectedTrailers,
  });
}
