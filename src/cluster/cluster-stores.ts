// The cluster's ShardStoreSet: placement names nodes, and a node id resolves to this node's own
// drive or to a RemoteShardStore over the transport. The object layer cannot tell them apart.
import type { Placement } from '../placement/placement.js';
import { RemoteShardStore } from '../store/remote-shard-store.js';
import type { ErasureSetFormat, ShardStore, ShardStoreSet } from '../store/shard-store.js';
import type { Transport } from '../transport/transport.js';

export class ClusterShardStores implements ShardStoreSet {
  private readonly remotes = new Map<string, RemoteShardStore>();

  constructor(
    readonly format: ErasureSetFormat,
    private readonly placementRing: Placement,
    private readonly selfId: string,
    private readonly localStore: ShardStore | undefined,
    transport: Transport,
    nodeIds: readonly string[],
  ) {
    for (const nodeId of nodeIds) if (nodeId !== selfId) this.remotes.set(nodeId, new RemoteShardStore(transport, nodeId));
  }

  store(nodeId: string): ShardStore | undefined {
    return nodeId === this.selfId ? this.localStore : this.remotes.get(nodeId);
  }

  /** Nodes for shards 0..k+m-1 of `placementKey` (`${bucket}/${key}`): the same for every data item of an object. */
  placement(_dataId: string, placementKey: string): string[] {
    return this.placementRing.place(placementKey, this.format.dataShards + this.format.parityShards);
  }

  localStores(): ShardStore[] {
    return this.localStore ? [this.localStore] : [];
  }
}
