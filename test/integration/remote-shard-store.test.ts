// A peer's shard store over real QUIC on 127.0.0.1: node a writes, reads and verifies shard files
// that node b keeps on its real filesystem store. shard.verify checks the blocks where they lie,
// and reports a flipped byte, a cut file and a missing one with the store's own codes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitrotHash, bitrotHashBytes, initBitrot } from '../../src/erasure/bitrot.js';
import { LocalShardStore } from '../../src/store/local-shard-store.js';
import { RemoteShardStore } from '../../src/store/remote-shard-store.js';
import { serveShard } from '../../src/store/shard-server.js';
import type { ShardBlocks } from '../../src/store/shard-store.js';
import { generateNodeKey, identityFromPem } from '../../src/transport/identity.js';
import { QuicTransport } from '../../src/transport/quic-transport.js';
import type { PeerAddress } from '../../src/transport/transport.js';
import { rejectionCode } from '../unit/transport/transport-contract.js';
import { freeUdpPort } from '../helpers/server.js';

const blockBytes = 64 * 1024;

async function member(nodeId: string): Promise<PeerAddress & { identity: ReturnType<typeof identityFromPem> }> {
  const identity = identityFromPem(generateNodeKey().privateKeyPem);
  return { nodeId, host: '127.0.0.1', port: await freeUdpPort(), publicKey: identity.publicKey, identity };
}

let dir: string;
let local: LocalShardStore;
let remote: RemoteShardStore;
const transports: QuicTransport[] = [];

/** Writes `count` framed blocks (the last `lastBytes` long) through the remote store; returns the geometry. */
async function writeShard(shardId: string, count: number, lastBytes: number): Promise<ShardBlocks> {
  const writer = await remote.createWriter(shardId);
  for (let i = 0; i < count; i++) {
    const block = randomBytes(i === count - 1 ? lastBytes : blockBytes);
    await writer.write(Buffer.concat([bitrotHash(block), block]));
  }
  await writer.commit();
  return { count, blockBytes, lastBlockBytes: lastBytes };
}

function shardPath(shardId: string): string {
  return join(dir, 'shards', shardId.slice(0, 2), shardId);
}

beforeAll(async () => {
  await initBitrot();
  dir = await mkdtemp(join(tmpdir(), 'tessera-remote-store-'));
  local = await LocalShardStore.open(dir);
  const [a, b] = [await member('node-a'), await member('node-b')];
  const peers = [a, b].map(({ identity: _, ...peer }) => peer);
  const server = new QuicTransport({ identity: b.identity, nodeId: 'node-b', peers, listen: { host: '127.0.0.1', port: b.port } });
  const client = new QuicTransport({ identity: a.identity, nodeId: 'node-a', peers, listen: { host: '127.0.0.1', port: a.port } });
  transports.push(server, client);
  await server.listen((call) => serveShard(local, call));
  remote = new RemoteShardStore(client, 'node-b');
});

afterAll(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('RemoteShardStore over QUIC', () => {
  it('verifies a shard where it is stored, and names a flipped byte, a cut file and a missing one', async () => {
    const blocks = await writeShard('aa-ok.0', 5, 1000);
    await remote.verifyBlocks('aa-ok.0', blocks);
    await local.verifyBlocks('aa-ok.0', blocks);

    const flipped = await writeShard('ab-flip.0', 5, blockBytes);
    const file = await open(shardPath('ab-flip.0'), 'r+');
    const at = 3 * (bitrotHashBytes + blockBytes) + bitrotHashBytes + 17; // inside block 3's data
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0x40;
    await file.write(byte, 0, 1, at);
    await file.close();
    const flippedError = await remote.verifyBlocks('ab-flip.0', flipped).catch((err: unknown) => err);
    expect(flippedError).toMatchObject({ code: 'BitrotDetected', details: { blockIndex: 3 } });

    const cut = await writeShard('ac-cut.0', 3, 500);
    const cutFile = await open(shardPath('ac-cut.0'), 'r+');
    await cutFile.truncate(2 * (bitrotHashBytes + blockBytes) + 100);
    await cutFile.close();
    expect(await rejectionCode(remote.verifyBlocks('ac-cut.0', cut))).toBe('ShardTruncated');

    expect(await rejectionCode(remote.verifyBlocks('ad-none.0', blocks))).toBe('ShardNotFound');
    expect(await rejectionCode(remote.verifyBlocks('aa-ok.0', { count: 2, blockBytes, lastBlockBytes: blockBytes + 1 }))).toBe('StorageIOError');
  });

  it('reads back byte ranges that span blocks exactly as written', async () => {
    await writeShard('ae-read.0', 4, blockBytes);
    const whole = await local.readRange('ae-read.0', 0, 4 * (bitrotHashBytes + blockBytes));
    const range = await remote.readRange('ae-read.0', 1000, 3 * blockBytes);
    expect(range.equals(whole.subarray(1000, 1000 + 3 * blockBytes))).toBe(true);
  });
});
