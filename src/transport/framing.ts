// Framing shared by the transports. A call stream carries one request frame then the request
// body; the reply stream one reply frame then the reply body. A frame is a 4-byte big-endian
// length and that many bytes of msgpack. The body runs to the end of the stream (FIN), so bulk
// bytes are never copied into frames. The TCP transport, whose connections outlive a call, sends
// the same msgpack values in its own checksummed frames (tcp-frames.ts).
import { Packr } from 'msgpackr';
import { callHeaderMaxBytes } from '../util/limits.js';
import { isLayerErrorCode } from '../util/error-codes.js';
import { TesseraError } from '../util/errors.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The first frame of a call stream. */
export interface RequestFrame {
  /** Method name. */
  m: string;
  /** Caller's header value. */
  h: unknown;
  /** The caller's timeout for the whole call, in ms (the callee aborts its handler after it). */
  t: number;
}

/** The first frame of a reply stream: a header, or an error. */
export type ReplyFrame =
  | { h: unknown }
  | { e: { code: string; message: string; details?: Record<string, string | number> } };

/** The msgpack of `value`, at most callHeaderMaxBytes. Throws FrameTooLarge past it. */
export function packFrame(value: RequestFrame | ReplyFrame): Buffer {
  const body = packr.pack(value);
  if (body.length > callHeaderMaxBytes) {
    throw new TesseraError('FrameTooLarge', `frame of ${body.length} bytes exceeds ${callHeaderMaxBytes}`);
  }
  return body;
}

/** The value of a msgpack frame. Throws BadFrame when it does not decode. */
export function unpackFrame<T>(bytes: Uint8Array): T {
  try {
    return packr.unpack(bytes) as T;
  } catch (err) {
    throw new TesseraError('BadFrame', `frame does not decode: ${(err as Error).message}`);
  }
}

/** Length prefix (4 bytes) + msgpack of `value`. Throws FrameTooLarge past callHeaderMaxBytes. */
export function encodeFrame(value: RequestFrame | ReplyFrame): Buffer {
  const body = packFrame(value);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** A decoded first frame and the rest of the stream (the body), in order. */
export interface FramedStream<T> {
  frame: T;
  body: AsyncIterable<Uint8Array>;
}

/**
 * Reads the first frame from `source` and returns it with an iterable over the remaining bytes.
 * Throws PeerUnreachable when the stream ends inside the frame, FrameTooLarge past
 * callHeaderMaxBytes, BadFrame when the msgpack does not decode.
 */
export async function readFrame<T>(source: AsyncIterable<Uint8Array>): Promise<FramedStream<T>> {
  const iterator = source[Symbol.asyncIterator]();
  let buffered: Buffer = Buffer.alloc(0);
  let needBytes = 4;
  let frameLength = -1;
  for (;;) {
    if (buffered.length >= needBytes) {
      if (frameLength < 0) {
        frameLength = buffered.readUInt32BE(0);
        if (frameLength > callHeaderMaxBytes) {
          await iterator.return?.();
          throw new TesseraError('FrameTooLarge', `frame of ${frameLength} bytes exceeds ${callHeaderMaxBytes}`);
        }
        needBytes = 4 + frameLength;
        continue;
      }
      break;
    }
    const next = await iterator.next();
    if (next.done) throw new TesseraError('PeerUnreachable', 'stream ended before its first frame was complete');
    buffered = buffered.length === 0 ? Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength) : Buffer.concat([buffered, next.value]);
  }
  let frame: T;
  try {
    frame = packr.unpack(buffered.subarray(4, needBytes)) as T;
  } catch (err) {
    await iterator.return?.();
    throw new TesseraError('BadFrame', `frame does not decode: ${(err as Error).message}`);
  }
  const leftover = buffered.subarray(needBytes);
  async function* rest(): AsyncGenerator<Uint8Array> {
    try {
      if (leftover.length > 0) yield leftover;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { frame, body: rest() };
}

/** A handler error as a reply frame: TesseraErrors keep their code, anything else is RemoteError. */
export function errorFrame(err: unknown): ReplyFrame {
  if (err instanceof TesseraError) return { e: { code: err.code, message: err.message, details: { ...err.details } } };
  return { e: { code: 'RemoteError', message: err instanceof Error ? err.message : String(err) } };
}

/** The error a caller throws for an error reply from `nodeId`. */
export function errorFromFrame(frame: Extract<ReplyFrame, { e: unknown }>, nodeId: string): TesseraError {
  const details = { ...(frame.e.details ?? {}), remoteNode: nodeId };
  // A code this build does not know (a newer peer) is kept in the message, never trusted as a code.
  if (isLayerErrorCode(frame.e.code)) return new TesseraError(frame.e.code, frame.e.message, details);
  return new TesseraError('RemoteError', `${frame.e.code}: ${frame.e.message}`, details);
}
