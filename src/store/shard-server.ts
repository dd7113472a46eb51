// The node's shard server: answers shard.* calls from peers against this node's own shard store
// (MinIO's storage-rest-server), one method table entry per method (shard-methods.ts), looked up
// by exact name. A shard.put streams the request body into a temp file and commits it (fsync,
// rename, directory fsync) when the body ends; the reply means durable.
import { TesseraError } from '../util/errors.js';
import { dispatch, hasMethod, wholeNumberField, type MethodTable } from '../transport/method-table.js';
import type { HandlerReply, InboundCall } from '../transport/transport.js';
import type { ShardHeaders } from './shard-methods.js';
import type { ShardBlocks, ShardStore } from './shard-store.js';

const shardIdPattern = /^[A-Za-z0-9._-]{1,200}$/;

function shardIdOf(header: unknown): string {
  const shardId = (header as { shardId?: unknown } | null)?.shardId;
  if (typeof shardId !== 'string' || !shardIdPattern.test(shardId)) throw new TesseraError('InvalidShardId', `bad shard id ${String(shardId)}`);
  return shardId;
}

/** The header of the methods that take only a shard id. Throws InvalidShardId. */
function shardIdHeader(header: unknown): { shardId: string } {
  return { shardId: shardIdOf(header) };
}

/** The block geometry of shard.verify's header. Throws BadRequest naming the field. */
function shardBlocksOf(value: unknown): ShardBlocks {
  const blocks = (value ?? {}) as { count?: unknown; blockBytes?: unknown; lastBlockBytes?: unknown };
  const count = wholeNumberField(blocks.count, 'blocks.count');
  const blockBytes = wholeNumberField(blocks.blockBytes, 'blocks.blockBytes');
  const lastBlockBytes = wholeNumberField(blocks.lastBlockBytes, 'blocks.lastBlockBytes');
  if (count > 0 && (blockBytes === 0 || lastBlockBytes === 0 || lastBlockBytes > blockBytes)) throw new TesseraError('BadRequest', 'blocks.lastBlockBytes must be in 1..blocks.blockBytes');
  return { count, blockBytes, lastBlockBytes };
}

/** The shard server's methods; each entry decodes its header, then runs on the node's shard store. */
const shardMethods: MethodTable<ShardHeaders, ShardStore> = {
  'shard.ping': {
    decode: () => null,
    handle: async () => ({ header: null }),
  },
  'shard.put': {
    decode: shardIdHeader,
    handle: async ({ shardId }, call, store) => {
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
    },
  },
  'shard.read': {
    decode: (header) => {
      const shardId = shardIdOf(header);
      const { offsetBytes, lengthBytes } = header as { offsetBytes?: unknown; lengthBytes?: unknown };
      return { shardId, offsetBytes: wholeNumberField(offsetBytes, 'offsetBytes'), lengthBytes: wholeNumberField(lengthBytes, 'lengthBytes') };
    },
    handle: async ({ shardId, offsetBytes, lengthBytes }, _call, store) => {
      const data = await store.readRange(shardId, offsetBytes, lengthBytes);
      return { header: null, body: [data][Symbol.iterator]() as unknown as AsyncIterable<Uint8Array> };
    },
  },
  'shard.verify': {
    decode: (header) => ({ shardId: shardIdOf(header), blocks: shardBlocksOf((header as { blocks?: unknown }).blocks) }),
    handle: async ({ shardId, blocks }, _call, store) => {
      await store.verifyBlocks(shardId, blocks);
      return { header: null };
    },
  },
  'shard.stat': {
    decode: shardIdHeader,
    handle: async ({ shardId }, _call, store) => ({ header: (await store.stat(shardId)) ?? null }),
  },
  'shard.delete': {
    decode: shardIdHeader,
    handle: async ({ shardId }, _call, store) => {
      await store.delete(shardId);
      return { header: null };
    },
  },
};

/** True for exactly the method names serveShard answers. */
export function isShardMethod(method: string): boolean {
  return hasMethod(shardMethods, method);
}

/**
 * Serves one shard.* call: shard.put (body = shard bytes; reply { sizeBytes }), shard.read
 * ({ shardId, offsetBytes, lengthBytes } -> body), shard.stat (-> { sizeBytes } or null),
 * shard.verify ({ shardId, blocks } -> null once every block passed its bitrot check where it lies),
 * shard.delete, shard.ping (no header; answers null: the node is up). Throws the store's codes (ShardNotFound, ShardTruncated, StorageIOError; BitrotDetected from shard.verify),
 * InvalidShardId, BadRequest naming the field, UnknownMethod.
 */
export function serveShard(store: ShardStore, call: InboundCall): Promise<HandlerReply> {
  return dispatch(shardMethods, call, store);
}
