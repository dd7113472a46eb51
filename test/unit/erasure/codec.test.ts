// Both ErasureCodec implementations: byte-identical parity, every erasure pattern of small layouts,
// random patterns of large ones, odd shard sizes, zero-copy kernel buffers, and the typed errors.
// Random cases come from a seeded generator, so a failure names a case that reproduces.
import { beforeAll, describe, expect, it } from 'vitest';
import { createCodec } from '../../../src/erasure/create-codec.js';
import type { CodecImplementation, ErasureCodec } from '../../../src/erasure/erasure-codec.js';
import { decodePlanCacheEntriesMax } from '../../../src/util/limits.js';
import { SimdCodec } from '../../../src/erasure/simd-codec.js';
import { isTesseraError } from '../../../src/util/errors.js';

/** mulberry32: small, fast, seedable. */
function randomSource(seed: number): { int(below: number): number; bytes(n: number): Uint8Array } {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (below) => Math.floor(next() * below),
    bytes: (n) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

/** k data shards of random bytes plus m zeroed parity shards. */
function randomShards(random: ReturnType<typeof randomSource>, k: number, m: number, shardBytes: number): Uint8Array[] {
  return [...Array.from({ length: k }, () => random.bytes(shardBytes)), ...Array.from({ length: m }, () => new Uint8Array(shardBytes))];
}

function encoded(codec: ErasureCodec, data: Uint8Array[]): Uint8Array[] {
  const shards = data.map((shard) => shard.slice());
  codec.encode(shards);
  return shards;
}

/** All subsets of [0, n) with at most `most` members. */
function subsetsUpTo(n: number, most: number): number[][] {
  const out: number[][] = [[]];
  const grow = (start: number, current: number[]): void => {
    for (let i = start; i < n; i++) {
      const next = [...current, i];
      out.push(next);
      if (next.length < most) grow(i + 1, next);
    }
  };
  if (most > 0) grow(0, []);
  return out;
}

function randomPattern(random: ReturnType<typeof randomSource>, total: number, count: number): number[] {
  const indices = Array.from({ length: total }, (_, i) => i);
  for (let i = total - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [indices[i], indices[j]] = [indices[j]!, indices[i]!];
  }
  return indices.slice(0, count).sort((a, b) => a - b);
}

/** Byte-exact comparison (vitest's deep equality walks typed arrays element by element: too slow here). */
function expectSameShards(actual: readonly (Uint8Array | undefined)[], expected: readonly Uint8Array[], label = ''): void {
  expect(actual.length, label).toBe(expected.length);
  actual.forEach((shard, i) => {
    const same = shard !== undefined && Buffer.from(shard.buffer, shard.byteOffset, shard.length).equals(expected[i]!);
    expect(same, `${label} shard ${i}`).toBe(true);
  });
}

const codecs = new Map<string, ErasureCodec>();
async function codecFor(k: number, m: number, implementation: CodecImplementation): Promise<ErasureCodec> {
  const key = `${k}+${m}/${implementation}`;
  let codec = codecs.get(key);
  if (!codec) {
    codec = await createCodec(k, m, implementation);
    codecs.set(key, codec);
  }
  return codec;
}

let simd44: ErasureCodec;
beforeAll(async () => {
  simd44 = await codecFor(4, 4, 'simd');
});

describe('encode', () => {
  it('produces the reference parity byte for byte (random layouts, odd sizes)', async () => {
    const random = randomSource(0x5eed_0001);
    const sizes = [1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 4097, 16_384 + 48 + 7];
    const layouts: [number, number][] = [[1, 0], [1, 1], [1, 5], [2, 1], [4, 2], [8, 4], [12, 4], [5, 7], [10, 10], [255, 1], [1, 255], [128, 128]];
    for (let i = 0; i < 12; i++) layouts.push([1 + random.int(30), random.int(12)]);
    for (const [k, m] of layouts) {
      const simd = await codecFor(k, m, 'simd');
      const reference = await codecFor(k, m, 'reference');
      const big = k + m > 64;
      for (const shardBytes of big ? [1, 33, 100] : sizes) {
        const data = randomShards(random, k, m, shardBytes);
        const ours = encoded(simd, data);
        const theirs = encoded(reference, data);
        expectSameShards(ours, theirs, `${k}+${m} x ${shardBytes} B`);
        expectSameShards(ours.slice(0, k), data.slice(0, k), 'data untouched');
      }
    }
  });

  it('accepts kernel buffers, foreign buffers and a mix, with the same result', async () => {
    const random = randomSource(0x5eed_0002);
    const codec = await codecFor(6, 3, 'simd');
    for (const shardBytes of [1, 64, 1000, 70_000]) {
      const data = randomShards(random, 6, 3, shardBytes);
      const expected = encoded(codec, data);
      const kernel = codec.allocShards(shardBytes);
      kernel.forEach((shard, i) => (i % 2 === 0 ? shard.set(data[i]!) : undefined));
      const mixed = kernel.map((shard, i) => (i % 2 === 0 ? shard : data[i]!.slice()));
      codec.encode(mixed);
      expectSameShards(mixed, expected, `mixed ${shardBytes} B`);
      codec.releaseShards(kernel);
    }
  });

  it('rejects shards of different lengths with ShardSizeMismatch', async () => {
    const shards = [new Uint8Array(8), new Uint8Array(8), new Uint8Array(8), new Uint8Array(9), new Uint8Array(8), new Uint8Array(8), new Uint8Array(8), new Uint8Array(8)];
    for (const implementation of ['simd', 'reference'] as const) {
      const codec = await codecFor(4, 4, implementation);
      expect(() => codec.encode(shards)).toThrow(expect.objectContaining({ code: 'ShardSizeMismatch' }));
    }
  });
});

describe('reconstruct', () => {
  it('recovers every erasure pattern of up to m shards (4+2, 3+3, 6+3, 2+1, 1+2) with both codecs', async () => {
    const random = randomSource(0x5eed_0003);
    for (const [k, m] of [[4, 2], [3, 3], [6, 3], [2, 1], [1, 2]] as const) {
      for (const implementation of ['simd', 'reference'] as const) {
        const codec = await codecFor(k, m, implementation);
        for (const shardBytes of [1, 17, 4097]) {
          const original = encoded(codec, randomShards(random, k, m, shardBytes));
          for (const lost of subsetsUpTo(k + m, m)) {
            const shards: (Uint8Array | undefined)[] = original.map((shard, i) => (lost.includes(i) ? undefined : shard.slice()));
            codec.reconstruct(shards);
            expectSameShards(shards, original, `${implementation} ${k}+${m} x ${shardBytes} B lost ${lost.join(',')}`);
          }
        }
      }
    }
  });

  it('recovers random patterns of large layouts, and decodes shards the other codec wrote', async () => {
    const random = randomSource(0x5eed_0004);
    for (const [k, m] of [[200, 56], [128, 128], [17, 3], [12, 4], [8, 4], [20, 20], [255, 1]] as const) {
      const simd = await codecFor(k, m, 'simd');
      const reference = await codecFor(k, m, 'reference');
      const shardBytes = k + m > 64 ? 65 : 4097;
      const original = encoded(reference, randomShards(random, k, m, shardBytes));
      for (let trial = 0; trial < 4; trial++) {
        const lost = randomPattern(random, k + m, 1 + random.int(m));
        for (const codec of [simd, reference]) {
          const shards: (Uint8Array | undefined)[] = original.map((shard, i) => (lost.includes(i) ? undefined : shard.slice()));
          codec.reconstruct(shards);
          expectSameShards(shards, original, `${codec.implementation} ${k}+${m} lost ${lost.join(',')}`);
        }
      }
    }
  });

  it('rebuilds in place into kernel buffers marked lost, touching only wanted shards', async () => {
    const random = randomSource(0x5eed_0005);
    const codec = await codecFor(8, 4, 'simd');
    const shardBytes = 100_003;
    const original = encoded(codec, randomShards(random, 8, 4, shardBytes));
    const shards = codec.allocShards(shardBytes);
    shards.forEach((shard, i) => shard.set(original[i]!));
    const views = [...shards];
    for (const i of [1, 5, 9]) shards[i]!.fill(0xee);
    codec.reconstruct(shards, { lost: [1, 5, 9], wanted: [1, 9] });
    expect(shards.every((shard, i) => shard === views[i])).toBe(true);
    expectSameShards([shards[1]!, shards[9]!], [original[1]!, original[9]!], 'wanted');
    expect(shards[5]!.every((b) => b === 0xee)).toBe(true);
    codec.releaseShards(shards);
  });

  it('throws InsufficientShards with fewer than k shards, for both codecs', async () => {
    for (const implementation of ['simd', 'reference'] as const) {
      const codec = await codecFor(4, 2, implementation);
      const shards: (Uint8Array | undefined)[] = encoded(codec, randomShards(randomSource(6), 4, 2, 32));
      shards[0] = undefined;
      shards[2] = undefined;
      shards[5] = undefined;
      let error: unknown;
      try {
        codec.reconstruct(shards);
      } catch (err) {
        error = err;
      }
      expect(isTesseraError(error, 'InsufficientShards')).toBe(true);
      expect(() => codec.reconstruct([new Uint8Array(4), new Uint8Array(4), new Uint8Array(4), new Uint8Array(4), new Uint8Array(4), new Uint8Array(4)], { lost: [0, 1, 2] })).toThrow(
        expect.objectContaining({ code: 'InsufficientShards' }),
      );
    }
    const noParity = await codecFor(3, 0, 'simd');
    expect(() => noParity.reconstruct([new Uint8Array(2), undefined, new Uint8Array(2)])).toThrow(expect.objectContaining({ code: 'InsufficientShards' }));
  });

  it('keeps at most decodePlanCacheEntriesMax decode plans and stays correct past the limit', async () => {
    const random = randomSource(0x5eed_0007);
    const codec = (await createCodec(10, 6, 'simd')) as SimdCodec;
    const original = encoded(codec, randomShards(random, 10, 6, 40));
    const patterns = subsetsUpTo(16, 3).filter((p) => p.length > 0);
    expect(patterns.length).toBeGreaterThan(decodePlanCacheEntriesMax);
    for (const lost of patterns) {
      const shards: (Uint8Array | undefined)[] = original.map((shard, i) => (lost.includes(i) ? undefined : shard));
      codec.reconstruct(shards);
      expectSameShards(shards, original, `lost ${lost.join(',')}`);
    }
    expect(codec.cachedDecodePlans).toBe(decodePlanCacheEntriesMax);
  });
});

describe('createCodec', () => {
  it('rejects impossible layouts with InvalidErasureLayout', async () => {
    for (const [k, m] of [[0, 1], [1, -1], [200, 57], [256, 1], [1.5, 1], [Number.NaN, 2], [4, 2.5]]) {
      for (const implementation of ['simd', 'reference'] as const) {
        await expect(createCodec(k!, m!, implementation)).rejects.toMatchObject({ code: 'InvalidErasureLayout' });
      }
    }
    expect((await createCodec(256, 0)).dataShards).toBe(256);
  });
});

describe('kernel shard buffers', () => {
  it('stay valid (and copy-free) after the kernel memory grows, and are recycled', () => {
    const first = simd44.allocShards(1000);
    first.forEach((shard, i) => shard.fill(i + 1));
    const big = simd44.allocShards(8 * 1024 * 1024, 4); // 32 MiB more: forces memory.grow
    first.forEach((shard, i) => expect(shard.length === 1000 && shard.every((b) => b === i + 1)).toBe(true));
    simd44.encode(first);
    const again = encoded(simd44, first.map((shard) => Uint8Array.from(shard)));
    expectSameShards(first, again, 'after growth');
    simd44.releaseShards(big);
    const reused = simd44.allocShards(8 * 1024 * 1024, 4);
    expect(reused.map((shard) => shard.byteOffset).sort()).toEqual(big.map((shard) => shard.byteOffset).sort());
    simd44.releaseShards(reused);
    simd44.releaseShards(first);
    expect(first.every((shard) => shard.byteOffset % 64 === 0)).toBe(true);
    expect(() => simd44.releaseShards(first)).toThrow(/assertion failed/);
    expect(() => simd44.releaseShards([new Uint8Array(8)])).toThrow(/assertion failed/);
  });
});
