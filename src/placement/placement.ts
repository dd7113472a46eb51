// Placement of a stripe's shards on distinct nodes (distinct zones when zones are set), a pure
// function of the layout and the placement key: the same in every process and on every call.
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { sortedLayoutNodes, type ClusterLayout } from './layout.js';
import { NodeRing } from './ring.js';
import { hash32, orderShards } from './shard-order.js';

/**
 * Shard placement for one cluster layout. Build once per layout version and share it: the
 * constructor builds the ring (sum of vnodes x 4 md5 points: 20-80 ms measured for 6 weight-1 nodes);
 * `place` is a few microseconds.
 *
 * Throws TesseraError 'InvalidLayout' from the constructor when the layout is malformed (see
 * sortedLayoutNodes).
 */
export class Placement {
  /** Version of the layout this placement was built from. */
  readonly layoutVersion: number;
  /** Nodes in the layout; `place` accepts widths up to this. */
  readonly nodeCount: number;
  /** Distinct zones in the layout; 0 when zones are not configured. */
  readonly zoneCount: number;
  private readonly ring: NodeRing;
  private readonly zoneOf: ReadonlyMap<string, string>;
  private readonly nodeHashes: ReadonlyMap<string, number>;

  constructor(layout: ClusterLayout) {
    const nodes = sortedLayoutNodes(layout);
    this.layoutVersion = layout.version;
    this.nodeCount = nodes.length;
    this.ring = new NodeRing(nodes);
    this.zoneOf = new Map(nodes.flatMap((n) => (n.zone === undefined ? [] : [[n.nodeId, n.zone] as const])));
    this.zoneCount = new Set(this.zoneOf.values()).size;
    this.nodeHashes = new Map(nodes.map((n) => [n.nodeId, hash32(n.nodeId)]));
  }

  /**
   * Node ids for the `width` (= k + m) shards of the object at `placementKey`; index i of the
   * result holds shard i. The key is `${bucket}/${key}`, so an object's metadata, its shards and
   * the parts of its multipart uploads all live on the same nodes.
   *
   * The node set is the first `width` distinct nodes met walking the consistent hash ring
   * (Karger et al. 1997) clockwise from md5(placementKey), over weighted virtual nodes
   * (Dynamo, DeCandia et al. 2007): a node's share of shards follows its weight as far as
   * distinctness allows (a node holds at most one shard of a stripe), and adding a node to n
   * moves about 1/(n+1) of the node sets' members. With zones, the walk is filtered in rounds:
   * round r takes, in walk order, nodes of zones holding fewer than r of the stripe's shards.
   * So shards go to distinct zones whenever width <= zone count, and otherwise spread as evenly
   * as the zones' node counts allow: at most ceil(width / zones) per zone when each zone has
   * that many nodes. Shard indices are then matched to the set's nodes by orderShards.
   *
   * Throws TesseraError 'InsufficientNodes' when width > nodeCount. `width` must be a positive
   * integer (assertion).
   */
  place(placementKey: string, width: number): string[] {
    assert(Number.isInteger(width) && width >= 1, `placement width ${width}`);
    if (width > this.nodeCount) {
      throw new TesseraError('InsufficientNodes', `${width} shards need ${width} nodes; layout ${this.layoutVersion} has ${this.nodeCount}`, {
        width, nodes: this.nodeCount, layoutVersion: this.layoutVersion,
      });
    }
    const nodeIds = this.zoneCount === 0
      ? this.ring.walk(placementKey, width)
      : this.spreadOverZones(this.ring.walk(placementKey, this.nodeCount), width);
    return orderShards(hash32(placementKey), nodeIds, nodeIds.map((id) => this.nodeHashes.get(id) ?? 0));
  }

  /** `width` nodes of `walk` (all nodes, in walk order), taken in rounds of one more per zone; in walk order. */
  private spreadOverZones(walk: readonly string[], width: number): string[] {
    const taken = new Set<string>();
    const perZone = new Map<string, number>();
    for (let round = 1; taken.size < width; round++) {
      for (const nodeId of walk) {
        if (taken.size === width) break;
        const zone = this.zoneOf.get(nodeId) ?? '';
        const inZone = perZone.get(zone) ?? 0;
        if (taken.has(nodeId) || inZone >= round) continue;
        taken.add(nodeId);
        perZone.set(zone, inZone + 1);
      }
      assert(round <= width, 'zone rounds terminate');
    }
    return walk.filter((nodeId) => taken.has(nodeId));
  }
}
