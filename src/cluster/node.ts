// The composition root of one node: opens metadata (LMDB) and the shard store under the data
// dir, recovers unfinished writes, starts the S3 gateway listeners, and stops them in order.
import { readFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { initBitrot } from '../erasure/bitrot.js';
import { openMetaStore } from '../meta/lmdb-meta-store.js';
import { ObjectLayer } from '../object/object-layer.js';
import { finishTransition } from '../placement/layout-state.js';
import { Reconstructor } from '../repair/reconstructor.js';
import { RepairThrottle } from '../repair/repair-throttle.js';
import { Rebalancer, type MoveIntent } from '../repair/rebalancer.js';
import { Scanner, type ScanState } from '../repair/scanner.js';
import { Scrubber, type ScrubState } from '../repair/scrubber.js';
import type { ClusterMetaStore } from '../replication/cluster-meta-store.js';
import type { S3Gateway } from '../s3/server.js';
import { DriveSet } from '../store/drive-set.js';
import { discardBody } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';
import { metaCallTimeoutMs, repairPriorityHighMaxMs } from '../util/limits.js';
import { RequestActivity } from '../util/request-activity.js';
import { serveAdmin, type AdminSource } from './admin-server.js';
import { ensureCredentials, type Credentials } from './credentials.js';
import { startClusterRuntime, type ClusterRuntime } from './cluster-runtime.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { ensureCertificate } from './tls-certificate.js';
import { configuredListeners, endpointsOf, listenGateway, makeGateway } from './gateway.js';
import { GatewayWorkers } from './gateway-workers.js';

/** A running node. */
export interface RunningNode {
  /** e.g. ['https://127.0.0.1:8443']. */
  endpoints: string[];
  credentials: Credentials;
  /** PEM file of the certificate in use. */
  certFile: string;
  /** True when this start generated the certificate. */
  certificateCreated: boolean;
  dataDir: string;
  /** Graceful: stop accepting, finish in-flight requests, stop background work, close LMDB. */
  stop(): Promise<void>;
}

/**
 * Throws InvalidConfig when the data dir is a drive or lies inside one (checked before anything
 * is written). Drives inside the data dir are fine: the default drive is DATA/drive-1.
 */
function checkDataDirApart(dataDir: string, drives: readonly string[]): void {
  const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(`${parent}${sep}`);
  for (const drive of drives) {
    if (inside(dataDir, drive)) {
      throw new TesseraError('InvalidConfig', `config field "drives": the data directory ${dataDir} is inside drive ${drive}; keep metadata off the drives`);
    }
  }
}

/** Extra SANs: the bind address when specific, and *.<domain> for virtual-host-style buckets. */
function certificateNames(config: Config): string[] {
  const names = config.domains.map((domain) => `*.${domain}`);
  if (config.address !== '0.0.0.0' && config.address !== '::') names.push(config.address);
  return names;
}

/** Starts a single-node server from `config`. Throws InvalidConfig and I/O errors. */
export async function startNode(config: Config, log: Logger): Promise<RunningNode> {
  const dataDir = resolve(config.dataDir);
  checkDataDirApart(dataDir, (config.drives ?? []).map((d) => resolve(d)));
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = await lockDataDir(dataDir);
  try {
    return await startLocked(config, log, dataDir, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(config: Config, log: Logger, dataDir: string, lock: DataDirLock): Promise<RunningNode> {
  await initBitrot();
  const credentials = await ensureCredentials(dataDir, config.credentials);
  const tls = config.tls.certFile && config.tls.keyFile
    ? { certFile: resolve(config.tls.certFile), keyFile: resolve(config.tls.keyFile), created: false }
    : await ensureCertificate(dataDir, certificateNames(config));
  const [cert, key] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile)]);

  const meta = await openMetaStore(join(dataDir, 'meta'), { log: log.child({ component: 'meta' }) });
  const drives = await DriveSet.open(dataDir, config.drives ?? [join(dataDir, 'drive-1')], config.parityShards, log.child({ component: 'drives' }))
    .catch(async (err: unknown) => {
      await meta.close();
      throw err;
    });
  let cluster: ClusterRuntime | undefined;
  if (config.cluster) {
    const localStore = drives.drives()[0]?.store;
    cluster = await startClusterRuntime(config.cluster, meta, localStore, log.child({ component: 'cluster' })).catch(async (err: unknown) => {
      await drives.close();
      await meta.close();
      throw err;
    });
  }
  let reconstructor: Reconstructor | undefined;
  let workers: GatewayWorkers | undefined;
  const objects: ObjectLayer = new ObjectLayer({
    meta: cluster?.meta ?? meta, drives: cluster?.stores ?? drives, blockSizeBytes: config.blockSizeBytes,
    inlineObjectMaxBytes: config.inlineObjectMaxBytes, log: log.child({ component: 'objects' }),
    onRepairQueued: () => reconstructor?.kick(),
    // Readers in the gateway workers pin data too (none before they start).
    pinnedElsewhere: async (dataIds) => (workers ? workers.pinnedAnywhere(dataIds) : new Set<string>()),
  });
  await objects.start();
  const activity = new RequestActivity();
  const repairThrottle = new RepairThrottle((quietMs) => activity.busy(quietMs));
  let scanBusy = (): boolean => false; // the scanner starts after the reconstructor
  reconstructor = new Reconstructor(cluster?.meta ?? meta, (entry) => objects.repairShard(entry), log.child({ component: 'repair' }), repairThrottle, () => scanBusy());
  reconstructor.start();
  const scrubber = new Scrubber({
    stores: () => drives.drives().flatMap((d) => (d.store ? [{ driveId: d.driveId, store: d.store }] : [])),
    scrub: (store, shardId) => objects.scrubShard(store, shardId),
    loadState: () => meta.workerState<ScrubState>('scrub'),
    saveState: (state) => meta.saveWorkerState('scrub', state),
  }, log.child({ component: 'scrub' }));
  await scrubber.start(config.scrubIntervalHours * 3_600_000);
  const selfId = config.cluster?.nodeId;
  const scanner = new Scanner({
    records: (limit, after, scope) => meta.scanObjects(limit, after, scope),
    responsible: (record) => cluster === undefined || cluster.scannerOf(record.bucket, record.key) === selfId,
    check: (record) => objects.checkShards(record),
    loadState: () => meta.workerState<ScanState>('scan'),
    saveState: (state) => meta.saveWorkerState('scan', state),
  }, log.child({ component: 'scan' }));
  scanBusy = () => scanner.busy();
  await scanner.start(config.scanIntervalHours * 3_600_000);
  let rebalancer: Rebalancer | undefined;
  if (cluster && config.cluster) {
    const clusterConfig = config.cluster;
    const transport = cluster.transport;
    const repairer = reconstructor;
    const layout = cluster.layout;
    const clusterMeta = cluster.meta as ClusterMetaStore;
    rebalancer = new Rebalancer({
      selfId: clusterConfig.nodeId,
      layout,
      records: (limit, after) => meta.scanObjects(limit, after),
      isUp: (nodeId) => transport.health(nodeId).up,
      newest: (bucket, key) => clusterMeta.getObject(bucket, key),
      versionOn: (nodes, bucket, key) => clusterMeta.versionOn(nodes, bucket, key),
      placeOn: (nodes, record) => clusterMeta.placeOn(nodes, record),
      applyHere: async (record) => {
        await meta.applyObject(record);
      },
      dropFrom: (nodes, bucket, key, upTo) => clusterMeta.dropFrom(nodes, bucket, key, upTo),
      copyShard: (part, dataLayout, shardIndex, targetId) => objects.copyShardTo(part, dataLayout, shardIndex, targetId),
      discardShards: (ref) => objects.discardShards(ref),
      saveIntent: (dataId, intent) => meta.saveWorkerState(`move:${dataId}`, intent),
      intents: (limit) => meta.workerStates<MoveIntent>('move:', limit).map((entry) => entry.state),
      doneVersion: () => meta.workerState<{ doneVersion: number }>('rebalance')?.doneVersion ?? 0,
      saveDoneVersion: (version) => meta.saveWorkerState('rebalance', { doneVersion: version }),
      memberDoneVersion: async (nodeId) => {
        const reply = await transport.call(nodeId, { method: 'layout.progress', header: null }, { timeoutMs: metaCallTimeoutMs });
        await discardBody(reply.body);
        return (reply.header as { doneVersion: number }).doneVersion;
      },
      finishTransition: async () => {
        await layout.adopt(finishTransition(layout.snapshot()));
      },
    }, log.child({ component: 'rebalance' }));
    const mover = rebalancer;
    layout.onChange(() => mover.kick());
    mover.start();
    const admin: AdminSource = {
      nodeId: clusterConfig.nodeId, layout: cluster.layout, dataShards: cluster.dataShards, parityShards: cluster.parityShards,
      startedMs: Date.now(),
      drives: () => drives.drives().map((d) => ({ driveId: d.driveId, path: d.path, store: d.store })),
      repairCount: () => meta.repairCount(),
      metaStore: () => meta.health(),
      repair: () => ({ ...repairer.counters(), ...repairer.rates(), pace: repairThrottle.prioritized() ? 'high' : repairThrottle.concurrency() > 1 ? 'full' : 'yielding' }),
      rebalance: () => mover.progress(),
      scan: () => {
        const running = scanner.progress();
        const last = scanner.lastCycle();
        return { ...(running ? { running } : {}), ...(last ? { last } : {}) };
      },
      scrub: () => {
        const running = scrubber.progress();
        const last = scrubber.lastCycle();
        return { ...(running ? { running } : {}), ...(last ? { last } : {}) };
      },
      peers: () => cluster.layout.memberIds().filter((id) => id !== clusterConfig.nodeId).map((nodeId) => ({ nodeId, up: transport.health(nodeId).up })),
      requireBucket: async (bucket) => {
        await objects.getBucket(bucket);
      },
      heal: async (scope, priority) => {
        await scanner.heal(scope);
        repairer.retryNow();
        if (priority === 'high') repairer.prioritize(repairPriorityHighMaxMs);
      },
    };
    cluster.serveAdmin((call) => serveAdmin(admin, call));
  }

  let gateway: S3Gateway | undefined;
  let endpoints: string[] = [];
  try {
    const workerCount = config.workers > 1 ? config.workers : 0;
    if (workerCount === 0) {
      gateway = makeGateway(config, objects, credentials, activity, log.child({ component: 's3' }));
      endpoints = await listenGateway(gateway, config, { cert, key });
    }
    const started = await GatewayWorkers.start({
      count: workerCount, listeners: workerCount > 0 ? configuredListeners(config) : [], start: { config: { ...config, dataDir }, credentials, certFile: tls.certFile, keyFile: tls.keyFile },
      activity, onRepairQueued: () => reconstructor?.kick(), statsFile: join(dataDir, 'gateway-workers.json'), onPids: (pids) => lock.setWorkers(pids), pinnedHere: (dataIds) => objects.pinnedAmong(dataIds), log: log.child({ component: 'gateway-workers' }),
    });
    workers = started.workers;
    if (workerCount > 0) endpoints = endpointsOf(config, started.ports);
    const running = workers;
    if (cluster) cluster.layout.onChange(() => running.broadcastLayout(cluster.layout.snapshot()));
  } catch (err) {
    await gateway?.close();
    await rebalancer?.stop();
    await scanner.stop();
    await scrubber.stop();
    await reconstructor.stop();
    await objects.stop();
    await cluster?.close();
    await drives.close();
    await meta.close();
    throw err;
  }
  const { dataShards, parityShards } = cluster ?? drives.format;
  log.info({
    hostname: hostname(), dataShards, parityShards, ...(config.cluster ? { nodeId: config.cluster.nodeId, shardPort: cluster?.shardPort } : {}),
    drives: drives.drives().map((d) => ({ id: d.driveId, path: d.path ?? 'offline' })),
  }, 'node started');

  return {
    endpoints,
    credentials,
    certFile: tls.certFile,
    certificateCreated: tls.created,
    dataDir,
    async stop() {
      await gateway?.close();
      await workers?.stop();
      await rebalancer?.stop();
      await scanner.stop();
      await scrubber.stop();
      await reconstructor.stop();
      await objects.stop();
      await cluster?.close();
      await drives.close();
      await meta.close();
      await lock.release();
    },
  };
}
