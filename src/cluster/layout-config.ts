// Where the layout meets the config and the transport: version 1 of the layout from a node's
// config (as `s3d cluster init` wrote it), and how the transport reaches a layout member.
import type { Config } from '../config/config.js';
import { byId, type LayoutMember, type LayoutSpec } from '../placement/layout-state.js';
import type { PeerAddress } from '../transport/transport.js';

type ClusterConfig = NonNullable<Config['cluster']>;

/** The layout a node's config describes: version cluster.layoutVersion, its nodes and weights (members in id order). */
export function layoutFromConfig(cluster: ClusterConfig): LayoutSpec {
  const parityShards = cluster.parityShards;
  return {
    version: cluster.layoutVersion,
    dataShards: cluster.dataShards ?? cluster.nodes.filter((n) => n.weight > 0).length - parityShards,
    parityShards,
    members: cluster.nodes.map((n) => ({
      id: n.id, host: n.host, port: n.port, publicKey: n.publicKey, weight: n.weight,
      ...(n.zone !== undefined ? { zone: n.zone } : {}), ...(n.s3Port !== undefined ? { s3Port: n.s3Port } : {}),
    })).sort(byId),
  };
}

/** How the transport reaches `member`. */
export function peerOfMember(member: LayoutMember): PeerAddress {
  return { nodeId: member.id, host: member.host, port: member.port, publicKey: member.publicKey };
}
