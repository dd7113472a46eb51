// One QUIC call's pieces shared by the caller and callee sides of quic-transport.ts: the two
// stream halves (request out, reply out and in); its cancellation is call-scope.ts. Every native
// wait is raced against the scope's signal, because a blocked native operation cannot be
// cancelled (see quinn-native.ts).
import { isTesseraError, TesseraError } from '../util/errors.js';
import type { CallScope } from './call-scope.js';
import { encodeFrame, errorFrame, type ReplyFrame } from './framing.js';
import type { PeerState } from './peer-state.js';
import { dropStream, type NativeStream, type StreamSource } from './quinn-native.js';
import { ignore, raceAbort } from './race-abort.js';

/** Writes the request frame and body, then FIN. A body source error aborts the call with it. */
export async function sendRequest(stream: NativeStream, frame: Buffer, body: AsyncIterable<Uint8Array> | undefined, scope: CallScope): Promise<void> {
  let writeFailed = false;
  const write = (data: Uint8Array): Promise<void> =>
    raceAbort(stream.write(data), scope.signal).catch((err: unknown) => {
      writeFailed = true;
      throw err;
    });
  try {
    await write(frame);
    if (body !== undefined) {
      for await (const chunk of body) if (chunk.length > 0) await write(chunk);
    }
    await stream.finishWrite();
  } catch (err) {
    // Write failures (peer stopped reading, connection lost, call over) surface on the reply
    // side; only a failing body source is the caller's own error and ends the call here.
    if (writeFailed || scope.signal.aborted) return;
    scope.abort(isTesseraError(err) ? err : new TesseraError('RequestBodyFailed', `request body failed: ${(err as Error).message}`, {}, { cause: err }));
  }
}

/** Writes a reply frame (an error frame when the header is too large) and the body, then FIN. */
export async function writeReply(stream: NativeStream, frame: ReplyFrame, body: AsyncIterable<Uint8Array> | undefined, signal: AbortSignal, callerGone: (err: unknown) => TesseraError): Promise<void> {
  const write = (data: Uint8Array): Promise<void> =>
    raceAbort(stream.write(data), signal).catch((err: unknown) => {
      throw signal.aborted ? err : callerGone(err);
    });
  let encoded: Buffer;
  try {
    encoded = encodeFrame(frame);
  } catch (err) {
    encoded = encodeFrame(errorFrame(err));
    body = undefined;
  }
  await write(encoded);
  if (body !== undefined) {
    for await (const chunk of body) if (chunk.length > 0) await write(chunk);
  }
  await stream.finishWrite();
}

/**
 * The reply body handed to the caller: ends the call (slot, timer) when it completes, fails or is
 * returned early, and also when the deadline passes while nobody reads it.
 */
export function replyBody(body: AsyncIterable<Uint8Array>, source: StreamSource, stream: NativeStream, scope: CallScope, state: PeerState, release: () => void): AsyncIterable<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  let done = false;
  let failure: unknown;
  const finish = (error?: unknown): void => {
    if (done) return;
    done = true;
    failure = error;
    scope.signal.removeEventListener('abort', onDeadline);
    scope.end();
    release();
    if (!source.finished) dropStream(stream);
    if (isTesseraError(error, 'CallTimeout', 'PeerUnreachable')) state.failed(error.message);
  };
  const onDeadline = (): void => {
    finish(scope.signal.reason);
    void iterator.return?.().catch(ignore);
  };
  scope.signal.addEventListener('abort', onDeadline, { once: true });
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Uint8Array>> {
        if (done) {
          if (failure !== undefined) throw failure as Error;
          return { done: true, value: undefined };
        }
        try {
          const next = await iterator.next();
          if (next.done === true) finish();
          return next;
        } catch (err) {
          finish(err);
          throw err;
        }
      },
      async return(): Promise<IteratorResult<Uint8Array>> {
        finish();
        void iterator.return?.().catch(ignore);
        return { done: true, value: undefined };
      },
    }),
  };
}

/** A native stream failure as PeerUnreachable naming the peer; TesseraErrors pass through. */
export function brokenStream(err: unknown, nodeId: string): TesseraError {
  if (isTesseraError(err)) return err;
  return new TesseraError('PeerUnreachable', `stream with node ${nodeId} broke: ${(err as Error).message}`, { remoteNode: nodeId }, { cause: err });
}
