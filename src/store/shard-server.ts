// The node's shard server: answers shard.* calls from peers against this node's own shard store
// (MinIO's storage-rest-server). A shard.put streams the request body into a temp file and
// commits it (fsync, rename, directory fsync) when the body ends; the reply means durable.
import { TesseraError } from '../util/errors.js';
import type { HandlerReply, InboundCall } from '../transport/transport.js';
import type { ShardBlocks, ShardStore } from './shard-store.js';

const shardIdPattern = /^[A-Za-z0-9._-]{1,200}$/;

function shardIdOf(header: unknown): string {
  const shardId = (header as { shardId?: unknown } | null)?.shardId;
  if (typeof shardId !== 'string' || !shardIdPattern.test(shardId)) throw new TesseraError('InvalidShardId', `bad shard id ${String(shardId)}`);
  return shardId;
}

function wholeNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TesseraError('BadRequest', `${field} must be a whole number`);
  return value;
}

function shardBlocksOf(value: unknown): ShardBlocks {
  const blocks = (value ?? {}) as { count?: unknown; blockBytes?: unknown; lastBlockBytes?: unknown };
  const count = wholeNumber(blocks.count, 'blocks.count');
  const blockBytes = wholeNumber(blocks.blockBytes, 'blocks.blockBytes');
  const lastBlockBytes = wholeNumber(blocks.lastBlockBytes, 'blocks.lastBlockBytes');
  if (count > 0 && (blockBytes === 0 || lastBlockBytes === 0 || lastBlockBytes > blockBytes)) throw new TesseraError('BadRequest', 'blocks.lastBlockBytes must be in 1..blocks.blockBytes');
  return { count, blockBytes, lastBlockBytes };
}

/** True for the methods serveShard answers. */
export function isShardMethod(method: string): boolean {
  return method.startsWith('shard.');
}

/**
 * Serves one shard.* call: shard.put (body = shard bytes; reply { sizeBytes }), shard.read
 * ({ shardId, offsetBytes, lengthBytes } -> body), shard.stat (-> { sizeBytes } or null),
 * shard.verify ({ shardId, blocks: ShardBlocks } -> null once every block passed its bitrot check),
 * shard.delete, shard.ping (no header; answers null: the node is up). BitrotDetected from shard.verify. Throws the store's codes (ShardNotFound, ShardTruncated, StorageIOError),
 * InvalidShardId, BadRequest, UnknownMethod.
 */
export async function serveShard(store: ShardStore, call: InboundCall): Promise<HandlerReply> {
  if (call.method === 'shard.ping') return { header: null };
  const shardId = shardIdOf(call.header);
  switch (call.method) {
    case 'shard.put': {
      const writer = await store.createWriter(shardId);
      try {
        for await (const chunk of call.body) await writer.write(chunk);
        if (call.signal.aborted) throw new TesseraError('CallAborted', 'caller went away');
        await writer.commit();
      } catch (err) {
        await writer.abort();
        throw err;
      }
      return { header: { sizeBytes: writer.sizeBytes } };
    }
    case 'shard.read': {
      const { offsetBytes, lengthBytes } = call.header as { offsetBytes?: unknown; lengthBytes?: unknown };
      const data = await store.readRange(shardId, wholeNumber(offsetBytes, 'offsetBytes'), wholeNumber(lengthBytes, 'lengthBytes'));
      return { header: null, body: [data][Symbol.iterator]() as unknown as AsyncIterable<Uint8Array> };
    }
    case 'shard.verify':
      await store.verifyBlocks(shardId, shardBlocksOf((call.header as { blocks?: unknown }).blocks));
      return { header: null };
    case 'shard.stat':
      return { header: (await store.stat(shardId)) ?? null };
    case 'shard.delete':
      await store.delete(shardId);
      return { header: null };
    default:
      throw new TesseraError('UnknownMethod', `no shard method ${call.method}`);
  }
}
