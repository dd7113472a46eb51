// One outbound call of the TCP transport on a pooled connection: request frame and body out, reply
// frame and body in, then the connection goes back to the pool, but only when both directions
// ended cleanly (the request's End sent, the reply's End read). Any error, abort, deadline or a
// reply body left unread destroys the connection instead, so a pooled connection never carries
// leftovers of an earlier call.
import { isTesseraError, TesseraError } from '../util/errors.js';
import { callEnded, CallScope } from './call-scope.js';
import { errorFromFrame, unpackFrame, type ReplyFrame } from './framing.js';
import type { PeerState } from './peer-state.js';
import { FrameType, framePayload, type Frame, type FramedSocket } from './tcp-frames.js';
import type { CallOptions, Reply } from './transport.js';

/** What an outbound call needs from the transport. */
export interface OutboundContext {
  /** Every live call scope of the transport, so close() can abort them. */
  scopes: Set<CallScope>;
  state: PeerState;
  /** Takes a connection whose call ended cleanly back into the peer's pool. */
  recycle: (connection: FramedSocket) => void;
}

/**
 * Why a connection is dropped when the call ended with a direction unfinished (a reply body
 * returned unread, a reply that came before the whole request body went out); never reaches a caller.
 */
const endedEarly = new TesseraError('CallEnded', 'call ended before its request or reply body did');

/** One outbound call: its scope (deadline, caller's signal, close), slot and connection. */
export class TcpOutboundCall {
  private readonly scope: CallScope;
  private readonly nodeId: string;
  private connection: FramedSocket | undefined;
  private release: (() => void) | undefined;
  private requestSent = false;
  private done = false;
  private readonly onAbort = (): void => this.finish(this.scope.signal.reason);

  constructor(private readonly context: OutboundContext, method: string, options: CallOptions) {
    const { nodeId } = context.state.peer;
    this.nodeId = nodeId;
    this.scope = new CallScope(
      context.scopes, options.timeoutMs,
      () => new TesseraError('CallTimeout', `call ${method} to node ${nodeId} did not finish within ${options.timeoutMs} ms`, { remoteNode: nodeId }),
      options.signal,
      () => new TesseraError('CallAborted', `call ${method} to node ${nodeId} was aborted`, { remoteNode: nodeId }),
    );
    this.scope.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Runs the call: a slot, a connection from `connect` (raced against the call's signal), the
   * request, the reply frame. See Transport.call for the errors.
   */
  async run(request: Buffer, body: AsyncIterable<Uint8Array> | undefined, connect: (signal: AbortSignal) => Promise<FramedSocket>): Promise<Reply> {
    try {
      if (this.scope.signal.aborted) throw this.scope.signal.reason;
      const release = await this.context.state.acquire(this.scope.signal);
      if (this.done) {
        release(); // the slot came in the same turn as the abort
        throw this.scope.signal.reason;
      }
      this.release = release;
      const connection = await connect(this.scope.signal);
      if (this.done) {
        this.context.recycle(connection); // unused, so clean
        throw this.scope.signal.reason;
      }
      this.connection = connection;
      void this.sendRequest(connection, request, body);
      return this.reply(connection, await connection.next());
    } catch (err) {
      const error = this.errorOf(err);
      this.finish(error);
      throw error;
    }
  }

  private reply(connection: FramedSocket, frame: Frame): Reply {
    if (frame.type === FrameType.Abort) throw abortError(frame, this.nodeId);
    if (frame.type !== FrameType.Reply && frame.type !== FrameType.ReplyOnly) throw new TesseraError('BadFrame', `node ${this.nodeId} sent frame type ${frame.type} instead of a reply`);
    const value = unpackFrame<ReplyFrame>(framePayload(frame));
    if (typeof value !== 'object' || value === null || !('h' in value || 'e' in value)) throw new TesseraError('BadFrame', `reply frame of node ${this.nodeId} is not a reply`);
    this.context.state.succeeded(); // a handler error proves the peer up as well
    if (frame.type === FrameType.Reply) {
      if ('e' in value) throw new TesseraError('BadFrame', `node ${this.nodeId} sent an error reply with a body`);
      return { header: value.h, body: this.replyBody(connection) };
    }
    this.finish(undefined);
    if ('e' in value) throw errorFromFrame(value, this.nodeId);
    return { header: value.h, body: emptyBody() };
  }

  /** Sends the request frame and body. Only a failing body source ends the call from here. */
  private async sendRequest(connection: FramedSocket, request: Buffer, body: AsyncIterable<Uint8Array> | undefined): Promise<void> {
    try {
      if (body === undefined) {
        connection.send(FrameType.RequestOnly, request);
        this.requestSent = true;
        return;
      }
      if (!connection.send(FrameType.Request, request)) await connection.drained();
      for await (const chunk of body) {
        if (this.done) return; // the reply ended first: the connection is dropped, stop reading the source
        if (chunk.byteLength > 0) await connection.sendBody(chunk);
      }
      if (this.done) return;
      connection.send(FrameType.End);
      this.requestSent = true;
    } catch (err) {
      // A broken connection or an ended call is reported on the reply side.
      if (this.done || connection.failed !== undefined) return;
      this.scope.abort(isTesseraError(err) ? err : new TesseraError('RequestBodyFailed', `request body failed: ${(err as Error).message}`, {}, { cause: err }));
    }
  }

  /** The reply body: yields each checked chunk (views); ends the call at End, on error or on return(). */
  private async *replyBody(connection: FramedSocket): AsyncGenerator<Uint8Array> {
    let error: unknown = endedEarly;
    try {
      for (;;) {
        if (this.done) throw this.scope.signal.reason; // deadline, abort or close while the reader was away
        const frame = await connection.next();
        if (frame.type === FrameType.Chunk) {
          for (const piece of frame.pieces) yield piece;
        } else if (frame.type === FrameType.End) {
          error = undefined;
          return;
        } else if (frame.type === FrameType.Abort) {
          throw abortError(frame, this.nodeId);
        } else {
          throw new TesseraError('BadFrame', `node ${this.nodeId} sent frame type ${frame.type} inside a reply body`);
        }
      }
    } catch (err) {
      error = this.errorOf(err);
      throw error;
    } finally {
      this.finish(error);
    }
  }

  /** The error to report for `err`: the scope's reason when it aborted, else a TesseraError. */
  private errorOf(err: unknown): unknown {
    const { signal } = this.scope;
    if (signal.aborted && signal.reason !== callEnded) return signal.reason;
    if (isTesseraError(err)) return err;
    return new TesseraError('PeerUnreachable', `call to node ${this.nodeId} broke: ${(err as Error).message}`, { remoteNode: this.nodeId }, { cause: err });
  }

  /**
   * Ends the call once: frees the slot and stops the deadline; pools the connection when the
   * call ended cleanly (`error` undefined and the request sent in full), else destroys it.
   * Timeouts and broken connections count against the peer's health.
   */
  private finish(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.scope.signal.removeEventListener('abort', this.onAbort);
    this.scope.end();
    this.release?.();
    const connection = this.connection;
    if (connection === undefined) return;
    if (error === undefined && this.requestSent && connection.failed === undefined) {
      this.context.recycle(connection);
      return;
    }
    connection.destroy(error instanceof Error ? error : endedEarly);
    if (isTesseraError(error, 'CallTimeout', 'PeerUnreachable')) this.context.state.failed(error.message);
  }
}

/** The error of an Abort frame: the peer's handler failed after its reply header went out. */
function abortError(frame: Frame, nodeId: string): TesseraError {
  let what = 'unknown error';
  try {
    const value = unpackFrame<ReplyFrame>(framePayload(frame));
    if ('e' in value) what = errorFromFrame(value, nodeId).message;
  } catch {
    // an undecodable reason is still an abort
  }
  return new TesseraError('RemoteError', `node ${nodeId} failed while sending its reply body: ${what}`, { remoteNode: nodeId });
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {
  // no reply body
}
