// The shard server's method table over a real local shard store: each method by its exact name,
// headers checked before the store sees them (InvalidShardId, BadRequest naming the field), and
// every other name refused with UnknownMethod.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isShardMethod, serveShard } from '../../../src/store/shard-server.js';
import { LocalShardStore } from '../../../src/store/local-shard-store.js';
import type { HandlerReply, InboundCall } from '../../../src/transport/transport.js';
import { makeTempDir, removeTempDir } from '../../helpers/server.js';

function inbound(method: string, header: unknown, body: Uint8Array[] = []): InboundCall {
  return { from: 'n2', method, header, body: (async function* () { yield* body; })(), signal: new AbortController().signal };
}

async function bodyOf(reply: HandlerReply): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of reply.body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('shard server', () => {
  let dir: string;
  let store: LocalShardStore;
  beforeEach(async () => {
    dir = makeTempDir('shard-server');
    store = await LocalShardStore.open(dir);
  });
  afterEach(() => removeTempDir(dir));

  const refusal = (method: string, header: unknown): Promise<{ code?: string; message?: string }> =>
    serveShard(store, inbound(method, header)).then(() => ({}), (err: { code?: string; message?: string }) => err);

  it('puts, stats, reads a range of, deletes and pings, each by its own entry', async () => {
    const put = await serveShard(store, inbound('shard.put', { shardId: 'd1.0' }, [Buffer.from('hello '), Buffer.from('world')]));
    expect(put.header).toEqual({ sizeBytes: 11 });
    expect((await serveShard(store, inbound('shard.stat', { shardId: 'd1.0' }))).header).toEqual({ sizeBytes: 11 });
    const read = await serveShard(store, inbound('shard.read', { shardId: 'd1.0', offsetBytes: 6, lengthBytes: 5 }));
    expect((await bodyOf(read)).toString()).toBe('world');
    expect((await serveShard(store, inbound('shard.delete', { shardId: 'd1.0' }))).header).toBeNull();
    expect((await serveShard(store, inbound('shard.stat', { shardId: 'd1.0' }))).header).toBeNull();
    expect((await serveShard(store, inbound('shard.ping', null))).header).toBeNull();
  });

  it('answers exactly its method names: others, prototype keys included, are UnknownMethod', async () => {
    expect(isShardMethod('shard.read')).toBe(true);
    for (const method of ['shard.', 'shard.Read', 'shard.list', 'shard.constructor', 'shard.__proto__', 'shard.hasOwnProperty', 'meta.getBucket']) {
      expect(isShardMethod(method), method).toBe(false);
      expect((await refusal(method, { shardId: 'd1.0' })).code, method).toBe('UnknownMethod');
    }
  });

  it('checks headers before the store sees them', async () => {
    expect((await refusal('shard.stat', { shardId: '../escape' })).code).toBe('InvalidShardId');
    expect((await refusal('shard.put', null)).code).toBe('InvalidShardId');
    expect(await refusal('shard.read', { shardId: 'd1.0', offsetBytes: 0, lengthBytes: -1 })).toMatchObject({ code: 'BadRequest', message: 'shard.read: lengthBytes must be a whole number' });
    expect(await refusal('shard.read', { shardId: 'd1.0', lengthBytes: 1 })).toMatchObject({ code: 'BadRequest', message: 'shard.read: offsetBytes must be a whole number' });
    expect((await refusal('shard.read', { shardId: 'd1.0', offsetBytes: 0, lengthBytes: 1 })).code).toBe('ShardNotFound');
  });
});
