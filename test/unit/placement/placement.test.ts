// Placement: load spread within 5% of fair share, weights, zones, determinism, stability under
// node addition, and the typed errors. Keys are pseudo-random but fixed, so results repeat.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Placement } from '../../../src/placement/placement.js';
import type { ClusterLayout, LayoutNode } from '../../../src/placement/layout.js';
import { hash32, matchByScan, matchBySort, orderShards, rankedPairsFor } from '../../../src/placement/shard-order.js';
import { isTesseraError } from '../../../src/util/errors.js';

const keyCount = 100_000;
const keys = Array.from({ length: keyCount }, (_, i) => `bucket/${createHash('sha1').update(`key-${i}`).digest('hex').slice(0, 16)}`);

function layoutOf(nodeCount: number, extra: (i: number) => Partial<LayoutNode> = () => ({})): ClusterLayout {
  return { version: 1, nodes: Array.from({ length: nodeCount }, (_, i) => ({ nodeId: `node-${i}`, weight: 1, ...extra(i) })) };
}

interface Spread {
  /** Shards per node over all keys and shard indices. */
  total: Map<string, number>;
  /** Shards per node for each shard index. */
  perIndex: Array<Map<string, number>>;
}

function spreadOf(placement: Placement, width: number, keyList: readonly string[] = keys): Spread {
  const total = new Map<string, number>();
  const perIndex = Array.from({ length: width }, () => new Map<string, number>());
  for (const key of keyList) {
    placement.place(key, width).forEach((nodeId, i) => {
      total.set(nodeId, (total.get(nodeId) ?? 0) + 1);
      const forIndex = perIndex[i] as Map<string, number>;
      forIndex.set(nodeId, (forIndex.get(nodeId) ?? 0) + 1);
    });
  }
  return { total, perIndex };
}

/** Largest |share / fair share - 1| over `nodeIds` (equal weights). */
function maxDeviation(counts: Map<string, number>, nodeIds: readonly string[]): number {
  const sum = [...counts.values()].reduce((a, b) => a + b, 0);
  return Math.max(...nodeIds.map((id) => Math.abs(((counts.get(id) ?? 0) / sum) * nodeIds.length - 1)));
}

describe('Placement spread (equal weights, 100,000 keys)', () => {
  it.each([
    [6, 6],
    [3, 3],
    [12, 6],
    [6, 4],
  ])('%i nodes, width %i: every node within 5 percent of fair share, in total and per shard index', (nodeCount, width) => {
    const layout = layoutOf(nodeCount);
    const { total, perIndex } = spreadOf(new Placement(layout), width);
    const nodeIds = layout.nodes.map((n) => n.nodeId);
    // Measured: total 0% / 0% / 1.2% / 0.3%, worst shard index 1.6% / 0.9% / 3.0% / 1.1%.
    expect(maxDeviation(total, nodeIds)).toBeLessThan(0.05);
    for (const forIndex of perIndex) expect(maxDeviation(forIndex, nodeIds)).toBeLessThan(0.05);
  });

  it('puts the shards of one stripe on distinct nodes', () => {
    const placement = new Placement(layoutOf(12));
    for (const key of keys.slice(0, 5_000)) {
      for (const width of [1, 3, 6, 12]) expect(new Set(placement.place(key, width)).size).toBe(width);
    }
  });
});

describe('Placement weights', () => {
  it('gives a weight-2 node twice the shards of a weight-1 node for one shard per stripe', () => {
    const layout = layoutOf(12, (i) => ({ weight: i < 3 ? 2 : 1 }));
    const { total } = spreadOf(new Placement(layout), 1);
    const heavy = mean([0, 1, 2].map((i) => total.get(`node-${i}`) ?? 0));
    const light = mean([3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => total.get(`node-${i}`) ?? 0));
    expect(heavy / light).toBeGreaterThan(1.9); // measured 1.96
    expect(heavy / light).toBeLessThan(2.1);
  });

  it('gives a weight-2 node more, but less than twice, when stripes are wide (one shard per node per stripe)', () => {
    const layout = layoutOf(12, (i) => ({ weight: i < 3 ? 2 : 1 }));
    const { total } = spreadOf(new Placement(layout), 6, keys.slice(0, 30_000));
    const heavy = mean([0, 1, 2].map((i) => total.get(`node-${i}`) ?? 0));
    const light = mean([3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => total.get(`node-${i}`) ?? 0));
    // Taking the first 6 distinct nodes of the walk under-weights heavy nodes (the multi-pick
    // anomaly of CRUSH and of rendezvous top-k alike): measured 1.56, where 2 is feasible.
    expect(heavy / light).toBeGreaterThan(1.45);
    expect(heavy / light).toBeLessThanOrEqual(2);
  });

  it('cannot give a heavier node more than one shard of a stripe when width = nodes', () => {
    const layout = layoutOf(6, (i) => ({ weight: i === 0 ? 2 : 1 }));
    const { total } = spreadOf(new Placement(layout), 6, keys.slice(0, 2_000));
    for (const count of total.values()) expect(count).toBe(2_000);
  });
});

describe('Placement zones', () => {
  const zoneOf = (layout: ClusterLayout): Map<string, string> => new Map(layout.nodes.map((n) => [n.nodeId, n.zone ?? '']));
  const perZone = (nodeIds: string[], zones: Map<string, string>): number[] => {
    const counts = new Map<string, number>();
    for (const id of nodeIds) counts.set(zones.get(id) ?? '', (counts.get(zones.get(id) ?? '') ?? 0) + 1);
    return [...counts.values()].sort((a, b) => b - a);
  };

  it('uses distinct zones when width <= zones', () => {
    const layout = layoutOf(9, (i) => ({ zone: `zone-${i % 3}` }));
    const placement = new Placement(layout);
    expect(placement.zoneCount).toBe(3);
    for (const key of keys.slice(0, 5_000)) expect(perZone(placement.place(key, 3), zoneOf(layout))).toEqual([1, 1, 1]);
  });

  it('puts at most ceil(width / zones) shards in a zone when width > zones', () => {
    const layout = layoutOf(8, (i) => ({ zone: `zone-${i % 4}` }));
    const placement = new Placement(layout);
    for (const key of keys.slice(0, 5_000)) expect(perZone(placement.place(key, 6), zoneOf(layout))).toEqual([2, 2, 1, 1]);
  });

  it('spreads as evenly as the zones allow when a zone is short of nodes', () => {
    const zones = ['a', 'a', 'a', 'a', 'b', 'c'];
    const layout = layoutOf(6, (i) => ({ zone: zones[i] as string }));
    const placement = new Placement(layout);
    for (const key of keys.slice(0, 2_000)) expect(perZone(placement.place(key, 5), zoneOf(layout))).toEqual([3, 1, 1]);
  });

  it('keeps the load within 5% of fair share with zones', () => {
    const layout = layoutOf(6, (i) => ({ zone: `zone-${i % 3}` }));
    const { total } = spreadOf(new Placement(layout), 4, keys.slice(0, 50_000));
    expect(maxDeviation(total, layout.nodes.map((n) => n.nodeId))).toBeLessThan(0.05);
  });
});

describe('Placement determinism', () => {
  it('does not depend on the order nodes are listed in', () => {
    const layout = layoutOf(8, (i) => ({ zone: `zone-${i % 3}`, weight: 1 + (i % 2) }));
    const reversed: ClusterLayout = { ...layout, nodes: [...layout.nodes].reverse() };
    const a = new Placement(layout);
    const b = new Placement(reversed);
    for (const key of keys.slice(0, 2_000)) expect(b.place(key, 5)).toEqual(a.place(key, 5));
  });

  it('matches fixed vectors (a change here re-places every stored object)', () => {
    const placement = new Placement(layoutOf(6));
    expect(placement.place('photos/2024/cat.jpg', 6)).toEqual(GOLDEN_CAT);
    expect(placement.place('backups/db.tar', 4)).toEqual(GOLDEN_DB);
    expect(hash32('photos/2024/cat.jpg')).toBe(GOLDEN_HASH);
  });
});

describe('Placement stability', () => {
  it('moves about 1/7 of node-set members and under 1/3 of shard placements when a 7th node joins 6', () => {
    const before = new Placement(layoutOf(6));
    const after = new Placement({ version: 2, nodes: [...layoutOf(6).nodes, { nodeId: 'node-new', weight: 1 }] });
    let shardMoves = 0;
    let setMoves = 0;
    const sample = keys.slice(0, 50_000);
    for (const key of sample) {
      const old = before.place(key, 6);
      const now = after.place(key, 6);
      old.forEach((nodeId, i) => {
        if (now[i] !== nodeId) shardMoves++;
        if (!now.includes(nodeId)) setMoves++;
      });
    }
    const shards = sample.length * 6;
    // Measured: node set 14.4% (ideal 1/7 = 14.3%); shard index -> node 29.5%. A stateless
    // rule cannot reach 1/7 for the latter (see orderShards); ring-walk order would move 50%.
    expect(setMoves / shards).toBeGreaterThan(0.12);
    expect(setMoves / shards).toBeLessThan(0.165);
    expect(shardMoves / shards).toBeLessThan(0.33);
  });

  it('moves about 1/13 of node-set members when a 13th node joins 12', () => {
    const before = new Placement(layoutOf(12));
    const after = new Placement({ version: 2, nodes: [...layoutOf(12).nodes, { nodeId: 'node-new', weight: 1 }] });
    let setMoves = 0;
    const sample = keys.slice(0, 30_000);
    for (const key of sample) {
      const now = after.place(key, 6);
      setMoves += before.place(key, 6).filter((id) => !now.includes(id)).length;
    }
    expect(setMoves / (sample.length * 6)).toBeLessThan((1 / 13) * 1.15); // measured 7.7%, ideal 7.7%
  });
});

describe('Placement errors and surface', () => {
  it('throws InsufficientNodes when width exceeds the nodes', () => {
    const placement = new Placement(layoutOf(3));
    expect(() => placement.place('b/k', 4)).toThrowError(expect.objectContaining({ code: 'InsufficientNodes' }));
  });

  it.each<[string, ClusterLayout]>([
    ['no nodes', { version: 1, nodes: [] }],
    ['duplicate nodeId', { version: 1, nodes: [{ nodeId: 'a', weight: 1 }, { nodeId: 'a', weight: 1 }] }],
    ['zero weight', { version: 1, nodes: [{ nodeId: 'a', weight: 0 }] }],
    ['weight too large', { version: 1, nodes: [{ nodeId: 'a', weight: 17 }] }],
    ['zones on some nodes only', { version: 1, nodes: [{ nodeId: 'a', weight: 1, zone: 'z' }, { nodeId: 'b', weight: 1 }] }],
    ['negative version', { version: -1, nodes: [{ nodeId: 'a', weight: 1 }] }],
  ])('rejects a layout with %s as InvalidLayout', (_, layout) => {
    let thrown: unknown;
    try {
      new Placement(layout);
    } catch (err) {
      thrown = err;
    }
    expect(isTesseraError(thrown, 'InvalidLayout')).toBe(true);
  });

  it('exposes the layout version and sizes', () => {
    const placement = new Placement({ version: 42, nodes: [{ nodeId: 'a', weight: 1 }, { nodeId: 'b', weight: 0.5 }] });
    expect(placement.layoutVersion).toBe(42);
    expect(placement.nodeCount).toBe(2);
    expect(placement.zoneCount).toBe(0);
  });

  it('places wide stripes (sort matching) on distinct nodes', () => {
    const placement = new Placement(layoutOf(24));
    for (const key of keys.slice(0, 200)) expect(new Set(placement.place(key, 20)).size).toBe(20);
  });
});

describe('orderShards', () => {
  it('matches by scan and by sort identically', () => {
    for (let trial = 0; trial < 500; trial++) {
      const width = 1 + (trial % 16);
      const nodeHashes = Array.from({ length: width }, (_, j) => hash32(`node-${trial}-${j}`));
      const keyHash = hash32(`key-${trial}`);
      expect(matchBySort(rankedPairsFor(keyHash, nodeHashes), width)).toEqual(matchByScan(rankedPairsFor(keyHash, nodeHashes), width));
    }
  });

  it('returns a permutation of the node set', () => {
    const nodeIds = ['a', 'b', 'c', 'd', 'e'];
    const ordered = orderShards(hash32('x/y'), nodeIds, nodeIds.map(hash32));
    expect([...ordered].sort()).toEqual(nodeIds);
  });
});

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

const GOLDEN_CAT = ['node-4', 'node-3', 'node-2', 'node-1', 'node-0', 'node-5'];
const GOLDEN_DB = ['node-0', 'node-1', 'node-5', 'node-4'];
const GOLDEN_HASH = 2213281056;
