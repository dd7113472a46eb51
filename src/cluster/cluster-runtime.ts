// The cluster half of a node: loads the node key, starts the transport (QUIC, TLS or TCP) with the
// shard and replica servers behind it, and builds the placement, the ClusterShardStores and the
// ClusterMetaStore the object layer runs on.
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { LmdbMetaStore } from '../meta/lmdb-meta-store.js';
import type { MetaStore } from '../meta/meta-store.js';
import { startingLayout, type LayoutState } from '../placement/layout-state.js';
import { LiveLayout } from '../placement/live-layout.js';
import { ClusterMetaStore } from '../replication/cluster-meta-store.js';
import { metaWriteQuorum } from '../replication/quorum.js';
import { replicaInvoker } from '../replication/replica-methods.js';
import { isReplicaMethod, serveReplica } from '../replication/replica-server.js';
import { ClusterShardStores } from '../store/cluster-stores.js';
import { isShardMethod, serveShard } from '../store/shard-server.js';
import type { ShardStore, ShardStoreSet } from '../store/shard-store.js';
import { loadNodeIdentity } from '../transport/identity.js';
import { discardBody, type CallHandler, type PeerAddress, type Transport } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';
import { layoutSyncIntervalMs, metaCallTimeoutMs } from '../util/limits.js';
import { isAdminMethod } from './admin-server.js';
import { layoutFromConfig, peerOfMember } from './layout-config.js';
import { LayoutSync } from './layout-sync.js';

type ClusterConfig = NonNullable<Config['cluster']>;

export interface ClusterRuntime {
  stores: ShardStoreSet;
  meta: MetaStore;
  transport: Transport;
  /** The layout in use: current and previous placements, adoption of newer versions. */
  layout: LiveLayout;
  /** Port the shard server listens on. */
  shardPort: number;
  dataShards: number;
  parityShards: number;
  /**
   * The node that scans the object at (bucket, key): the first of its k + m home nodes that this
   * node's transport sees up (itself counts as up). Every node computes the same answer while
   * their views of who is up agree, so each object is checked once per cycle.
   */
  scannerOf(bucket: string, key: string): string;
  /** Routes admin.* calls (see admin-server.ts) to `handler`; until then they fail with Unavailable. */
  serveAdmin(handler: CallHandler): void;
  close(): Promise<void>;
}

/** The configured transport (QUIC, TLS or plain TCP) for this node's identity; listen() is the caller's. */
export async function makeTransport(cluster: ClusterConfig, options: ConstructorParameters<typeof import('../transport/quic-transport.js').QuicTransport>[0]): Promise<Transport> {
  if (cluster.transport === 'tls') {
    const { TlsTransport } = await import('../transport/tls-transport.js');
    return new TlsTransport(options);
  }
  if (cluster.transport === 'tcp') {
    const { TcpTransport } = await import('../transport/tcp-transport.js');
    return new TcpTransport(options);
  }
  const { QuicTransport } = await import('../transport/quic-transport.js');
  return new QuicTransport(options);
}

/** What a node's cluster client is built of: the transport, the layout and the stores over them. */
export interface ClusterClient {
  stores: ShardStoreSet;
  meta: ClusterMetaStore;
  transport: Transport;
  layout: LiveLayout;
  dataShards: number;
  parityShards: number;
}

/**
 * The transport (not listening yet), the layout and the stores over them, for this node's identity.
 * `saveLayout`: false in a gateway worker, which follows the layout the node's own process adopts
 * (its LMDB record is that process's to write). Throws InvalidConfig (key file).
 */
export async function openClusterClient(cluster: ClusterConfig, local: LmdbMetaStore, localStore: ShardStore | undefined, log: Logger, saveLayout = true): Promise<ClusterClient> {
  const identity = await loadNodeIdentity(cluster.keyFile);
  const self = cluster.nodes.find((n) => n.id === cluster.nodeId)!;
  if (identity.publicKey !== self.publicKey) {
    throw new TesseraError('InvalidConfig', `config field "cluster.keyFile": ${cluster.keyFile} holds public key ${identity.publicKey}, but nodes[] lists ${self.publicKey} for ${cluster.nodeId}`);
  }
  const layoutState = startingLayout(local.workerState<LayoutState>('layout'), layoutFromConfig(cluster));
  const peers: PeerAddress[] = cluster.nodes.map((n) => ({ nodeId: n.id, host: n.host, port: n.port, publicKey: n.publicKey }));
  const transport = await makeTransport(cluster, { identity, nodeId: cluster.nodeId, peers, listen: { host: cluster.listenAddress ?? self.host, port: self.port } });
  if (saveLayout) await local.saveWorkerState('layout', layoutState);
  const layout = new LiveLayout({ // admits the members later layouts added
    selfId: cluster.nodeId, initial: layoutState, log: log.child({ component: 'layout' }),
    save: saveLayout ? (state) => local.saveWorkerState('layout', state) : async () => undefined,
    addPeer: (member) => transport.addPeer(peerOfMember(member)),
  });

  const { dataShards, parityShards } = layoutState.current;
  const stores = new ClusterShardStores({ dataShards, parityShards }, (key) => layout.place(key), cluster.nodeId, localStore, transport);
  const invoke = replicaInvoker({ selfId: cluster.nodeId, local, transport, timeoutMs: metaCallTimeoutMs });
  const meta = new ClusterMetaStore({
    local, selfId: cluster.nodeId, nodeIds: () => layout.memberIds(), layoutVersion: () => layout.current.version,
    homeSets: (key) => layout.homeSets(key),
    writeQuorum: metaWriteQuorum(dataShards, parityShards), invoke, log: log.child({ component: 'cluster-meta' }),
  });
  return { stores, meta, transport, layout, dataShards, parityShards };
}

/** Starts this node's cluster services. Throws InvalidConfig (key file), ListenFailed (shard port). */
export async function startClusterRuntime(cluster: ClusterConfig, local: LmdbMetaStore, localStore: ShardStore | undefined, log: Logger): Promise<ClusterRuntime> {
  const { stores, meta, transport, layout, dataShards, parityShards } = await openClusterClient(cluster, local, localStore, log);
  const self = cluster.nodes.find((n) => n.id === cluster.nodeId)!;

  let adminHandler: CallHandler | undefined;
  const handler: CallHandler = async (call) => {
    if (isShardMethod(call.method)) {
      if (!localStore) throw new TesseraError('StorageIOError', `node ${cluster.nodeId} has no usable drive`);
      return serveShard(localStore, call);
    }
    if (isReplicaMethod(call.method)) return serveReplica(local, call);
    if (call.method === 'layout.get') {
      await discardBody(call.body); // no request body
      return { header: layout.snapshot() };
    }
    if (call.method === 'layout.progress') {
      await discardBody(call.body); // no request body
      return { header: { doneVersion: local.workerState<{ doneVersion: number }>('rebalance')?.doneVersion ?? 0 } };
    }
    if (isAdminMethod(call.method)) {
      if (!adminHandler) throw new TesseraError('Unavailable', `node ${cluster.nodeId} is still starting`);
      return adminHandler(call);
    }
    throw new TesseraError('UnknownMethod', `no method ${call.method}`);
  };
  let shardPort: number;
  try {
    shardPort = await transport.listen(handler);
  } catch (err) {
    await transport.close().catch(() => undefined);
    throw new TesseraError('ListenFailed', `cannot start the ${cluster.transport} shard server on ${cluster.listenAddress ?? self.host}:${self.port}: ${(err as Error).message}`);
  }
  log.info({ nodeId: cluster.nodeId, transport: cluster.transport, shardPort, nodes: layout.memberIds().length, dataShards, parityShards, layoutVersion: layout.current.version, previousLayoutVersion: layout.previous?.version }, 'cluster transport listening');
  const sync = new LayoutSync(layout, transport, cluster.nodeId, metaCallTimeoutMs, log.child({ component: 'layout' }));
  sync.start(layoutSyncIntervalMs);
  const scannerOf = (bucket: string, key: string): string => {
    const homes = layout.place(`${bucket}/${key}`);
    return homes.find((nodeId) => nodeId === cluster.nodeId || transport.health(nodeId).up) ?? cluster.nodeId;
  };
  const serveAdmin = (admin: CallHandler): void => {
    adminHandler = admin;
  };
  const close = async (): Promise<void> => {
    sync.stop();
    await transport.close();
  };
  return { stores, meta, transport, layout, shardPort, dataShards, parityShards, scannerOf, serveAdmin, close };
}
