// The cluster's ShardStoreSet: placement names nodes, and a node id resolves to this node's own
// drive or to a RemoteShardStore over the transport. The object layer cannot tell them apart.
import type { Transport } from '../transport/transport.js';
import { RemoteShardStore } from './remote-shard-store.js';
import type { ErasureSetFormat, ShardStore, ShardStoreSet } from './shard-store.js';

/** The ShardStoreSet of a cluster node: this node's drive set plus one RemoteShardStore per peer. */
export class ClusterShardStores implements ShardStoreSet {
  /** One RemoteShardStore per peer, made on first use (peers join with new layouts). */
  private readonly remotes = new Map<string, RemoteShardStore>();

  /**
   * `place` names the nodes of shards 0..k+m-1 under the current layout (LiveLayout.place).
   * Stores of other nodes go over `transport`; a node id it does not know fails there (StorageIOError).
   */
  constructor(
    readonly format: ErasureSetFormat,
    private readonly place: (placementKey: string) => string[],
    private readonly selfId: string,
    private readonly localStore: ShardStore | undefined,
    private readonly transport: Transport,
  ) {}

  store(nodeId: string): ShardStore | undefined {
    if (nodeId === this.selfId) return this.localStore;
    if (nodeId === '') return undefined;
    let remote = this.remotes.get(nodeId);
    if (!remote) {
      remote = new RemoteShardStore(this.transport, nodeId);
      this.remotes.set(nodeId, remote);
    }
    return remote;
  }

  /** Nodes for shards 0..k+m-1 of `placementKey` (`${bucket}/${key}`): the same for every data item of an object. */
  placement(_dataId: string, placementKey: string): string[] {
    return this.place(placementKey);
  }

  localStores(): ShardStore[] {
    return this.localStore ? [this.localStore] : [];
  }
}
