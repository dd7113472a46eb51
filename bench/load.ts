// Closed-loop S3 load generator for `make bench`: N workers over one keep-alive HTTPS agent, each
// issuing SigV4-signed PUT or GET requests back to back. Every GET is checked for byte count and the
// object's unique prefix, and a sample for full content, so a broken server cannot look fast.

import { createHash } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { signRequest, uriEncode, type SigV4Credentials } from './sigv4-sign.js';

/** Bytes at the start of each object that are unique to its key (the rest is the shared payload). */
export const objectPrefixBytes = 16;
/** A request with no bytes moving in either direction for this long fails the cell. */
export const requestIdleTimeoutMs = 60_000;
/**
 * PUT bodies are written in slices of this size, honouring backpressure: one 64 MiB write costs the
 * client measurably more CPU in Node's TLS layer than 1 MiB slices (measured on this machine).
 */
export const bodyWriteChunkBytes = 1024 * 1024;
/** Bytes of an error response body kept for the error message. */
const errorBodyMaxBytes = 512;

/** Why a request failed; the cell stops at the first one. 'Unknown' marks a non-LoadError (a bench bug). */
export type LoadErrorCode = 'HttpStatus' | 'ShortBody' | 'LongBody' | 'ContentMismatch' | 'Network' | 'Unknown';

/** An expected failure of one bench request, with a stable `code`. */
export class LoadError extends Error {
  readonly code: LoadErrorCode;
  constructor(code: LoadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LoadError';
    this.code = code;
  }
}

/** The bytes of one object: a 16-byte prefix derived from its key, then the size's shared payload. */
export interface ObjectBody {
  /** Total object length in bytes (prefix + rest). */
  sizeBytes: number;
  /** min(16, sizeBytes) bytes: the first bytes of SHA-256(key). */
  prefix: Buffer;
  /** sizeBytes - prefix.length bytes, a view into the shared random payload (never copied). */
  rest: Buffer;
}

/**
 * Builds the body for `key` from `payload` (one random buffer per size, reused by every object of that
 * size). Only 16 bytes are computed per object, so data generation never dominates the measurement.
 */
export function objectBody(payload: Buffer, key: string): ObjectBody {
  const prefixLength = Math.min(objectPrefixBytes, payload.length);
  const prefix = createHash('sha256').update(key).digest().subarray(0, prefixLength);
  return { sizeBytes: payload.length, prefix, rest: payload.subarray(prefixLength) };
}

/** Where and how the client connects. */
export interface BenchClientOptions {
  /** Base URL, e.g. https://127.0.0.1:9000 (path-style requests go to /bucket/key). */
  endpoint: URL;
  credentials: SigV4Credentials;
  /** PEM of the server's certificate (or its CA); undefined trusts the system store. */
  ca: Buffer | undefined;
  /** Sockets in the keep-alive pool; set to the cell's concurrency. */
  maxSockets: number;
}

/** A signing S3 client with one keep-alive agent. Not a general client: only what the bench needs. */
export class BenchClient {
  private readonly agent: Agent;
  private readonly host: string;

  constructor(private readonly options: BenchClientOptions) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets, ca: options.ca });
    this.host = options.endpoint.host;
  }

  /** CreateBucket; an already-existing bucket owned by us counts as success. Throws LoadError. */
  async createBucket(bucket: string): Promise<void> {
    const res = await this.send('PUT', `/${bucket}`, undefined);
    if (res.statusCode === 409) {
      const body = await readErrorBody(res);
      if (body.includes('BucketAlreadyOwnedByYou')) return;
      throw new LoadError('HttpStatus', `CreateBucket ${bucket}: HTTP 409 ${body}`);
    }
    await expectOk(res, `CreateBucket ${bucket}`);
  }

  /** PutObject of `body` under bucket/key; resolves once the 200 response is fully read. Throws LoadError. */
  async putObject(bucket: string, key: string, body: ObjectBody): Promise<void> {
    const res = await this.send('PUT', `/${bucket}/${key}`, body);
    await expectOk(res, `PUT ${bucket}/${key}`);
  }

  /**
   * GetObject of bucket/key, checking the length against `expected.sizeBytes` and the prefix always,
   * and every byte when `verifyContent`. Resolves after the last byte. Throws LoadError.
   */
  async getObject(bucket: string, key: string, expected: ObjectBody, verifyContent: boolean): Promise<void> {
    const res = await this.send('GET', `/${bucket}/${key}`, undefined);
    if (res.statusCode !== 200) {
      throw new LoadError('HttpStatus', `GET ${bucket}/${key}: HTTP ${res.statusCode} ${await readErrorBody(res)}`);
    }
    await verifyBody(res, expected, verifyContent, `GET ${bucket}/${key}`);
  }

  /** Closes pooled sockets. */
  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, body: ObjectBody | undefined): Promise<IncomingMessage> {
    const contentLength = body === undefined ? 0 : body.sizeBytes;
    const headers = signRequest(this.options.credentials, {
      method,
      host: this.host,
      path,
      headers: method === 'PUT' ? { 'content-length': String(contentLength) } : {},
    });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          protocol: 'https:',
          hostname: this.options.endpoint.hostname,
          port: this.options.endpoint.port,
          method,
          path: uriEncode(path, true),
          headers,
          agent: this.agent,
        },
        resolve,
      );
      req.setTimeout(requestIdleTimeoutMs, () => {
        req.destroy(new LoadError('Network', `${method} ${path}: idle for ${requestIdleTimeoutMs} ms`));
      });
      req.on('error', (err) => {
        reject(err instanceof LoadError ? err : new LoadError('Network', `${method} ${path}: ${err.message}`, { cause: err }));
      });
      if (body === undefined) req.end();
      else writeBody(req, body);
    });
  }
}

// Writes prefix then rest in bodyWriteChunkBytes slices, waiting for 'drain' when the socket is full.
function writeBody(req: ClientRequest, body: ObjectBody): void {
  req.write(body.prefix);
  let offset = 0;
  const pump = (): void => {
    while (offset < body.rest.length) {
      const slice = body.rest.subarray(offset, offset + bodyWriteChunkBytes);
      offset += slice.length;
      if (!req.write(slice)) {
        req.once('drain', pump);
        return;
      }
    }
    req.end();
  };
  pump();
}

async function expectOk(res: IncomingMessage, what: string): Promise<void> {
  if (res.statusCode !== 200) {
    throw new LoadError('HttpStatus', `${what}: HTTP ${res.statusCode} ${await readErrorBody(res)}`);
  }
  await drain(res);
}

function drain(res: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    res.on('end', resolve);
    res.on('error', (err) => reject(new LoadError('Network', err.message, { cause: err })));
    res.resume();
  });
}

async function readErrorBody(res: IncomingMessage): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (text.length < errorBodyMaxBytes) text += chunk.toString('utf8');
    }
  } catch {
    // The status code already says enough; a broken error body adds nothing.
  }
  return text.slice(0, errorBodyMaxBytes).replace(/\s+/g, ' ');
}

// Compares each chunk in place against the expected bytes at its offset: no concatenation, no copies.
async function verifyBody(res: IncomingMessage, expected: ObjectBody, verifyContent: boolean, what: string): Promise<void> {
  let offset = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (offset + chunk.length > expected.sizeBytes) {
        throw new LoadError('LongBody', `${what}: more than the expected ${expected.sizeBytes} bytes`);
      }
      if (offset < expected.prefix.length || verifyContent) checkChunk(chunk, offset, expected, verifyContent, what);
      offset += chunk.length;
    }
  } catch (err) {
    if (err instanceof LoadError) throw err;
    throw new LoadError('Network', `${what}: ${(err as Error).message}`, { cause: err });
  }
  if (offset !== expected.sizeBytes) {
    throw new LoadError('ShortBody', `${what}: got ${offset} bytes, expected ${expected.sizeBytes}`);
  }
}

function checkChunk(chunk: Buffer, offset: number, expected: ObjectBody, verifyContent: boolean, what: string): void {
  const prefixLength = expected.prefix.length;
  let chunkOffset = 0;
  if (offset < prefixLength) {
    const n = Math.min(prefixLength - offset, chunk.length);
    if (!chunk.subarray(0, n).equals(expected.prefix.subarray(offset, offset + n))) {
      throw new LoadError('ContentMismatch', `${what}: object prefix differs (wrong object or corrupt data)`);
    }
    chunkOffset = n;
  }
  if (!verifyContent || chunkOffset === chunk.length) return;
  const restOffset = offset + chunkOffset - prefixLength;
  const actual = chunk.subarray(chunkOffset);
  if (!actual.equals(expected.rest.subarray(restOffset, restOffset + actual.length))) {
    throw new LoadError('ContentMismatch', `${what}: bytes differ at offset ${offset + chunkOffset}..${offset + chunk.length}`);
  }
}

/** One measured cell: one operation at one object size and concurrency. */
export interface CellSpec {
  op: 'PUT' | 'GET';
  bucket: string;
  /** Object size in bytes. */
  sizeBytes: number;
  /** Workers issuing requests back to back (closed loop), and sockets in the pool. */
  concurrency: number;
  /** Stop issuing new requests after this many ms (in-flight requests finish and count). */
  durationMs: number;
  /** Stop after this many requests, whichever limit comes first. */
  opsMax: number;
  /** Object key for request number i (PUT) or the i-th object read (GET). */
  keyOf: (index: number) => string;
  /** GET only: how many keys exist (GET i reads keyOf(i % keyCount)). Ignored for PUT. */
  keyCount: number;
  /** GET only: verify every byte of one GET in this many (1 = all); length and prefix are always checked. */
  verifyContentEvery: number;
}

/** What a cell measured. Latencies are per request, from send to last response byte. */
export interface CellMeasurement {
  /** Requests completed successfully. */
  ops: number;
  /** Object bytes moved by those requests. */
  bytes: number;
  /** Wall time from the first request to the last completion, in ms. */
  elapsedMs: number;
  /** Decimal megabytes (10^6 bytes) per second. */
  megabytesPerSecond: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** GETs whose every byte was compared (the rest had length and prefix checked). */
  contentVerifiedOps: number;
  /** The first error, after which the cell stopped; undefined when all requests succeeded. */
  error: { code: LoadErrorCode; message: string } | undefined;
}

/** Runs one cell against `client` (whose agent should have maxSockets = spec.concurrency). */
export async function runCell(client: BenchClient, spec: CellSpec, payload: Buffer): Promise<CellMeasurement> {
  const latenciesMs: number[] = [];
  let next = 0;
  let contentVerifiedOps = 0;
  let error: CellMeasurement['error'];
  const startMs = performance.now();
  const deadlineMs = startMs + spec.durationMs;

  const worker = async (): Promise<void> => {
    while (error === undefined && next < spec.opsMax && performance.now() < deadlineMs) {
      const index = next++;
      const key = spec.keyOf(spec.op === 'PUT' ? index : index % spec.keyCount);
      const body = objectBody(payload, key);
      const verifyContent = spec.op === 'GET' && index % spec.verifyContentEvery === 0;
      const t0 = performance.now();
      try {
        if (spec.op === 'PUT') await client.putObject(spec.bucket, key, body);
        else await client.getObject(spec.bucket, key, body, verifyContent);
      } catch (err) {
        error ??= { code: err instanceof LoadError ? err.code : 'Unknown', message: (err as Error).message };
        return;
      }
      latenciesMs.push(performance.now() - t0);
      if (verifyContent) contentVerifiedOps++;
    }
  };

  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const elapsedMs = performance.now() - startMs;
  return summarize(latenciesMs, spec.sizeBytes, elapsedMs, contentVerifiedOps, error);
}

function summarize(
  latenciesMs: number[],
  sizeBytes: number,
  elapsedMs: number,
  contentVerifiedOps: number,
  error: CellMeasurement['error'],
): CellMeasurement {
  const sorted = Float64Array.from(latenciesMs).sort();
  const ops = sorted.length;
  const bytes = ops * sizeBytes;
  const seconds = elapsedMs / 1000;
  return {
    ops,
    bytes,
    elapsedMs,
    megabytesPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0,
    opsPerSecond: seconds > 0 ? ops / seconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: ops > 0 ? (sorted[ops - 1] ?? 0) : 0,
    contentVerifiedOps,
    error,
  };
}

/** Nearest-rank percentile of ascending `sorted` (q in (0, 1]); 0 when empty. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? 0;
}
