// admin.status counts a node's shard files (a walk of every drive) only when asked: `s3d admin
// status` does, `s3d admin heal --wait` polls every 200 ms with { countShards: false }, so a node
// with millions of shard files is not walked five times a second while it heals.
import { describe, expect, it } from 'vitest';
import { serveAdmin, type AdminSource, type NodeStatus } from '../../../src/cluster/admin-server.js';
import type { ShardStore } from '../../../src/store/shard-store.js';

function source(walks: { count: number }): AdminSource {
  const store = {
    async *list(): AsyncIterable<string> {
      walks.count++;
      yield* ['a.0', 'b.0', 'c.0'];
    },
  } as unknown as ShardStore;
  const idle = { rebuilt: 0, rebuiltBytes: 0, dropped: 0, failed: 0, bytesPerSecond: 0, shardsPerSecond: 0 };
  return {
    nodeId: 'node-1',
    layout: { snapshot: () => ({ current: { version: 1, dataShards: 4, parityShards: 2, members: [] } }), setStaged: async () => undefined, adopt: async () => false },
    dataShards: 4, parityShards: 2, startedMs: 0,
    drives: () => [{ driveId: 'd1', path: '/d1', store }],
    repairCount: () => 0,
    metaStore: () => ({ state: 'ok' }),
    repair: () => idle,
    rebalance: () => ({ toVersion: 0, done: true, bytesToMove: 0, objectsToMove: 0, objectsMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsRebuilt: 0, recordsDropped: 0, failed: 0, bytesPerSecond: 0 }),
    scan: () => ({}), scrub: () => ({}), peers: () => [],
    requireBucket: async () => undefined, heal: async () => undefined,
  } as unknown as AdminSource;
}

async function status(src: AdminSource, header: unknown): Promise<NodeStatus> {
  const reply = await serveAdmin(src, { from: 'admin', method: 'admin.status', header, body: (async function* () {})(), signal: new AbortController().signal });
  return reply.header as NodeStatus;
}

describe('admin.status', () => {
  it('counts shard files by default, and not with { countShards: false }', async () => {
    const walks = { count: 0 };
    const src = source(walks);
    expect((await status(src, null)).shards).toBe(3);
    expect(walks.count).toBe(1);
    const polled = await status(src, { countShards: false });
    expect(polled.shards).toBeUndefined();
    expect(polled).toMatchObject({ nodeId: 'node-1', repairQueue: 0 });
    expect(walks.count).toBe(1);
  });
});
