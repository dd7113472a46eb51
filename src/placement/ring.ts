// The consistent hash ring over the layout's nodes, built on the pinned `hashring` package
// (ketama: md5, 4 points per virtual node). Each node's virtual node count is fixed by its own
// weight alone, so adding a node never moves another node's points.
import HashRing from 'hashring';
import { assert } from '../util/assert.js';
import type { LayoutNode } from './layout.js';

/**
 * Virtual nodes per unit of weight; hashring makes 4 ring points from each, so a weight-1 node
 * owns 4096 points. Measured: 6 nodes x 1024 keeps every node's share of shard 0 within ~2% of
 * fair; hashring's default (40 vnodes, 160 points) is off by ~10%.
 */
export const ringVnodesPerWeight = 1024;

/** Ring points hashring derives from one virtual node (one per 4-byte slice of md5). */
const ringPointsPerVnode = 4;

/** Virtual nodes of a node of `weight` (at least one, so every node is reachable). */
export function vnodesOf(weight: number): number {
  return Math.max(1, Math.round(weight * ringVnodesPerWeight));
}

/**
 * Consistent hash ring (Karger et al. 1997, "Consistent hashing and random trees") with
 * weighted virtual nodes (as in Dynamo, DeCandia et al. 2007, section 4.2). Built once per
 * layout; lookups do one md5 and a binary search over sum(vnodes) x 4 points.
 */
export class NodeRing {
  readonly nodeCount: number;
  private readonly ring: HashRing;

  /** `nodes` must be validated and sorted (see sortedLayoutNodes); at least one. */
  constructor(nodes: readonly LayoutNode[]) {
    assert(nodes.length > 0, 'ring needs a node');
    const servers: Record<string, { vnodes: number }> = Object.create(null) as Record<string, { vnodes: number }>;
    for (const node of nodes) servers[node.nodeId] = { vnodes: vnodesOf(node.weight) };
    // 'vnode count' 0 makes hashring take every node's explicit count instead of rescaling the
    // weights by their total, which would move every node's points whenever a node is added.
    this.ring = new HashRing(servers, 'md5', { 'vnode count': 0, replicas: ringPointsPerVnode, 'max cache size': 1 });
    this.nodeCount = nodes.length;
    const expectedPoints = nodes.reduce((sum, n) => sum + vnodesOf(n.weight) * ringPointsPerVnode, 0);
    assert(this.ring.size === expectedPoints, `ring has ${this.ring.size} points, expected ${expectedPoints}`);
  }

  /**
   * The first `count` distinct node ids met walking clockwise from the point of `key`
   * (1 <= count <= nodeCount). Node i's chance of being first is its share of ring points.
   */
  walk(key: string, count: number): string[] {
    assert(Number.isInteger(count) && count >= 1 && count <= this.nodeCount, `walk count ${count} of ${this.nodeCount} nodes`);
    const nodeIds = this.ring.range(key, count, true);
    assert(nodeIds.length === count, `ring walk found ${nodeIds.length} of ${count} nodes`);
    return nodeIds;
  }
}
