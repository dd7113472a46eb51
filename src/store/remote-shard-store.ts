// The ShardStore of another node, over the transport (MinIO's storage-rest-client): the object
// layer writes and reads it exactly like a local drive. A peer that is down or slow shows up as
// StorageIOError, which readers treat as a missing shard and writers as a missed one.
import { TesseraError, isTesseraError } from '../util/errors.js';
import { bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { peerProbeIntervalMs, shardReadTimeoutMs, shardReadTimeoutPerMiBMs, shardStreamQueueMaxBytes, shardVerifyTimeoutMs, shardWriteTimeoutMs, metaCallTimeoutMs } from '../util/limits.js';
import type { Transport } from '../transport/transport.js';
import { shardCall, type ShardHeaders, type ShardMethod } from './shard-methods.js';
import type { ShardBlocks, ShardStore, ShardWriter } from './shard-store.js';

/** Codes a peer's shard server sends that keep their meaning here. */
const storeCodes = ['ShardNotFound', 'ShardTruncated', 'StorageIOError', 'InvalidShardId', 'BitrotDetected'] as const;

/** Transport and peer failures become StorageIOError; the shard store's own codes pass through. */
function storeError(err: unknown, nodeId: string, what: string): TesseraError {
  if (isTesseraError(err, ...storeCodes)) return err;
  const code = isTesseraError(err) ? err.code : 'Error';
  return new TesseraError('StorageIOError', `${what} on node ${nodeId}: ${code}: ${(err as Error).message}`, { nodeId });
}

async function collect(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxBytes) throw new TesseraError('StorageIOError', `reply body longer than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * A bounded single-consumer queue of chunks, consumed as an async iterable (the call's request
 * body). push() resolves once the queue is below maxBytes; end() finishes the body; fail() makes
 * the consumer throw, which resets the stream.
 */
class BodyPipe {
  private readonly chunks: Uint8Array[] = [];
  private queuedBytes = 0;
  private ended = false;
  private failure: Error | undefined;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly maxBytes: number) {}

  async push(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.chunks.push(chunk);
    this.queuedBytes += chunk.length;
    this.wake();
    while (this.queuedBytes > this.maxBytes && !this.failure) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    if (this.failure) throw this.failure;
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
    this.wakeProducer?.();
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }

  async *body(): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk) {
        this.queuedBytes -= chunk.length;
        if (this.queuedBytes <= this.maxBytes) {
          const wake = this.wakeProducer;
          this.wakeProducer = undefined;
          wake?.();
        }
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }
}

class RemoteShardWriter implements ShardWriter {
  sizeBytes = 0;
  private readonly pipe = new BodyPipe(shardStreamQueueMaxBytes);
  private readonly reply: Promise<unknown>;
  private settled = false;

  constructor(transport: Transport, private readonly nodeId: string, shardId: string) {
    this.reply = transport
      .call(nodeId, shardCall('shard.put', { shardId }, this.pipe.body()), { timeoutMs: shardWriteTimeoutMs })
      .then(async (reply) => {
        await collect(reply.body, 0);
        return reply.header;
      });
    // A failed call stops the producer at its next write.
    this.reply.then(
      () => (this.settled = true),
      (err: unknown) => {
        this.settled = true;
        this.pipe.fail(storeError(err, nodeId, `writing ${shardId}`));
      },
    );
  }

  /** Copies `chunk`: callers reuse their buffers (the stripe writer's codec memory) once this resolves. */
  async write(chunk: Uint8Array): Promise<void> {
    await this.pipe.push(Buffer.from(chunk));
    this.sizeBytes += chunk.length;
  }

  /** Copies `chunks` into one buffer (bitrot hash + block): one copy and one stream write per block. */
  async writev(chunks: Uint8Array[]): Promise<void> {
    const joined = Buffer.concat(chunks);
    await this.pipe.push(joined);
    this.sizeBytes += joined.length;
  }

  /** Waits for `beforeRename`, then ends the body: the peer fsyncs, renames and answers. */
  async commit(beforeRename?: Promise<unknown>): Promise<void> {
    try {
      await beforeRename;
    } catch (err) {
      await this.abort();
      throw err;
    }
    this.pipe.end();
    try {
      await this.reply;
    } catch (err) {
      throw storeError(err, this.nodeId, 'commit');
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.pipe.fail(new TesseraError('StorageIOError', 'shard write aborted by its writer'));
    await this.reply.catch(() => undefined);
  }
}

/** A peer's shard store. Errors: ShardNotFound, ShardTruncated, StorageIOError (peer down, slow, or failing). */
export class RemoteShardStore implements ShardStore {
  private nextProbeMs = 0;

  constructor(private readonly transport: Transport, readonly nodeId: string) {}

  /**
   * A peer known to be down costs nothing: readers decode from parity and writers skip it at
   * once (StorageIOError). In the background one shard.ping per peerProbeIntervalMs goes to it,
   * so a peer that comes back (or thaws) is seen as up again without a request waiting on it.
   */
  private checkUp(): void {
    if (this.transport.health(this.nodeId).up) return;
    const now = Date.now();
    if (now >= this.nextProbeMs) {
      this.nextProbeMs = now + peerProbeIntervalMs;
      this.small('shard.ping', null).catch(() => undefined); // its outcome lands in the peer's health
    }
    throw new TesseraError('StorageIOError', `node ${this.nodeId} is down`, { nodeId: this.nodeId });
  }

  async createWriter(shardId: string): Promise<ShardWriter> {
    this.checkUp();
    return new RemoteShardWriter(this.transport, this.nodeId, shardId);
  }

  async readRange(shardId: string, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    this.checkUp();
    try {
      const reply = await this.transport.call(this.nodeId, shardCall('shard.read', { shardId, offsetBytes, lengthBytes }), { timeoutMs: shardReadTimeoutMs + Math.ceil((lengthBytes / (1024 * 1024)) * shardReadTimeoutPerMiBMs) });
      const data = await collect(reply.body, lengthBytes);
      if (data.length !== lengthBytes) throw new TesseraError('ShardTruncated', `${shardId} on node ${this.nodeId}: got ${data.length} of ${lengthBytes} bytes`);
      return data;
    } catch (err) {
      throw storeError(err, this.nodeId, `reading ${shardId}`);
    }
  }

  /**
   * shard.verify: the peer reads and checks its own file. A peer without the method (an older
   * build) answers UnknownMethod; its blocks are then read here one by one and checked.
   */
  async verifyBlocks(shardId: string, blocks: ShardBlocks): Promise<void> {
    this.checkUp();
    try {
      const reply = await this.transport.call(this.nodeId, shardCall('shard.verify', { shardId, blocks }), { timeoutMs: shardVerifyTimeoutMs });
      await collect(reply.body, 0);
      return;
    } catch (err) {
      if (!isTesseraError(err, 'UnknownMethod')) throw storeError(err, this.nodeId, `verifying ${shardId}`);
    }
    for (let index = 0; index < blocks.count; index++) {
      const dataBytes = index === blocks.count - 1 ? blocks.lastBlockBytes : blocks.blockBytes;
      const framed = await this.readRange(shardId, index * (bitrotHashBytes + blocks.blockBytes), bitrotHashBytes + dataBytes);
      verifyFramedBlock(framed, shardId, index);
    }
  }

  async stat(shardId: string): Promise<{ sizeBytes: number } | undefined> {
    const header = await this.small('shard.stat', { shardId });
    return (header as { sizeBytes?: number } | null)?.sizeBytes !== undefined ? { sizeBytes: (header as { sizeBytes: number }).sizeBytes } : undefined;
  }

  async delete(shardId: string): Promise<void> {
    await this.small('shard.delete', { shardId });
  }

  // eslint-disable-next-line require-yield
  async *list(): AsyncGenerator<string> {
    throw new TesseraError('NotSupported', `listing node ${this.nodeId}'s shards remotely is not supported; run the scan on that node`);
  }

  /** Each node cleans its own temp files at start-up. */
  async cleanTemp(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    // The transport is closed by the node.
  }

  private async small<M extends ShardMethod>(method: M, header: ShardHeaders[M]): Promise<unknown> {
    try {
      const reply = await this.transport.call(this.nodeId, shardCall(method, header), { timeoutMs: metaCallTimeoutMs });
      await collect(reply.body, 0);
      return reply.header;
    } catch (err) {
      throw storeError(err, this.nodeId, method);
    }
  }
}
