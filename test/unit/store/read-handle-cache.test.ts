// LocalShardStore's cached read handles on real files: a handle is reused between reads, never
// outlives its file (replaced by a commit, deleted by the store, or unlinked by someone else), and
// at most the named number stay open.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadHandleCache } from '../../../src/store/read-handle-cache.js';
import { LocalShardStore } from '../../../src/store/local-shard-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-handles-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeShard(store: LocalShardStore, shardId: string, data: Buffer): Promise<void> {
  const writer = await store.createWriter(shardId);
  await writer.write(data);
  await writer.commit();
}

describe('ReadHandleCache', () => {
  it('reuses one open handle across reads, and reads the new file after a commit replaced it', async () => {
    const store = await LocalShardStore.open(dir);
    const first = randomBytes(4096);
    await writeShard(store, 'ab-1', first);
    expect((await store.readRange('ab-1', 0, 4096)).equals(first)).toBe(true);
    expect((await store.readRange('ab-1', 100, 50)).equals(first.subarray(100, 150))).toBe(true);
    const second = randomBytes(4096);
    await writeShard(store, 'ab-1', second);
    expect((await store.readRange('ab-1', 0, 4096)).equals(second)).toBe(true);
    await store.close();
  });

  it('a shard deleted by the store or unlinked by someone else is not read through an old handle', async () => {
    const store = await LocalShardStore.open(dir);
    await writeShard(store, 'ac-1', randomBytes(1000));
    await writeShard(store, 'ac-2', randomBytes(1000));
    await store.readRange('ac-1', 0, 10);
    await store.readRange('ac-2', 0, 10);
    await store.delete('ac-1');
    await expect(store.readRange('ac-1', 0, 10)).rejects.toMatchObject({ code: 'ShardNotFound' });
    await unlink(join(dir, 'shards', 'ac', 'ac-2'));
    await expect(store.readRange('ac-2', 0, 10)).rejects.toMatchObject({ code: 'ShardNotFound' });
    await store.close();
  });

  it('keeps at most its limit of handles open and shares one opening between concurrent reads', async () => {
    const cache = new ReadHandleCache(3, 60_000);
    let opens = 0;
    const paths = await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      const path = join(dir, `f${i}`);
      const handle = await open(path, 'w');
      await handle.write(Buffer.from(`file ${i}`));
      await handle.close();
      return path;
    }));
    const opener = (i: number) => () => {
      opens++;
      return open(paths[i]!, 'r');
    };
    const [a, b] = await Promise.all([cache.lend('f0', opener(0)), cache.lend('f0', opener(0))]);
    expect(opens).toBe(1);
    expect(a.handle).toBe(b.handle);
    a.release();
    b.release();
    for (const i of [1, 2, 3, 4]) (await cache.lend(`f${i}`, opener(i))).release();
    expect(cache.size).toBeLessThanOrEqual(3);
    await cache.close();
    expect(cache.size).toBe(0);
  });
});
