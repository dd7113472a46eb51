// The TCP transport's wire format and one connection's frame reader and writer. A frame is
// [type u8 | payload length u32 BE | CRC-32C u32 BE | payload]; the CRC covers type, length and
// payload, and a frame's payload is handed on only after its CRC matched. A connection carries
// one call at a time and outlives it, so every body ends with an End frame, never with FIN.
import type { Socket } from 'node:net';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { crc32c } from './crc32c.js';

/** Frame types. A connection's first two frames are Hello and Proof (the handshake); no later frame may be either. */
export const FrameType = {
  /** msgpack hello of tcp-handshake.ts. */
  Hello: 1,
  /** Ed25519 signature over the handshake transcript. */
  Proof: 2,
  /** msgpack RequestFrame (framing.ts); a request body follows: Chunk* End. */
  Request: 3,
  /** msgpack RequestFrame; no body follows. */
  RequestOnly: 4,
  /** msgpack ReplyFrame { h }; a reply body follows: Chunk* End. */
  Reply: 5,
  /** msgpack ReplyFrame, { h } or { e }; no body follows. */
  ReplyOnly: 6,
  /** Body bytes. */
  Chunk: 7,
  /** End of a body; empty payload. */
  End: 8,
  /** msgpack ReplyFrame { e }: the sender gives up on the call mid-body and closes the connection. */
  Abort: 9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Bytes before a frame's payload. */
export const frameHeaderBytes = 9;

/** One checked frame; `pieces` are views of the received socket buffers (no copy), `bytes` their total. */
export interface Frame {
  type: FrameType;
  pieces: Buffer[];
  bytes: number;
}

/** A frame's payload as one buffer (copies only when it arrived in several pieces). */
export function framePayload(frame: Frame): Buffer {
  if (frame.pieces.length === 1) return frame.pieces[0]!;
  return Buffer.concat(frame.pieces, frame.bytes);
}

export interface FramedSocketLimits {
  /** Largest Chunk frame sent, and accepted, bytes. */
  bodyFrameMaxBytes: number;
  /** Largest Request, Reply or Abort frame accepted, bytes. */
  headerFrameMaxBytes: number;
  /** Largest Hello or Proof frame accepted, bytes. */
  handshakeFrameMaxBytes: number;
  /** Checked frame bytes held for the reader before the socket is paused. */
  readBufferBytes: number;
  /** Frames up to this payload size are sent as one copied buffer; larger as header + payload. */
  coalesceMaxBytes: number;
}

interface PartialFrame {
  type: FrameType;
  length: number;
  expectedCrc: number;
  crc: number;
  pieces: Buffer[];
  received: number;
}

const emptyBuffer = Buffer.alloc(0);

/**
 * A socket speaking frames. The reader parses and checks frames as data arrives and queues them
 * for one consumer (next()); the writer sends frames with the socket's back-pressure (send()
 * returns false: await drained()). The first failure (peer closed, socket error, bad checksum,
 * protocol violation, destroy()) is kept: frames that arrived before the peer closed are still
 * handed out (an Abort frame before FIN), then every read and write fails with it.
 */
export class FramedSocket {
  /** Who is at the other end, for messages: an address until the handshake names the node. */
  peerName: string;
  private readonly frames: Frame[] = [];
  private queuedBytes = 0;
  private paused = false;
  private waiter: { resolve: (frame: Frame) => void; reject: (err: Error) => void } | undefined;
  private drainWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private closeListeners = new Set<(reason: Error) => void>();
  private failure: Error | undefined;
  private closedByUs = false;
  /** Frames still to come of the handshake (Hello, Proof); call frames may follow a Proof in the same read. */
  private handshakeFramesLeft = 2;
  private readonly headerBytes = Buffer.alloc(frameHeaderBytes);
  private headerFill = 0;
  private current: PartialFrame | undefined;

  constructor(readonly socket: Socket, private readonly limits: FramedSocketLimits, peerName: string) {
    this.peerName = peerName;
    socket.setNoDelay(true); // one call waits on each small frame: Nagle would add a delayed-ACK stall
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('drain', () => this.settleDrain());
    socket.on('end', () => this.fail(this.lost(this.current !== undefined || this.headerFill > 0 ? 'closed inside a frame' : 'closed')));
    socket.on('error', (err: Error) => this.fail(this.lost(`broke: ${err.message}`, err)));
    socket.on('close', () => this.fail(this.lost('closed')));
  }

  /** The failure that ended the connection, or undefined while it is usable. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** True when the connection ended by destroy() on this side (not by the peer or the network). */
  get endedHere(): boolean {
    return this.closedByUs;
  }

  /** Frames received and not yet taken by next(). */
  get queuedFrames(): number {
    return this.frames.length;
  }

  /** The next frame. Rejects with the connection's failure once no queued frame is left. */
  next(): Promise<Frame> {
    assert(this.waiter === undefined, 'two readers on one framed socket');
    const frame = this.frames.shift();
    if (frame !== undefined) {
      this.queuedBytes -= frame.bytes;
      if (this.paused && this.queuedBytes <= this.limits.readBufferBytes / 2 && this.failure === undefined) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve(frame);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * Sends one frame (a payload of at most bodyFrameMaxBytes for Chunk). Returns the socket's
   * write() result: false means wait for drained(). Throws the connection's failure once it ended.
   */
  send(type: FrameType, payload: Uint8Array = emptyBuffer): boolean {
    if (this.failure !== undefined) throw this.failure;
    const length = payload.byteLength;
    const coalesce = length <= this.limits.coalesceMaxBytes;
    const head = Buffer.allocUnsafe(frameHeaderBytes + (coalesce ? length : 0));
    head[0] = type;
    head.writeUInt32BE(length, 1);
    let crc = crc32c(head.subarray(0, 5));
    if (length > 0) crc = crc32c(payload, crc);
    head.writeUInt32BE(crc, 5);
    if (coalesce) {
      if (length > 0) head.set(payload, frameHeaderBytes);
      return this.socket.write(head);
    }
    // Header and payload leave in one writev: the payload is never copied.
    this.socket.cork();
    this.socket.write(head);
    const room = this.socket.write(payload);
    this.socket.uncork();
    return room;
  }

  /** Sends `data` as Chunk frames of at most bodyFrameMaxBytes (views), waiting for drain as needed. */
  async sendBody(data: Uint8Array): Promise<void> {
    const max = this.limits.bodyFrameMaxBytes;
    for (let offset = 0; offset < data.byteLength; offset += max) {
      const piece = offset === 0 && data.byteLength <= max ? data : data.subarray(offset, Math.min(offset + max, data.byteLength));
      if (!this.send(FrameType.Chunk, piece)) await this.drained();
    }
  }

  /** Resolves once the socket's write buffer drained; rejects with the connection's failure. */
  drained(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /** Calls `listener` once when the connection ends (at once if it has); returns the unsubscribe. */
  onClose(listener: (reason: Error) => void): () => void {
    if (this.failure !== undefined) {
      listener(this.failure);
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Ends the connection with `reason` (what pending and later reads and writes fail with); queued frames are dropped. */
  destroy(reason: Error): void {
    if (this.failure === undefined) this.closedByUs = true;
    this.frames.length = 0;
    this.queuedBytes = 0;
    this.fail(reason);
    this.socket.destroy();
  }

  /**
   * Sends FIN after what is queued (an Abort frame), keeps discarding what arrives so the peer
   * reads it all before a reset, and destroys the socket after `graceMs` if the peer has not closed.
   */
  closeAfterFlush(reason: Error, graceMs: number): void {
    if (this.failure === undefined) this.closedByUs = true;
    this.fail(reason);
    this.socket.end();
    this.socket.resume();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  private lost(how: string, cause?: Error): TesseraError {
    return new TesseraError('PeerUnreachable', `connection with ${this.peerName} ${how}`, {}, cause === undefined ? undefined : { cause });
  }

  private fail(reason: Error): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.current = undefined;
    this.waiter?.reject(reason);
    this.waiter = undefined;
    for (const waiter of this.drainWaiters.splice(0)) waiter.reject(reason);
    for (const listener of [...this.closeListeners]) listener(reason);
    this.closeListeners.clear();
  }

  private settleDrain(): void {
    for (const waiter of this.drainWaiters.splice(0)) waiter.resolve();
  }

  private onData(data: Buffer): void {
    let offset = 0;
    while (offset < data.length && this.failure === undefined) {
      if (this.current === undefined) {
        if (this.headerFill === 0 && data.length - offset >= frameHeaderBytes) {
          this.startFrame(data, offset);
          offset += frameHeaderBytes;
        } else {
          const take = Math.min(frameHeaderBytes - this.headerFill, data.length - offset);
          data.copy(this.headerBytes, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < frameHeaderBytes) return;
          this.headerFill = 0;
          this.startFrame(this.headerBytes, 0);
        }
        continue;
      }
      const frame = this.current;
      const take = Math.min(frame.length - frame.received, data.length - offset);
      const piece = data.subarray(offset, offset + take);
      offset += take;
      frame.crc = crc32c(piece, frame.crc);
      frame.pieces.push(piece);
      frame.received += take;
      if (frame.received === frame.length) this.endFrame(frame);
    }
  }

  private startFrame(header: Buffer, at: number): void {
    const type = header[at]! as FrameType;
    const length = header.readUInt32BE(at + 1);
    const limit = this.lengthLimit(type);
    if (limit === undefined) return this.violation(`sent frame type ${type} ${this.handshakeFramesLeft > 0 ? 'in' : 'after'} the handshake`);
    if (this.handshakeFramesLeft > 0) this.handshakeFramesLeft--;
    if (length > limit) return this.violation(`sent a frame of type ${type} with ${length} bytes (at most ${limit})`);
    const frame: PartialFrame = { type, length, expectedCrc: header.readUInt32BE(at + 5), crc: crc32c(header.subarray(at, at + 5)), pieces: [], received: 0 };
    this.current = frame;
    if (length === 0) this.endFrame(frame);
  }

  /** The largest payload accepted for `type` now, or undefined when the type is not accepted now. */
  private lengthLimit(type: number): number | undefined {
    if (this.handshakeFramesLeft > 0) return type === FrameType.Hello || type === FrameType.Proof ? this.limits.handshakeFrameMaxBytes : undefined;
    if (type === FrameType.Chunk) return this.limits.bodyFrameMaxBytes;
    if (type === FrameType.End) return 0;
    if (type >= FrameType.Request && type <= FrameType.Abort) return this.limits.headerFrameMaxBytes;
    return undefined;
  }

  private endFrame(frame: PartialFrame): void {
    this.current = undefined;
    if (frame.crc !== frame.expectedCrc) {
      const hex = (n: number): string => n.toString(16).padStart(8, '0');
      this.destroy(new TesseraError('PeerUnreachable', `checksum mismatch in a frame of type ${frame.type} (${frame.length} bytes) from ${this.peerName}: CRC-32C ${hex(frame.crc)}, frame says ${hex(frame.expectedCrc)}; connection closed`));
      return;
    }
    const checked: Frame = { type: frame.type, pieces: frame.pieces, bytes: frame.length };
    if (this.waiter !== undefined) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(checked);
      return;
    }
    this.frames.push(checked);
    this.queuedBytes += checked.bytes;
    if (!this.paused && this.queuedBytes > this.limits.readBufferBytes) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private violation(what: string): void {
    this.destroy(new TesseraError('BadFrame', `${this.peerName} ${what}; connection closed`));
  }
}
