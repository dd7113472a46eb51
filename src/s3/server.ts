// The S3 gateway: HTTP(S) listeners, per-request pipeline (route -> authenticate -> handler ->
// response), S3 error XML, one access log line per request, bounded concurrency and graceful
// shutdown. Only this file and ops/ speak HTTP; everything below is the object layer.
import type { RequestActivity } from '../util/request-activity.js';
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Readable, pipeline } from 'node:stream';
import type { Logger } from 'pino';
import type { ObjectLayer } from '../object/object-layer.js';
import {
  clientConnectionsMax, concurrentRequestsMax, errorBodyDrainMaxBytes, errorBodyDrainTimeoutMs, headerSectionMaxBytes,
  requestHeadersTimeoutMs, requestIdleTimeoutMs, shutdownGraceMs, unauthenticatedDrainMaxBytes, unauthenticatedDrainTimeoutMs,
} from '../util/limits.js';
import { presignedQueryHeaders } from './auth/presigned.js';
import { authenticate, parseQuery } from './auth/sigv4.js';
import type { GatewaySettings, RequestContext, S3Response } from './context.js';
import { s3Error, toS3Error } from './errors.js';
import { handlers } from './handlers.js';
import { checkAnnouncedBodySize } from './payload.js';
import { operationOf, resolveTarget, type Target } from './router.js';
import { checkRequestHeaders } from './unsupported-headers.js';
import { xmlPlain } from './xml.js';

export interface GatewayOptions {
  objects: ObjectLayer;
  settings: GatewaySettings;
  /** Host suffixes for virtual-host-style addressing. */
  domains: readonly string[];
  /** accessKeyId -> secretAccessKey. */
  credentials: ReadonlyMap<string, string>;
  log: Logger;
  /** Counts admitted requests for background work that yields to clients (repair). */
  activity?: RequestActivity;
}

export interface Listener {
  protocol: 'http' | 'https';
  address: string;
  port: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
}

function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function errorBody(code: string, message: string, resource: string, requestId: string, hostId: string, details: Record<string, string | number>): string {
  const extra: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(details)) {
    // Detail names that are already S3 XML element names go out as such; internal ones stay in logs.
    if (/^[A-Z][A-Za-z]+$/.test(name)) extra[name] = value;
  }
  return xmlPlain('Error', { Code: code, Message: message, ...extra, Resource: resource, RequestId: requestId, HostId: hostId });
}

/** The S3 HTTP gateway. */
export class S3Gateway {
  private readonly servers: Array<http.Server | https.Server> = [];
  /** Admitted requests holding one of concurrentRequestsMax slots. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** Per connection: responses not yet closed, and a parse-error reply waiting for them. */
  private readonly pendingResponses = new WeakMap<Socket, { responses: Set<ServerResponse>; afterLast: (() => void) | undefined }>();
  private readonly hostId = randomBytes(24).toString('base64');

  constructor(private readonly options: GatewayOptions) {}

  /** Starts a listener; resolves with the bound port (useful with port 0). */
  async listen(listener: Listener): Promise<number> {
    const server = this.createServer(listener);
    server.maxConnections = clientConnectionsMax;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    const address = server.address();
    return typeof address === 'object' && address ? address.port : listener.port;
  }

  /**
   * A server that does not listen: it serves the TCP connections passed to the returned function
   * (a gateway worker gets them from its node's process, which accepts on the shared port). At
   * most clientConnectionsMax at once; one more is closed at once, as a listener would refuse it.
   */
  serveConnections(listener: Pick<Listener, 'protocol' | 'tls'>): (socket: Socket) => void {
    const server = this.createServer(listener);
    this.servers.push(server);
    let open = 0;
    return (socket) => {
      if (open >= clientConnectionsMax) {
        socket.destroy();
        return;
      }
      open++;
      socket.once('close', () => open--);
      server.emit('connection', socket);
      socket.resume(); // accepted paused by the node's process
    };
  }

  private createServer(listener: Pick<Listener, 'protocol' | 'tls'>): http.Server | https.Server {
    const serverOptions = { maxHeaderSize: headerSectionMaxBytes, requestTimeout: 0, headersTimeout: requestHeadersTimeoutMs, keepAliveTimeout: 5_000 };
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res, false);
    const server = listener.protocol === 'https'
      ? https.createServer({ ...serverOptions, ...listener.tls }, handler)
      : http.createServer(serverOptions, handler);
    server.timeout = requestIdleTimeoutMs;
    // With a listener, node:http no longer answers `Expect: 100-continue` by itself: the request
    // is routed and authenticated first, and 100 Continue goes out only when its body is read.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res, true));
    if (listener.protocol === 'https') server.prependListener('secureConnection', keepHttpParserOffTlsHandle);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    server.on('tlsClientError', (err: Error) => this.options.log.debug({ err: err.message }, 'TLS handshake failed'));
    return server;
  }

  /** Stops accepting, waits for in-flight requests (up to shutdownGraceMs), then closes sockets. */
  async close(): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const server of this.servers) server.closeIdleConnections();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, shutdownGraceMs).unref()),
      ]);
    }
    for (const server of this.servers) server.closeAllConnections();
    await Promise.all(closed);
  }

  /**
   * A request on `socket` could not be parsed. Its 400 is written after the responses to the
   * requests before it on the same connection (HTTP/1.1 pipelining, RFC 9112 section 9.3.2), then
   * the connection closes: the parser cannot find the next request after garbage.
   */
  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const requestId = newRequestId();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const code = tooLarge ? 'RequestHeaderSectionTooLarge' : 'BadRequest';
    const message = tooLarge ? 'Your request header section exceeds the maximum allowed size.' : 'The HTTP request could not be parsed.';
    const body = errorBody(code, message, '', requestId, this.hostId, {});
    this.options.log.info({ reqId: requestId, status: 400, code, err: err.message }, 'malformed HTTP request');
    const reply = (): void => {
      if (!socket.writable) return;
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-amz-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const pending = this.pendingResponses.get(socket);
    if (pending === undefined || pending.responses.size === 0) reply();
    else pending.afterLast = reply;
  }

  /** Counts `res` as unanswered on its socket until it closes; then runs a deferred parse-error reply. */
  private trackResponse(socket: Socket, res: ServerResponse): void {
    let pending = this.pendingResponses.get(socket);
    if (pending === undefined) {
      pending = { responses: new Set(), afterLast: undefined };
      this.pendingResponses.set(socket, pending);
    }
    const entry = pending;
    entry.responses.add(res);
    res.once('close', () => {
      entry.responses.delete(res);
      if (entry.responses.size > 0 || entry.afterLast === undefined) return;
      const reply = entry.afterLast;
      entry.afterLast = undefined;
      // After node:http has handed the socket back (resOnFinish runs in the same tick as 'finish').
      setImmediate(reply);
    });
  }

  /** Takes one of concurrentRequestsMax slots; undefined when all are taken. */
  private acquireSlot(): (() => void) | undefined {
    if (this.inFlight >= concurrentRequestsMax) return undefined;
    this.inFlight++;
    const ended = this.options.activity?.begin();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      ended?.();
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
  }

  /**
   * One request: route, authenticate, check what the headers announce, then take a slot and run the
   * handler. Nothing before the slot reads the body, so a request refused there (anonymous, a bad
   * signature, an oversized Content-Length) costs no slot and, with `Expect: 100-continue`, no body.
   */
  private async handle(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): Promise<void> {
    const startMs = performance.now();
    const id = newRequestId();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q >= 0 ? url.slice(0, q) : url;
    const rawQuery = q >= 0 ? url.slice(q + 1) : '';
    let ctx: RequestContext | undefined;
    let operation = 'Unknown';
    let target: Target = { bucket: undefined, key: undefined, virtualHost: false };
    let releaseSlot: (() => void) | undefined;
    const body = { continueSent: false };
    res.setHeader('x-amz-request-id', id);
    res.setHeader('x-amz-id-2', this.hostId);
    res.setHeader('Server', 'Tessera');
    this.trackResponse(req.socket, res);
    // Counted as the body goes out: 'close' can come before send() resolves (a streamed body).
    const sent = { bytes: 0 };
    res.once('close', () => {
      releaseSlot?.();
      const ms = Math.round((performance.now() - startMs) * 10) / 10;
      this.options.log.info({
        reqId: id, op: operation, bucket: target.bucket, key: target.key, status: res.statusCode,
        bytesIn: ctx?.bytesIn ?? 0, bytesOut: sent.bytes, ms,
        ...(res.writableFinished ? {} : { aborted: true }),
      }, 'request');
    });
    try {
      const query = new URLSearchParams(rawQuery);
      const params = parseQuery(rawQuery);
      const fromQuery = presignedQueryHeaders(params);
      const routingHeaders = fromQuery.length === 0 ? req.headers : { ...Object.fromEntries(fromQuery), ...req.headers };
      target = resolveTarget(req.headers.host, rawPath, this.options.domains);
      operation = operationOf(req.method ?? 'GET', target, query, routingHeaders);
      // Repeated headers are signed joined with ',' (not node:http's ', '): headersDistinct keeps them apart.
      const auth = authenticate(
        { method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headersDistinct },
        (accessKeyId) => this.options.credentials.get(accessKeyId),
        Date.now(),
        { region: this.options.settings.region, ...(target.virtualHost && target.bucket ? { virtualHostBucket: target.bucket } : {}) },
        params,
      );
      // Signed as part of the query: from here on they are the request's headers, as on S3.
      for (const [name, value] of fromQuery) {
        if (req.headers[name] !== undefined) continue;
        req.headers[name] = value;
        req.rawHeaders.push(name, value);
      }
      ctx = {
        id, req, method: req.method ?? 'GET', rawPath, query, bucket: target.bucket, key: target.key, operation, auth,
        objects: this.options.objects, settings: this.options.settings, log: this.options.log.child({ reqId: id }), bytesIn: 0,
        startBody: () => {
          if (!expectsContinue || body.continueSent) return;
          body.continueSent = true;
          res.writeContinue();
        },
      };
      checkRequestHeaders({ operation, headers: req.headers, query, bucket: target.bucket, ownerId: this.options.settings.owner.id });
      checkAnnouncedBodySize(operation, req.headers);
      const handler = handlers[operation];
      if (!handler) throw s3Error('NotImplemented', `${operation} is not implemented`);
      releaseSlot = this.acquireSlot();
      if (releaseSlot === undefined) throw s3Error('SlowDown');
      const response = await handler(ctx);
      await this.send(req, res, response, sent);
    } catch (err) {
      // An error answer holds no slot while it waits for the rest of a body.
      releaseSlot?.();
      // Without 100 Continue the client holds its body back: nothing to wait for, whoever it is.
      const unread = expectsContinue && !body.continueSent ? 'unsent' : ctx === undefined ? 'unauthenticated' : 'drain';
      await this.sendError(req, res, err, rawPath, id, unread);
    }
  }

  /**
   * Reads and discards what is left of a request body (at most errorBodyDrainMaxBytes, within
   * errorBodyDrainTimeoutMs), so a client still sending can read an early error response
   * instead of a reset. Resolves true when the whole body was consumed.
   */
  private drainRequest(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<boolean> {
    if (req.complete) return Promise.resolve(true);
    if (req.destroyed) return Promise.resolve(false);
    // Detach whatever was reading the body (a pipe into the aws-chunked decoder, or an async
    // iterator abandoned by a failed handler): with a 'readable' listener attached, resume()
    // would not make the stream flow.
    req.unpipe();
    req.removeAllListeners('readable');
    return new Promise((resolve) => {
      let bytes = 0;
      const finish = (complete: boolean): void => {
        clearTimeout(timer);
        req.off('data', onData).off('end', onEnd).off('close', onClose);
        if (!complete) req.pause();
        resolve(complete);
      };
      const onData = (chunk: Buffer): void => {
        bytes += chunk.length;
        if (bytes > maxBytes) finish(false);
      };
      const onEnd = (): void => finish(true);
      const onClose = (): void => finish(req.complete);
      const timer = setTimeout(() => finish(false), timeoutMs);
      req.on('data', onData).once('end', onEnd).once('close', onClose);
      req.resume();
    });
  }

  /** Discards the unread body before an error answer; false when the connection must close. */
  private discardBody(req: IncomingMessage, code: string, body: 'drain' | 'unauthenticated' | 'unsent'): Promise<boolean> {
    if (req.complete) return Promise.resolve(true);
    // The client announced more than we would read, or never started sending: do not wait for it.
    const announced = Number(req.headers['content-length'] ?? 0);
    if (body === 'unsent' || code === 'RequestTimeout' || code === 'EntityTooLarge' || code === 'MaxMessageLengthExceeded') return Promise.resolve(false);
    if (body === 'unauthenticated') {
      if (announced > unauthenticatedDrainMaxBytes) return Promise.resolve(false);
      return this.drainRequest(req, unauthenticatedDrainMaxBytes, unauthenticatedDrainTimeoutMs);
    }
    if (announced > errorBodyDrainMaxBytes) return Promise.resolve(false);
    return this.drainRequest(req, errorBodyDrainMaxBytes, errorBodyDrainTimeoutMs);
  }

  /** Writes a handler's response; streams bodies with backpressure, adding each body byte sent to `sent.bytes`. */
  private send(req: IncomingMessage, res: ServerResponse, response: S3Response, sent: { bytes: number }): Promise<void> {
    res.statusCode = response.status;
    for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
    if (!req.complete) res.setHeader('Connection', 'close');
    const body = response.body;
    const isHead = req.method === 'HEAD';
    if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body) && isHead) void drain(body);
    if (body === undefined || isHead || typeof body === 'string' || Buffer.isBuffer(body)) {
      const fixed = isHead || body === undefined ? undefined : (body as string | Buffer);
      if (typeof fixed === 'string') res.setHeader('Content-Type', 'application/xml');
      const bytes = fixed === undefined ? 0 : Buffer.byteLength(fixed);
      if (!res.hasHeader('Content-Length') && !isHead) res.setHeader('Content-Length', bytes);
      sent.bytes += bytes;
      res.end(fixed);
      response.done?.();
      return Promise.resolve();
    }
    if (res.destroyed) {
      // The client went away before the body started (pipeline would throw): release the
      // object's data and close its reader, as a finished response does.
      response.done?.();
      void drain(body);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const source = Readable.from(body, { objectMode: false });
      source.on('data', (chunk: Buffer) => { sent.bytes += chunk.length; });
      pipeline(source, res, (err) => {
        response.done?.();
        if (err && !res.destroyed) {
          // Headers are gone: the only honest signal left is a broken connection, never bad bytes.
          this.options.log.error({ err }, 'response stream failed');
          res.destroy(err);
        }
        resolve();
      });
    });
  }

  /**
   * Sends the S3 error for `err`. What is left of the request body is first read and discarded
   * within bounds (`unread`: 'drain' for an authenticated request, 'unauthenticated' with tighter
   * bounds, 'unsent' when 100 Continue never went out so the client holds its body back), so a
   * client still sending reads the error instead of a reset; past the bounds the connection closes.
   */
  private async sendError(
    req: IncomingMessage, res: ServerResponse, err: unknown, rawPath: string, requestId: string,
    unread: 'drain' | 'unauthenticated' | 'unsent',
  ): Promise<void> {
    const reply = toS3Error(err);
    const log = this.options.log;
    if (reply.internal) log.error({ err, reqId: requestId }, 'internal error');
    else if (reply.status >= 500) log.warn({ reqId: requestId, code: reply.code, err: (err as Error).message }, 'request failed');
    else log.debug({ reqId: requestId, code: reply.code, err: (err as Error).message }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (!(await this.discardBody(req, reply.code, unread))) res.setHeader('Connection', 'close');
    if (res.headersSent || res.destroyed) return;
    res.statusCode = reply.status;
    if (reply.code === 'NotModified' || req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = errorBody(reply.code, reply.message, decodeSafe(rawPath), requestId, this.hostId, reply.details);
    res.setHeader('Content-Type', 'application/xml');
    res.setHeader('Content-Length', Buffer.byteLength(body));
    res.end(body);
  }
}

/**
 * Works around a Node.js HTTPS server bug (seen on Node 20.20): node:http hands a TLS socket's
 * handle straight to its C++ parser ("consume"). When a request arrives while the previous
 * response is still draining, node:http pauses the socket and the parser, but the TLS handle goes
 * on delivering the request body it has already decrypted, and the paused parser fails with
 * "Parse Error: Paused" (HPE_PAUSED): the connection is reset in the middle of a PUT. Seen in
 * `make bench` MIXED cells (a GET then a PUT on one keep-alive connection, 64 at a time; 1 run in
 * 2). Marking the handle as already consumed, before node:http's own 'secureConnection' listener
 * runs, makes node:http read the socket through its stream 'data' events instead, where pausing
 * holds. `_consumed` is node:http's own flag (lib/_http_server.js, connectionListenerInternal).
 */
function keepHttpParserOffTlsHandle(socket: Socket): void {
  const handle = (socket as Socket & { _handle?: { _consumed?: boolean } | null })._handle;
  if (handle) handle._consumed = true;
}

function decodeSafe(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  const iterator = body[Symbol.asyncIterator]();
  await iterator.return?.();
}
