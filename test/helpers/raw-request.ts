// Raw HTTPS requests to a test server, SigV4-signed with @smithy/signature-v4 (or not at all), for
// cases real clients refuse to produce: wrong keys, clock skew, broken bodies, odd paths.
import { createHash, createHmac } from 'node:crypto';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { sdkSigner } from './sdk-signer.js';
import { region, startServer, type S3dServer } from './server.js';
import type { HttpResult } from './clients.js';

export const emptySha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 encoding of one path segment or query component, as SigV4 wants it. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `/bucket/key` with every key segment encoded but '/' (and '..' segments) kept as they are. */
export function objectPath(bucket: string, key = ''): string {
  return `/${bucket}/${key.split('/').map(uriEncode).join('/')}`;
}

export interface RawRequest {
  method: string;
  /** Already encoded path, e.g. objectPath(bucket, key). */
  path: string;
  /** Query parameters; '' gives a bare `?name`. */
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** 'v4' (default) signs with the server's keys unless `credentials` is given. */
  auth?: 'v4' | 'none';
  credentials?: { accessKeyId: string; secretAccessKey: string };
  signingDate?: Date;
  /** Region named in the credential scope; default the test servers' region. */
  signingRegion?: string;
  /** Headers left out of SignedHeaders although sent (e.g. `host`), for refusal tests. */
  unsignableHeaders?: Set<string>;
  /** x-amz-content-sha256; default the body's sha256. */
  payloadHash?: string;
}

export interface SignedRequest {
  path: string;
  headers: Record<string, string>;
}

function queryString(query: Record<string, string> | undefined): string {
  if (query === undefined || Object.keys(query).length === 0) return '';
  const parts = Object.entries(query).map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`));
  return `?${parts.join('&')}`;
}

/** Builds the path-with-query and headers (Authorization etc.) for a request. */
export async function signRequest(server: S3dServer, req: RawRequest): Promise<SignedRequest> {
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers: Record<string, string> = { host: `127.0.0.1:${server.port}`, ...req.headers };
  const fullPath = `${req.path}${queryString(req.query)}`;
  if (req.auth === 'none') return { path: fullPath, headers };
  headers['x-amz-content-sha256'] = req.payloadHash ?? createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex');
  const signer = sdkSigner(req.credentials ?? { accessKeyId: server.accessKey, secretAccessKey: server.secretKey }, { region, applyChecksum: false });
  const signed = await signer.sign(
    { method: req.method, protocol: 'https:', hostname: '127.0.0.1', port: server.port, path: req.path, query: req.query ?? {}, headers, body },
    {
      signingDate: req.signingDate ?? new Date(),
      ...(req.signingRegion !== undefined ? { signingRegion: req.signingRegion } : {}),
      ...(req.unsignableHeaders !== undefined ? { unsignableHeaders: req.unsignableHeaders } : {}),
    },
  );
  return { path: fullPath, headers: signed.headers as Record<string, string> };
}

/** Signs (unless auth 'none') and sends one request on a fresh connection; collects the whole response. */
export async function rawRequest(server: S3dServer, req: RawRequest): Promise<HttpResult> {
  const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  const headers = { ...req.headers };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(body.length);
  const signed = await signRequest(server, { ...req, headers });
  return await sendRequest(server, req.method, signed, body);
}

/**
 * Starts s3d with its defaults and creates `bucket` (path style, signed), then PUTs `objects`
 * (key -> body) into it, each expected to answer 200. On a failure the server is stopped again.
 */
export async function startServerWithBucket(bucket: string, objects: Record<string, string | Buffer> = {}): Promise<S3dServer> {
  const server = await startServer();
  try {
    expect((await rawRequest(server, { method: 'PUT', path: `/${bucket}` })).status).toBe(200);
    for (const [key, body] of Object.entries(objects)) {
      expect((await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), body })).status).toBe(200);
    }
    return server;
  } catch (err) {
    await server.dispose();
    throw err;
  }
}

/** Expects a plain signed GET of bucket/key still to answer 200 (and `body`, when given): the server survived a bad case. */
export async function expectStillServing(server: S3dServer, bucket: string, key: string, body?: string): Promise<void> {
  const res = await rawRequest(server, { method: 'GET', path: objectPath(bucket, key) });
  expect(res.status, `health GET after the case: ${res.body.toString()}`).toBe(200);
  if (body !== undefined) expect(res.body.toString()).toBe(body);
}

/** node:https options for a signed request to `server` over a fresh TLS connection that trusts its CA. */
export function signedRequestOptions(server: S3dServer, method: string, signed: SignedRequest): RequestOptions {
  return {
    host: '127.0.0.1',
    port: server.port,
    method,
    path: signed.path,
    headers: signed.headers,
    ca: readFileSync(server.caFile),
    servername: 'localhost',
    agent: false,
  };
}

/** Sends an already signed request (see signRequest) with `body`; `headerLines` go out as several lines each. */
export async function sendRequest(
  server: S3dServer, method: string, signed: SignedRequest, body?: Buffer, headerLines: Record<string, string[]> = {},
): Promise<HttpResult> {
  return await new Promise<HttpResult>((resolveRequest, reject) => {
    const options = signedRequestOptions(server, method, signed);
    const r = httpsRequest(
      { ...options, headers: { ...options.headers, ...headerLines } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolveRequest({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

/** aws-chunked body with an unsigned trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
export function awsChunkedUnsigned(chunks: Buffer[], trailer?: { name: string; value: string }): Buffer {
  const parts: Buffer[] = [];
  for (const chunk of chunks) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n'));
  if (trailer !== undefined) parts.push(Buffer.from(`${trailer.name}:${trailer.value}\r\n`));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

const chunkSignatureHexLength = 64;

/** Encoded length of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body for chunks of these sizes (plus the final empty chunk). */
export function awsChunkedSignedLength(chunkSizes: number[]): number {
  const frame = (size: number): number => size.toString(16).length + ';chunk-signature='.length + chunkSignatureHexLength + 2 + size + 2;
  return [...chunkSizes, 0].reduce((total, size) => total + frame(size), 0);
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * A STREAMING-AWS4-HMAC-SHA256-PAYLOAD body: each chunk signed with the previous signature, seeded
 * by the request's own signature (AWS "Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks").
 */
export function awsChunkedSigned(server: S3dServer, signed: SignedRequest, chunks: Buffer[]): Buffer {
  const amzDate = signed.headers['x-amz-date'] ?? '';
  const authorization = signed.headers.authorization ?? '';
  const seed = /Signature=([0-9a-f]{64})/.exec(authorization)?.[1];
  if (seed === undefined || amzDate === '') throw new Error('awsChunkedSigned: request is not SigV4-signed');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/s3/aws4_request`;
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${server.secretKey}`, day), region), 's3'), 'aws4_request');
  const parts: Buffer[] = [];
  let previous = seed;
  for (const chunk of [...chunks, Buffer.alloc(0)]) {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', amzDate, scope, previous, emptySha256, createHash('sha256').update(chunk).digest('hex')].join('\n');
    const signature = hmac(signingKey, stringToSign).toString('hex');
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${signature}\r\n`), chunk, Buffer.from('\r\n'));
    previous = signature;
  }
  return Buffer.concat(parts);
}

/** A TLS socket to the server that trusts its CA (for hand-written HTTP/1.1). */
export async function tlsSocket(server: S3dServer): Promise<TLSSocket> {
  return await new Promise<TLSSocket>((resolveSocket, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca: readFileSync(server.caFile), servername: 'localhost' }, () => resolveSocket(socket));
    socket.once('error', reject);
  });
}

export interface S3ErrorBody {
  root: string | undefined;
  code: string | undefined;
  message: string | undefined;
  requestId: string | undefined;
}

export function parseS3Error(body: Buffer | string): S3ErrorBody {
  const text = body.toString();
  const tag = (name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
  const root = /<([A-Za-z]+)[\s>]/.exec(text.replace(/^<\?xml[^>]*\?>\s*/, ''))?.[1];
  return { root, code: tag('Code'), message: tag('Message'), requestId: tag('RequestId') };
}

/**
 * Asserts an S3 error response: the status, `<Error>` XML with Code (= `code` when given),
 * Message and RequestId, and an x-amz-request-id header equal to RequestId.
 */
export function expectS3Error(res: HttpResult, status: number | ((s: number) => boolean), code?: string | string[]): S3ErrorBody {
  const err = parseS3Error(res.body);
  const summary = `status ${res.status}, body ${res.body.toString().slice(0, 600)}`;
  if (typeof status === 'number') expect(res.status, summary).toBe(status);
  else expect(status(res.status), summary).toBe(true);
  expect(String(res.headers['content-type'] ?? ''), `content-type; ${summary}`).toMatch(/xml/);
  expect(err.root, summary).toBe('Error');
  if (typeof code === 'string') expect(err.code, summary).toBe(code);
  else if (Array.isArray(code)) expect(code, summary).toContain(err.code);
  else expect(err.code, summary).toBeTruthy();
  expect(err.message, summary).toBeDefined();
  expect(err.requestId, summary).toBeTruthy();
  expect(res.headers['x-amz-request-id'], summary).toBe(err.requestId);
  return err;
}
