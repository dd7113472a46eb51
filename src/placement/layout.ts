// The cluster layout: which nodes hold shards, with what weight, in which zone, under which
// version. A layout is validated once and then read only; placement is a pure function of it.
import { TesseraError } from '../util/errors.js';

/** Largest node weight; ring size, and so layout build time, grows with the sum of weights. */
export const nodeWeightMax = 16;

/** One node of the layout. */
export interface LayoutNode {
  /** Stable node identity (also what the ring hashes); non-empty, unique in the layout. */
  nodeId: string;
  /** Relative capacity, 1 = a reference node; in (0, nodeWeightMax]. Share of shards scales with it. */
  weight: number;
  /** Failure domain (rack, room, site). Either every node has one or none has. */
  zone?: string;
}

/** A versioned set of nodes; the version only names the layout, it does not change placement. */
export interface ClusterLayout {
  /** Non-negative integer, bumped by whoever edits the layout. */
  version: number;
  nodes: LayoutNode[];
}

/**
 * Checks `layout` and returns its nodes sorted by nodeId (so placement never depends on the
 * order nodes were listed in). Throws TesseraError 'InvalidLayout' when the version is not a
 * non-negative integer, there are no nodes, a nodeId is empty or repeated, a weight is outside
 * (0, nodeWeightMax], or zones are given for some nodes but not all.
 */
export function sortedLayoutNodes(layout: ClusterLayout): LayoutNode[] {
  if (!Number.isSafeInteger(layout.version) || layout.version < 0) invalid(`version ${layout.version} is not a non-negative integer`);
  if (layout.nodes.length === 0) invalid('no nodes');
  const nodes = layout.nodes.map((n) => ({ ...n })).sort((a, b) => compareIds(a.nodeId, b.nodeId));
  nodes.forEach((node, i) => {
    if (typeof node.nodeId !== 'string' || node.nodeId === '') invalid('empty nodeId');
    if (i > 0 && nodes[i - 1]?.nodeId === node.nodeId) invalid(`nodeId ${node.nodeId} appears twice`);
    if (!(node.weight > 0 && node.weight <= nodeWeightMax)) invalid(`node ${node.nodeId} weight ${node.weight} is outside (0, ${nodeWeightMax}]`);
    if (node.zone === '') invalid(`node ${node.nodeId} has an empty zone`);
  });
  const zoned = nodes.filter((n) => n.zone !== undefined).length;
  if (zoned !== 0 && zoned !== nodes.length) invalid('zones must be set on every node or on none');
  return nodes;
}

/** Code-unit order, the same in every process and locale (unlike localeCompare). */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(message: string): never {
  throw new TesseraError('InvalidLayout', `invalid cluster layout: ${message}`);
}
