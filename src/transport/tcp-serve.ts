// The TCP transport's inbound side of an authenticated connection: calls one after the other,
// each request frame, handler, reply frame and body, then whatever of the request body the
// handler left unread is read and dropped, so the connection is clean for the caller's next call.
import { ignore, raceAbort } from './race-abort.js';
import { TesseraError } from '../util/errors.js';
import { callMethodMaxBytes } from '../util/limits.js';
import { CallScope } from './call-scope.js';
import { errorFrame, packFrame, unpackFrame, type ReplyFrame, type RequestFrame } from './framing.js';
import type { CallSlots } from './slots.js';
import { FrameType, framePayload, type Frame, type FramedSocket } from './tcp-frames.js';
import type { CallHandler } from './transport.js';

/** What serving needs from the transport. */
export interface InboundContext {
  /** Every live call scope of the transport, so close() can abort them. */
  scopes: Set<CallScope>;
  /** Inbound calls served at once, over all connections. */
  slots: CallSlots;
  handler: CallHandler;
  /** Longest deadline honoured, ms (a request's `t` is clamped to it). */
  callTimeoutMaxMs: number;
  /** A connection with no call for this long is closed, ms. */
  idleTimeoutMs: number;
  /** How long an Abort frame has to reach the caller before the connection is reset, ms. */
  closeGraceMs: number;
}

/** Serves calls from node `from` on `connection` until it closes or breaks; destroys it on any protocol error. Never throws. */
export async function serveConnection(connection: FramedSocket, from: string, context: InboundContext): Promise<void> {
  for (;;) {
    const frame = await nextWithin(connection, context.idleTimeoutMs);
    if (frame === undefined) return;
    if (frame.type !== FrameType.Request && frame.type !== FrameType.RequestOnly) {
      connection.destroy(new TesseraError('BadFrame', `node ${from} sent frame type ${frame.type} where a request belongs`));
      return;
    }
    if (!(await serveCall(connection, frame, from, context))) {
      if (connection.failed === undefined) connection.destroy(new TesseraError('CallEnded', 'call did not end cleanly'));
      return;
    }
  }
}

/** The next frame, or undefined when the connection closes or stays silent for `idleMs`. */
async function nextWithin(connection: FramedSocket, idleMs: number): Promise<Frame | undefined> {
  const timer = setTimeout(() => connection.destroy(new TesseraError('PeerUnreachable', `${connection.peerName} sent no call for ${idleMs} ms`)), idleMs);
  try {
    return await connection.next();
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** One call; true when the connection is clean for the next (reply sent, request body read to its End). */
async function serveCall(connection: FramedSocket, frame: Frame, from: string, context: InboundContext): Promise<boolean> {
  let request: RequestFrame;
  try {
    request = unpackFrame<RequestFrame>(framePayload(frame));
    if (!isRequestFrame(request)) throw new TesseraError('BadFrame', `request frame from node ${from} lacks a method name or a deadline`);
  } catch (err) {
    connection.destroy(err as Error);
    return false;
  }
  const { m: method, h: header } = request;
  const deadlineMs = Math.min(request.t, context.callTimeoutMaxMs);
  const scope = new CallScope(context.scopes, deadlineMs, () => new TesseraError('CallTimeout', `call ${method} from node ${from} passed its ${deadlineMs} ms deadline`));
  // The deadline or close() ends the connection; the caller going away aborts the handler.
  const onAbort = (): void => {
    if (connection.failed === undefined) connection.destroy(scope.signal.reason as Error);
  };
  scope.signal.addEventListener('abort', onAbort, { once: true });
  const offClose = connection.onClose(() => scope.abort(new TesseraError('CallAborted', `caller ${from} went away`)));
  const body = new InboundBody(connection, frame.type === FrameType.Request, from);
  let release: (() => void) | undefined;
  try {
    release = await context.slots.acquire(scope.signal);
    let reply: ReplyFrame;
    let replyBody: AsyncIterable<Uint8Array> | undefined;
    try {
      // A handler that ignores its signal must not keep the slot: stop waiting for it once aborted.
      const result = await raceAbort(context.handler({ from, method, header, body: body.iterate(), signal: scope.signal }), scope.signal);
      reply = { h: result.header };
      replyBody = result.body;
    } catch (err) {
      if (scope.signal.aborted) return false;
      reply = errorFrame(err);
    }
    if (!(await sendReply(connection, reply, replyBody, scope.signal, context.closeGraceMs))) return false;
    await body.discard();
    return !scope.signal.aborted && connection.failed === undefined;
  } catch {
    return false;
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
    offClose();
    scope.dispose();
    release?.();
  }
}

/**
 * Sends the reply frame (an error frame when the header is too large) and the body. A body that
 * fails after the header went out is reported with an Abort frame, and the connection closes.
 * Returns false when the connection cannot carry another call.
 */
async function sendReply(connection: FramedSocket, reply: ReplyFrame, body: AsyncIterable<Uint8Array> | undefined, signal: AbortSignal, closeGraceMs: number): Promise<boolean> {
  let packed: Buffer;
  try {
    packed = packFrame(reply);
  } catch (err) {
    packed = packFrame(errorFrame(err));
    body = undefined;
  }
  if (body === undefined || 'e' in reply) {
    connection.send(FrameType.ReplyOnly, packed);
    return true;
  }
  if (!connection.send(FrameType.Reply, packed)) await connection.drained();
  try {
    for await (const chunk of body) {
      if (signal.aborted) return false;
      if (chunk.byteLength > 0) await connection.sendBody(chunk);
    }
  } catch (err) {
    if (connection.failed !== undefined || signal.aborted) return false;
    connection.send(FrameType.Abort, packFrame(errorFrame(err)));
    connection.closeAfterFlush(new TesseraError('CallEnded', 'reply body failed'), closeGraceMs);
    return false;
  }
  if (signal.aborted) return false;
  connection.send(FrameType.End);
  return true;
}

/** A request body read from the connection; reads are serialized, so the handler and discard() never race. */
class InboundBody {
  private ended: boolean;
  private reading: Promise<unknown> = Promise.resolve();

  constructor(private readonly connection: FramedSocket, hasBody: boolean, private readonly from: string) {
    this.ended = !hasBody;
  }

  /** The body as the handler sees it: checked chunks (views), in order. */
  async *iterate(): AsyncGenerator<Uint8Array> {
    while (!this.ended) {
      const frame = await this.read();
      if (frame !== undefined) for (const piece of frame.pieces) yield piece;
    }
  }

  /** Reads and drops the rest of the body (what the handler left). Throws the connection's failure. */
  async discard(): Promise<void> {
    while (!this.ended) await this.read();
  }

  /** The next Chunk frame, or undefined at End. Throws BadFrame (and destroys) for any other frame. */
  private read(): Promise<Frame | undefined> {
    const reading = this.reading.then(async () => {
      if (this.ended) return undefined;
      const frame = await this.connection.next();
      if (frame.type === FrameType.End) {
        this.ended = true;
        return undefined;
      }
      if (frame.type === FrameType.Chunk) return frame;
      const error = new TesseraError('BadFrame', `node ${this.from} sent frame type ${frame.type} inside a request body`);
      this.connection.destroy(error);
      throw error;
    });
    this.reading = reading.catch(ignore);
    return reading;
  }
}

function isRequestFrame(frame: unknown): frame is RequestFrame {
  if (typeof frame !== 'object' || frame === null) return false;
  const { m, t } = frame as Partial<RequestFrame>;
  return typeof m === 'string' && Buffer.byteLength(m) <= callMethodMaxBytes && typeof t === 'number' && t > 0;
}
