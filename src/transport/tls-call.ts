// One TLS-transport call's pieces: the outbound call's deadline, cancellation and resources, and
// the HTTP/2 stream halves both sides use (request and reply out with back-pressure, request in).
import type http2 from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Duplex } from 'node:stream';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { encodeFrame, errorFrame } from './framing.js';
import type { PeerState } from './peer-state.js';
import { ignore } from './race-abort.js';
import type { CallOptions, HandlerReply } from './transport.js';

/** The one HTTP/2 path calls are POSTed to. */
export const callPath = '/call';

/**
 * One outbound call's deadline, cancellation and resources (slot, stream). Exactly one reason ends
 * it early (CallTimeout, CallAborted, TransportClosed or a request body error); finish() is idempotent.
 */
export class OutboundCall {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly deadlineMs: number;
  private readonly onCallerAbort: () => void;
  private stream: http2.ClientHttp2Stream | undefined;
  private session: http2.ClientHttp2Session | undefined;
  private release: (() => void) | undefined;
  private done = false;

  constructor(private readonly peer: PeerState, private readonly options: CallOptions, private readonly onDone: () => void) {
    const { nodeId } = peer.peer;
    this.deadlineMs = Date.now() + options.timeoutMs;
    this.timer = setTimeout(() => {
      peer.failed(`call timed out after ${options.timeoutMs} ms`);
      this.fail(new TesseraError('CallTimeout', `call to node ${nodeId} took longer than ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    this.onCallerAbort = () => this.fail(new TesseraError('CallAborted', `call to node ${nodeId} aborted by the caller`));
    if (options.signal?.aborted) this.onCallerAbort();
    else options.signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(1, this.deadlineMs - Date.now());
  }

  setRelease(release: () => void): void {
    if (this.done) release();
    else this.release = release;
  }

  open(session: http2.ClientHttp2Session): http2.ClientHttp2Stream {
    const stream = session.request({ ':method': 'POST', ':path': callPath }, { endStream: false });
    stream.on('error', ignore); // reading the stream reports its errors
    this.stream = stream;
    this.session = session;
    return stream;
  }

  /** Ends the call early with `reason` (thrown to whoever waits on it). */
  fail(reason: unknown): void {
    if (this.done) return;
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.finish();
  }

  /**
   * Releases the slot, stops the deadline, and cancels the stream unless both directions already
   * ended. A finished call must not send RST_STREAM: nghttp2 (>= 1.57, the CVE-2023-44487 "rapid
   * reset" guard) lets a server session receive only 1000 of them in a burst (+33/s) and then ends
   * the whole session with GOAWAY(INTERNAL_ERROR), killing every call on it, bulk transfers included.
   */
  finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onCallerAbort);
    if (this.stream !== undefined && !settled(this.stream)) this.stream.close(h2.NGHTTP2_CANCEL);
    this.release?.();
    this.onDone();
  }

  /** The error to throw for `err`, met while the call ran; ends the call. */
  settle(err: unknown): unknown {
    const { nodeId } = this.peer.peer;
    let result: unknown = err;
    if (this.controller.signal.aborted) result = this.controller.signal.reason;
    else if (this.stream?.rstCode === h2.NGHTTP2_INTERNAL_ERROR && this.session?.destroyed === false) {
      // The peer reset this stream on a live session: its handler failed mid-reply (see sendReply).
      result = new TesseraError('RemoteError', `node ${nodeId} failed while sending its reply body`, { remoteNode: nodeId });
    } else if (!isTesseraError(err)) {
      result = new TesseraError('PeerUnreachable', `call to node ${nodeId} broke: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
    }
    // Connection failures were counted by connect(); here only streams that broke count.
    if (this.stream !== undefined && isTesseraError(result, 'PeerUnreachable')) this.peer.failed(result.message);
    this.finish();
    return result;
  }

  /** The reply body: enforces the deadline and ends the call when consumed or returned. */
  async *body(rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of rest) yield chunk;
      if (this.controller.signal.aborted) throw this.controller.signal.reason;
    } catch (err) {
      throw this.settle(err);
    } finally {
      this.finish();
    }
  }
}

/** True once both directions of `stream` ended: it closes by itself, with no RST_STREAM. */
function settled(stream: http2.ClientHttp2Stream): boolean {
  return stream.closed || stream.destroyed || (stream.readableEnded && stream.writableEnded);
}

/** Reads `body` to its end, ignoring errors (the call's deadline bounds the wait). */
export async function drainQuietly(body: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    for await (const chunk of body) void chunk;
  } catch {
    // the stream broke: finish() has nothing left to cancel
  }
}

/** Streams the request frame and body with back-pressure; a failing body source fails the call. */
export async function sendRequest(outbound: OutboundCall, stream: http2.ClientHttp2Stream, frame: Buffer, body?: AsyncIterable<Uint8Array>): Promise<void> {
  try {
    await writeChunk(stream, frame);
    if (body !== undefined) for await (const chunk of body) await writeChunk(stream, chunk);
    stream.end();
  } catch (err) {
    if (stream.destroyed || stream.closed) return; // the reply side reports why
    outbound.fail(isTesseraError(err) ? err : new TesseraError('RequestBodyFailed', `request body failed: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err }));
  }
}

/**
 * Sends a handler's reply, or an error frame for anything thrown. Once the reply header is out, a
 * failing reply body resets the stream with INTERNAL_ERROR (the caller sees RemoteError).
 */
export async function sendReply(stream: http2.ServerHttp2Stream, reply: unknown): Promise<void> {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  let frame: Buffer;
  let body: AsyncIterable<Uint8Array> | undefined;
  if (isHandlerReply(reply)) {
    try {
      frame = encodeFrame({ h: reply.header });
      body = reply.body;
    } catch (err) {
      frame = encodeFrame(errorFrame(err));
    }
  } else {
    frame = encodeFrame(errorFrame(reply));
  }
  try {
    stream.respond({ ':status': 200 });
    await writeChunk(stream, frame);
    if (body !== undefined) for await (const chunk of body) await writeChunk(stream, chunk);
    stream.end();
  } catch {
    if (!stream.closed) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  }
}

/** Writes `chunk`, waiting for 'drain' when the stream's buffer is full. Throws PeerUnreachable once the stream closed. */
async function writeChunk(stream: Duplex, chunk: Uint8Array): Promise<void> {
  if (stream.destroyed || stream.writableEnded) throw streamClosed();
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(streamClosed());
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    if (stream.destroyed) onClose();
  });
}

function streamClosed(): TesseraError {
  return new TesseraError('PeerUnreachable', 'stream closed while writing');
}

/**
 * The readable side of `stream` as chunks. Returning early does not destroy the stream (the reply
 * still has to go out); it switches the stream to discarding, so the caller can finish sending.
 */
export async function* discardOnReturn(stream: http2.ServerHttp2Stream): AsyncGenerator<Uint8Array, void, undefined> {
  let ended = false;
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) yield chunk as Uint8Array;
    ended = true;
  } finally {
    if (!ended && !stream.destroyed) stream.resume();
  }
}

function isHandlerReply(value: unknown): value is HandlerReply {
  return typeof value === 'object' && value !== null && !(value instanceof Error) && 'header' in value;
}
