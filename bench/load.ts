// The bench's own S3 load generator, in the manner of MinIO's warp: closed-loop workers over one
// undici keep-alive pool, SigV4-signed PUT, GET, a warp-style MIXED load and LIST. A cell runs a
// warm-up, then a measured window; at the window's end requests still in flight are aborted, and
// only bytes that moved inside the window count, so a 64 MiB x 64 cell takes as long as a 4 KiB one.
// Every GET checks byte count and the object's unique prefix (a sample every byte), HEAD checks the
// length and LIST the key count, so a broken server cannot look fast.

import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import { Agent, request, type Dispatcher } from 'undici';
import { signRequest, uriEncode, type SigV4Credentials } from './sigv4-sign.js';

/** Bytes at the start of each object that are unique to its key (the rest is the shared payload). */
export const objectPrefixBytes = 16;
/** A request waiting this long for response headers, or for the next body bytes, fails. */
export const requestIdleTimeoutMs = 120_000;
/** PUT bodies are yielded in slices of this size; undici waits for the socket to drain between slices. */
export const bodyWriteChunkBytes = 256 * 1024;
/** Bytes of an error response body kept for the error message. */
const errorBodyMaxBytes = 512;
/** LIST pages: ListObjectsV2 max-keys (AWS's default and maximum). */
export const listPageKeysMax = 1000;
/** LIST responses are read up to this many bytes (1000 keys of a few hundred bytes each). */
const listResponseBytesMax = 4 * 1024 * 1024;
/**
 * MIXED: the share of each operation, warp's defaults (`warp mixed`: 45% GET, 30% STAT, 15% PUT,
 * 10% DELETE); STAT is a HEAD here.
 */
export const mixedWeights: Readonly<Record<MixedOp, number>> = { GET: 45, HEAD: 30, PUT: 15, DELETE: 10 };
/** Abort listeners allowed on a cell's signal beyond one per worker (Node warns past its default of 10). */
const signalListenersSpare = 16;
/** MIXED: a DELETE looks at this many random keys for one no request is reading, then becomes a HEAD. */
const mixedDeletePicksMax = 8;

/** One operation of the MIXED load. */
export type MixedOp = 'GET' | 'HEAD' | 'PUT' | 'DELETE';

/** Why a request failed; the cell stops at the first one. 'Unknown' marks a non-LoadError (a bench bug). */
export type LoadErrorCode = 'HttpStatus' | 'ShortBody' | 'LongBody' | 'ContentMismatch' | 'ListMismatch' | 'Network' | 'Unknown';

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
  /** Base URLs, e.g. https://127.0.0.1:9000; request i goes to endpoints[i mod N] (path-style /bucket/key). */
  endpoints: readonly URL[];
  credentials: SigV4Credentials;
  /** PEM of the server's certificate (or its CA); undefined trusts the system store. */
  ca: Buffer | undefined;
  /** Keep-alive connections per endpoint; set to the cell's concurrency. */
  connections: number;
}

/** Per-request hooks: bytes of object data as they move, and cancellation. */
export interface RequestHooks {
  /** Called with the object bytes handed to the socket (PUT) or received (GET) since the last call. */
  onBytes?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * A signing S3 client over one undici Agent (keep-alive, `connections` per endpoint, no pipelining).
 * Not a general client: only what the bench needs. Any node of a cluster serves any object, so
 * spreading requests over several endpoints exercises the read-after-write path a cluster must have.
 */
export class BenchClient {
  private readonly agent: Agent;
  private next = 0;

  constructor(private readonly options: BenchClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('BenchClient needs at least one endpoint');
    this.agent = new Agent({
      connections: options.connections,
      pipelining: 1,
      headersTimeout: requestIdleTimeoutMs,
      bodyTimeout: requestIdleTimeoutMs,
      connect: options.ca === undefined ? {} : { ca: options.ca },
    });
  }

  /** CreateBucket; an already-existing bucket owned by us counts as success. Throws LoadError. */
  async createBucket(bucket: string): Promise<void> {
    const res = await this.send('PUT', `/${bucket}`, {}, undefined, {});
    if (res.statusCode === 409) {
      const body = await readErrorBody(res);
      if (body.includes('BucketAlreadyOwnedByYou')) return;
      throw new LoadError('HttpStatus', `CreateBucket ${bucket}: HTTP 409 ${body}`);
    }
    await expectStatus(res, [200], `CreateBucket ${bucket}`);
  }

  /** PutObject of `body` under bucket/key; resolves once the 200 response is fully read. Throws LoadError. */
  async putObject(bucket: string, key: string, body: ObjectBody, hooks: RequestHooks = {}): Promise<void> {
    const res = await this.send('PUT', `/${bucket}/${key}`, {}, body, hooks);
    await expectStatus(res, [200], `PUT ${bucket}/${key}`);
  }

  /**
   * GetObject of bucket/key, checking the length against `expected.sizeBytes` and the prefix always,
   * and every byte when `verifyContent`. Resolves after the last byte. Throws LoadError.
   */
  async getObject(bucket: string, key: string, expected: ObjectBody, verifyContent: boolean, hooks: RequestHooks = {}): Promise<void> {
    const res = await this.send('GET', `/${bucket}/${key}`, {}, undefined, hooks);
    if (res.statusCode !== 200) {
      throw new LoadError('HttpStatus', `GET ${bucket}/${key}: HTTP ${res.statusCode} ${await readErrorBody(res)}`);
    }
    await verifyBody(res.body, expected, verifyContent, `GET ${bucket}/${key}`, hooks.onBytes);
  }

  /** HeadObject of bucket/key; its Content-Length must be `sizeBytes`. Throws LoadError. */
  async headObject(bucket: string, key: string, sizeBytes: number, hooks: RequestHooks = {}): Promise<void> {
    const res = await this.send('HEAD', `/${bucket}/${key}`, {}, undefined, hooks);
    await expectStatus(res, [200], `HEAD ${bucket}/${key}`);
    const length = Number(res.headers['content-length']);
    if (length !== sizeBytes) throw new LoadError('ShortBody', `HEAD ${bucket}/${key}: Content-Length ${String(res.headers['content-length'])}, expected ${sizeBytes}`);
  }

  /** DeleteObject of bucket/key (204, or 200 from servers that answer so). Throws LoadError. */
  async deleteObject(bucket: string, key: string, hooks: RequestHooks = {}): Promise<void> {
    const res = await this.send('DELETE', `/${bucket}/${key}`, {}, undefined, hooks);
    await expectStatus(res, [204, 200], `DELETE ${bucket}/${key}`);
  }

  /**
   * ListObjectsV2 of every key under `prefix`, page by page (max-keys 1000, continuation tokens), and
   * returns the number of keys. Follows https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html.
   * Throws LoadError (HttpStatus, Network).
   */
  async listObjects(bucket: string, prefix: string, hooks: RequestHooks = {}): Promise<number> {
    let keys = 0;
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': String(listPageKeysMax) };
      if (token !== undefined) query['continuation-token'] = token;
      const res = await this.send('GET', `/${bucket}`, query, undefined, hooks);
      if (res.statusCode !== 200) throw new LoadError('HttpStatus', `LIST ${bucket}/${prefix}: HTTP ${res.statusCode} ${await readErrorBody(res)}`);
      const page = parseListPage(await readText(res.body, listResponseBytesMax, `LIST ${bucket}/${prefix}`));
      keys += page.keys;
      token = page.nextToken;
    } while (token !== undefined);
    return keys;
  }

  /** Closes the pool; requests still in flight are destroyed. */
  async close(): Promise<void> {
    await this.agent.destroy();
  }

  private async send(
    method: string,
    path: string,
    query: Readonly<Record<string, string>>,
    body: ObjectBody | undefined,
    hooks: RequestHooks,
  ): Promise<Dispatcher.ResponseData> {
    const endpoint = this.options.endpoints[this.next++ % this.options.endpoints.length] as URL;
    const headers = signRequest(this.options.credentials, {
      method,
      host: endpoint.host,
      path,
      query,
      headers: method === 'PUT' ? { 'content-length': String(body?.sizeBytes ?? 0) } : {},
    });
    const search = Object.entries(query)
      .map(([name, value]) => `${uriEncode(name, false)}=${uriEncode(value, false)}`)
      .join('&');
    const url = `${endpoint.origin}${uriEncode(path, true)}${search === '' ? '' : `?${search}`}`;
    try {
      return await request(url, {
        dispatcher: this.agent,
        method: method as Dispatcher.HttpMethod,
        headers,
        // undici streams an async iterable body (lib/dispatcher/client-h1.js, writeIterable), though its types list only Readable.
        body: body === undefined ? (method === 'PUT' ? '' : null) : (bodySlices(body, hooks.onBytes) as unknown as Readable),
        signal: hooks.signal,
      });
    } catch (err) {
      throw networkError(err, `${method} ${path}`);
    }
  }
}

// Prefix, then the rest in bodyWriteChunkBytes slices (views, no copies). A slice is counted when the
// next one is asked for, that is once undici has handed it to the socket.
async function* bodySlices(body: ObjectBody, onBytes: ((bytes: number) => void) | undefined): AsyncGenerator<Buffer> {
  yield body.prefix;
  onBytes?.(body.prefix.length);
  for (let offset = 0; offset < body.rest.length; offset += bodyWriteChunkBytes) {
    const slice = body.rest.subarray(offset, offset + bodyWriteChunkBytes);
    yield slice;
    onBytes?.(slice.length);
  }
}

// An abort keeps its name so the cell can tell its own cancellation from a failure.
function networkError(err: unknown, what: string): Error {
  if (err instanceof LoadError) return err;
  if (err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'UND_ERR_ABORTED')) return err;
  return new LoadError('Network', `${what}: ${(err as Error).message}`, { cause: err });
}

async function expectStatus(res: Dispatcher.ResponseData, statuses: readonly number[], what: string): Promise<void> {
  if (!statuses.includes(res.statusCode)) {
    throw new LoadError('HttpStatus', `${what}: HTTP ${res.statusCode} ${await readErrorBody(res)}`);
  }
  await res.body.dump();
}

async function readErrorBody(res: Dispatcher.ResponseData): Promise<string> {
  let text = '';
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (text.length < errorBodyMaxBytes) text += chunk.toString('utf8');
    }
  } catch {
    // The status code already says enough; a broken error body adds nothing.
  }
  return text.slice(0, errorBodyMaxBytes).replace(/\s+/g, ' ');
}

async function readText(body: Dispatcher.ResponseData['body'], bytesMax: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > bytesMax) throw new LoadError('LongBody', `${what}: response over ${bytesMax} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    throw networkError(err, what);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const listParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'Contents' });

// Keys on one ListObjectsV2 page and the token of the next, if IsTruncated.
function parseListPage(xml: string): { keys: number; nextToken: string | undefined } {
  const parsed = listParser.parse(xml) as { ListBucketResult?: { Contents?: unknown[]; IsTruncated?: string; NextContinuationToken?: string } };
  const result = parsed.ListBucketResult;
  if (result === undefined) throw new LoadError('ListMismatch', `LIST: no ListBucketResult in ${xml.slice(0, 200)}`);
  const truncated = result.IsTruncated === 'true';
  if (truncated && (result.NextContinuationToken ?? '') === '') throw new LoadError('ListMismatch', 'LIST: IsTruncated without NextContinuationToken');
  return { keys: result.Contents?.length ?? 0, nextToken: truncated ? result.NextContinuationToken : undefined };
}

// Compares each chunk in place against the expected bytes at its offset: no concatenation, no copies.
async function verifyBody(
  body: AsyncIterable<Buffer>,
  expected: ObjectBody,
  verifyContent: boolean,
  what: string,
  onBytes: ((bytes: number) => void) | undefined,
): Promise<void> {
  let offset = 0;
  try {
    for await (const chunk of body) {
      if (offset + chunk.length > expected.sizeBytes) {
        throw new LoadError('LongBody', `${what}: more than the expected ${expected.sizeBytes} bytes`);
      }
      if (offset < expected.prefix.length || verifyContent) checkChunk(chunk, offset, expected, verifyContent, what);
      offset += chunk.length;
      onBytes?.(chunk.length);
    }
  } catch (err) {
    throw networkError(err, what);
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

/**
 * PUTs every key in `keys` (objects of `payload`'s size), `concurrency` at a time, and resolves when
 * all are stored: the unmeasured preparation of GET, MIXED and LIST cells. Throws the first LoadError.
 */
export async function putObjects(client: BenchClient, bucket: string, keys: readonly string[], payload: Buffer, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      await client.putObject(bucket, key, objectBody(payload, key));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
}

/** One measured cell: one operation at one object size and concurrency. */
export interface CellSpec {
  op: 'PUT' | 'GET' | 'MIXED' | 'LIST';
  bucket: string;
  /** Object size in bytes (LIST: of the listed objects, only reported). */
  sizeBytes: number;
  /** Workers issuing requests back to back (closed loop); the pool has as many connections per endpoint. */
  concurrency: number;
  /** Unmeasured time from the first request to the window's start, in ms (connections, ramp-up). */
  warmupMs: number;
  /** Measured window, in ms; at its end requests in flight are aborted. */
  windowMs: number;
  /** PUT and MIXED's PUTs: key of the i-th new object (never an existing key). */
  newKey: (index: number) => string;
  /**
   * GET and MIXED: existing keys of objects of `payload`. MIXED takes the keys it deletes out of this
   * array and appends the keys it stores, so afterwards it still lists only objects that exist.
   */
  readKeys: string[];
  /** Called with the key of every object a PUT (or MIXED's PUT) stored, inside the window or not. */
  onStored: ((key: string) => void) | undefined;
  /** GET: verify every byte of one GET in this many (1 = all); length and prefix are always checked. */
  verifyContentEvery: number;
  /** LIST: the prefix listed, and how many keys it must hold. */
  listPrefix: string;
  listKeyCount: number;
  /**
   * Called at the window's start, right after the bytes counter is read, and at its end, right after
   * it is read again (also when a failed request ends the window early; never when the window did
   * not start): e.g. to sample CPU over exactly the bytes the cell counts.
   */
  onWindow?: ((edge: 'start' | 'end') => void) | undefined;
  /**
   * When this signal aborts, the window ends at once, as if windowMs had passed (before the window's
   * start: the cell ends with an empty window). For a load that lasts as long as something else does.
   */
  windowEnd?: AbortSignal | undefined;
}

/**
 * What a cell measured over its window (the warm-up before it is not counted). Latencies are per
 * request, from send to last response byte, over the requests that completed inside the window.
 */
export interface CellMeasurement {
  /** Requests completed successfully inside the window. */
  ops: number;
  /** Object bytes moved inside the window, by completed requests and by those still in flight at either edge. */
  bytes: number;
  /** Length of the window, in ms. */
  elapsedMs: number;
  /** Decimal megabytes (10^6 bytes) per second: bytes / window. */
  megabytesPerSecond: number;
  /** ops / window. */
  opsPerSecond: number;
  /** Nearest-rank latency percentiles and maximum, in ms; 0 when no request completed. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** MIXED: completed requests per operation (GET, HEAD, PUT, DELETE); LIST: objects listed. Undefined otherwise. */
  opCounts: Record<string, number> | undefined;
  /** GETs whose every byte was compared (the rest had length and prefix checked). */
  contentVerifiedOps: number;
  /** The first error, after which the cell stopped; undefined when all requests succeeded. */
  error: { code: LoadErrorCode; message: string } | undefined;
}

// Everything one cell's workers share.
interface CellState {
  spec: CellSpec;
  client: BenchClient;
  payload: Buffer;
  signal: AbortSignal;
  /** Object bytes moved since the cell started (all requests, in flight or done). */
  bytesMoved: number;
  /** Window edges on performance.now()'s clock; windowEndMs is Infinity until the window starts. */
  windowStartMs: number;
  windowEndMs: number;
  latenciesMs: number[];
  opCounts: Record<string, number>;
  contentVerifiedOps: number;
  issued: number;
  error: CellMeasurement['error'];
  /** MIXED: keys that exist (spec.readKeys itself), and how many requests are reading each. */
  pool: string[];
  readers: Map<string, number>;
}

/**
 * Runs one cell against `client` (whose pool should have `spec.concurrency` connections per endpoint):
 * `concurrency` workers issue requests back to back; the bytes moved between the end of the warm-up
 * and the end of the window, and the requests that completed inside it, are the measurement. Requests
 * still in flight at the end are aborted (a PUT aborted mid-body must leave no object: that is the
 * server's atomicity, not the bench's concern). The first failed request stops the cell and is its `error`.
 */
export async function runCell(client: BenchClient, spec: CellSpec, payload: Buffer): Promise<CellMeasurement> {
  const abort = new AbortController();
  // Every request in flight listens on the cell's one signal.
  setMaxListeners(spec.concurrency + signalListenersSpare, abort.signal);
  const state: CellState = {
    spec, client, payload, signal: abort.signal, bytesMoved: 0, windowStartMs: Infinity, windowEndMs: Infinity,
    latenciesMs: [], opCounts: {}, contentVerifiedOps: 0, issued: 0, error: undefined,
    pool: spec.readKeys, readers: new Map(),
  };
  let bytesAtStart = 0;
  let bytesAtEnd = 0;
  let measuredMs = 0;
  let windowEnd: NodeJS.Timeout | undefined;
  // Ends the window (by its timer or spec.windowEnd) and aborts what is in flight; once.
  const endWindow = (): void => {
    if (abort.signal.aborted) return;
    clearTimeout(windowStart);
    clearTimeout(windowEnd);
    if (state.windowStartMs !== Infinity) {
      // The timer can fire late; the window is what the two snapshots actually span.
      state.windowEndMs = performance.now();
      measuredMs = state.windowEndMs - state.windowStartMs;
      bytesAtEnd = state.bytesMoved;
      spec.onWindow?.('end');
    }
    abort.abort();
  };
  const windowStart = setTimeout(() => {
    state.windowStartMs = performance.now();
    state.windowEndMs = state.windowStartMs + spec.windowMs;
    bytesAtStart = state.bytesMoved;
    spec.onWindow?.('start');
    windowEnd = setTimeout(endWindow, spec.windowMs);
  }, spec.warmupMs);
  if (spec.windowEnd?.aborted === true) endWindow();
  spec.windowEnd?.addEventListener('abort', endWindow, { once: true });
  const workers = Array.from({ length: spec.concurrency }, () => runWorker(state));
  await Promise.all(workers);
  spec.windowEnd?.removeEventListener('abort', endWindow);
  // Stopped early by an error: the window is what ran of it (nothing, if it had not started).
  endWindow();
  const counts = spec.op === 'MIXED' || spec.op === 'LIST' ? state.opCounts : undefined;
  return summarize(state.latenciesMs, Math.max(0, bytesAtEnd - bytesAtStart), measuredMs, counts, state.contentVerifiedOps, state.error);
}

async function runWorker(state: CellState): Promise<void> {
  while (state.error === undefined && !state.signal.aborted) {
    const t0 = performance.now();
    let done: { op: string; verified: boolean; listed: number };
    try {
      done = await runOne(state);
    } catch (err) {
      if (state.signal.aborted) return;
      state.error ??= { code: err instanceof LoadError ? err.code : 'Unknown', message: (err as Error).message };
      return;
    }
    const t1 = performance.now();
    if (t1 < state.windowStartMs || t1 > state.windowEndMs) continue;
    state.latenciesMs.push(t1 - t0);
    state.opCounts[done.op] = (state.opCounts[done.op] ?? 0) + (state.spec.op === 'LIST' ? done.listed : 1);
    if (done.verified) state.contentVerifiedOps++;
  }
}

// One request of the cell's operation; MIXED draws which.
async function runOne(state: CellState): Promise<{ op: string; verified: boolean; listed: number }> {
  const { spec, client, payload } = state;
  const index = state.issued++;
  const hooks: RequestHooks = { signal: state.signal, onBytes: (bytes) => (state.bytesMoved += bytes) };
  switch (spec.op) {
    case 'PUT': {
      const key = spec.newKey(index);
      await client.putObject(spec.bucket, key, objectBody(payload, key), hooks);
      spec.onStored?.(key);
      return { op: 'PUT', verified: false, listed: 0 };
    }
    case 'GET': {
      const key = spec.readKeys[index % spec.readKeys.length] as string;
      const verified = index % spec.verifyContentEvery === 0;
      await client.getObject(spec.bucket, key, objectBody(payload, key), verified, hooks);
      return { op: 'GET', verified, listed: 0 };
    }
    case 'LIST': {
      const listed = await client.listObjects(spec.bucket, spec.listPrefix, { signal: state.signal });
      if (listed !== spec.listKeyCount) throw new LoadError('ListMismatch', `LIST ${spec.bucket}/${spec.listPrefix}: ${listed} keys, expected ${spec.listKeyCount}`);
      return { op: 'objects', verified: false, listed };
    }
    case 'MIXED':
      return runMixed(state, index, hooks);
  }
}

// warp's mix over the cell's pool: GET and HEAD read a pooled key (counted as a reader), DELETE takes
// a key nobody reads out of the pool, PUT adds a new key once stored. The pool never runs dry: with
// no more keys than workers, a DELETE becomes a PUT.
async function runMixed(state: CellState, index: number, hooks: RequestHooks): Promise<{ op: string; verified: boolean; listed: number }> {
  const { spec, client, payload } = state;
  let op = drawMixedOp();
  if (op === 'DELETE' && state.pool.length <= spec.concurrency) op = 'PUT';
  if (op === 'PUT') {
    const key = spec.newKey(index);
    await client.putObject(spec.bucket, key, objectBody(payload, key), hooks);
    state.pool.push(key);
    spec.onStored?.(key);
    return { op, verified: false, listed: 0 };
  }
  if (op === 'DELETE') {
    const at = pickUnread(state);
    if (at !== undefined) {
      const [key] = state.pool.splice(at, 1) as [string];
      await client.deleteObject(spec.bucket, key, { signal: state.signal });
      return { op, verified: false, listed: 0 };
    }
    op = 'HEAD';
  }
  const key = state.pool[Math.floor(Math.random() * state.pool.length)] as string;
  state.readers.set(key, (state.readers.get(key) ?? 0) + 1);
  try {
    if (op === 'HEAD') {
      await client.headObject(spec.bucket, key, payload.length, { signal: state.signal });
      return { op, verified: false, listed: 0 };
    }
    const verified = index % spec.verifyContentEvery === 0;
    await client.getObject(spec.bucket, key, objectBody(payload, key), verified, hooks);
    return { op, verified, listed: 0 };
  } finally {
    const readers = (state.readers.get(key) ?? 1) - 1;
    if (readers === 0) state.readers.delete(key);
    else state.readers.set(key, readers);
  }
}

function drawMixedOp(): MixedOp {
  const total = Object.values(mixedWeights).reduce((sum, weight) => sum + weight, 0);
  let draw = Math.random() * total;
  for (const [op, weight] of Object.entries(mixedWeights) as Array<[MixedOp, number]>) {
    draw -= weight;
    if (draw < 0) return op;
  }
  return 'GET';
}

function pickUnread(state: CellState): number | undefined {
  for (let i = 0; i < mixedDeletePicksMax; i++) {
    const at = Math.floor(Math.random() * state.pool.length);
    if (!state.readers.has(state.pool[at] as string)) return at;
  }
  return undefined;
}

function summarize(
  latenciesMs: number[],
  bytes: number,
  elapsedMs: number,
  opCounts: Record<string, number> | undefined,
  contentVerifiedOps: number,
  error: CellMeasurement['error'],
): CellMeasurement {
  const sorted = Float64Array.from(latenciesMs).sort();
  const ops = sorted.length;
  const seconds = elapsedMs / 1000;
  return {
    ops,
    bytes,
    elapsedMs,
    megabytesPerSecond: seconds > 0 ? bytes / 1e6 / seconds : 0,
    opsPerSecond: seconds > 0 ? ops / seconds : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: ops > 0 ? (sorted[ops - 1] ?? 0) : 0,
    opCounts,
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
