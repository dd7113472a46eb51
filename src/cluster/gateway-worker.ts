// A gateway worker (config `workers` > 1): a process the node forks that serves S3 requests on
// connections the node's process accepted and handed over, with its own event loop, over the
// node's LMDB (multi-process safe), its drives and, in a cluster, its own client transport. Crash
// recovery, background work and the shard and replica servers stay in the node's own process;
// this one tells that process when it serves clients (repair yields), when it queued a repair, and
// its request count and event loop use. Messages both ways are GatewayWorkerMessage / NodeMessage.
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { initBitrot } from '../erasure/bitrot.js';
import { openMetaStore } from '../meta/lmdb-meta-store.js';
import { ObjectLayer } from '../object/object-layer.js';
import type { LayoutState } from '../placement/layout-state.js';
import { DriveSet } from '../store/drive-set.js';
import { errorCodeOf } from '../util/errors.js';
import { gatewayActivityReportMs, gatewayPinQueryTimeoutMs, gatewayWorkerStatsIntervalMs } from '../util/limits.js';
import { RequestActivity } from '../util/request-activity.js';
import { openClusterClient, type ClusterClient } from './cluster-runtime.js';
import type { Credentials } from './credentials.js';
import { configuredListeners, makeGateway, type GatewayProtocol } from './gateway.js';

/** What a gateway worker needs from the node's process to start (sent once, first). */
export interface GatewayWorkerStart {
  config: Config;
  credentials: Credentials;
  /** PEM files of the node's certificate and key. */
  certFile: string;
  keyFile: string;
  /** 1-based, stable across restarts of the same slot. */
  index: number;
}

/** One gateway process's counters since it started (cumulative, so readers take differences). */
export interface GatewayWorkerStats {
  index: number;
  pid: number;
  /** S3 requests admitted. */
  requests: number;
  /** performance.eventLoopUtilization() totals, in ms. */
  eventLoopActiveMs: number;
  eventLoopIdleMs: number;
}

/** From the node's process to a gateway worker; a 'connection' comes with its socket. */
export type NodeMessage =
  | { type: 'start'; start: GatewayWorkerStart }
  | { type: 'connection'; protocol: GatewayProtocol; id: number }
  /** Which of these data ids do your readers pin? (the node's or another worker's gc asks) */
  | { type: 'pins-query'; id: number; dataIds: string[] }
  /** The answer to this worker's pins-query: the data ids pinned anywhere else in the node. */
  | { type: 'pins-answer'; id: number; dataIds: string[] }
  | { type: 'layout'; state: LayoutState }
  | { type: 'stop' };

/** From a gateway worker to the node's process. */
export type GatewayWorkerMessage =
  | { type: 'waiting' }
  | { type: 'ready' }
  | { type: 'accepted'; id: number }
  | { type: 'failed'; code: string; message: string }
  | { type: 'activity'; untilMs: number }
  | { type: 'repair-queued' }
  /** Which of these data ids do readers elsewhere in the node pin? (this worker's gc asks) */
  | { type: 'pins-query'; id: number; dataIds: string[] }
  /** The answer to the node's pins-query: the data ids this worker's readers pin. */
  | { type: 'pins-answer'; id: number; dataIds: string[] }
  | { type: 'stats'; stats: GatewayWorkerStats };

/** This process's request count and event loop totals. */
export function gatewayStats(index: number, activity: RequestActivity): GatewayWorkerStats {
  const elu = performance.eventLoopUtilization();
  return { index, pid: process.pid, requests: activity.requests, eventLoopActiveMs: elu.active, eventLoopIdleMs: elu.idle };
}

/** Sends `message` to the node's process; false (nothing sent) once the channel is gone. */
export function sendToNode(message: GatewayWorkerMessage): boolean {
  if (!process.connected || process.send === undefined) return false;
  process.send(message);
  return true;
}

/**
 * The pins-queries this process sent, each waiting for its answer; one unanswered within
 * gatewayPinQueryTimeoutMs (or not sent) counts as pinning everything it asked about, so gc errs
 * on the side of keeping data.
 */
export class PinQueries {
  private nextId = 0;
  private readonly waiting = new Map<number, (pinned: string[]) => void>();

  /** Sends the query through `send(id)` (false: not sent) and resolves with the pinned data ids. */
  ask(dataIds: string[], send: (id: number) => boolean): Promise<string[]> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(dataIds), gatewayPinQueryTimeoutMs);
      const finish = (pinned: string[]): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(pinned);
      };
      this.waiting.set(id, finish);
      if (!send(id)) finish(dataIds);
    });
  }

  /** The answer to query `id` came. */
  answer(id: number, pinned: string[]): void {
    this.waiting.get(id)?.(pinned);
  }
}

/** Serves the connections the node's process hands over, per protocol. */
export type ConnectionAcceptors = Partial<Record<GatewayProtocol, (socket: Socket) => void>>;

/**
 * Runs this process as a gateway worker: opens the node's stores, builds the gateway, sets
 * `acceptors` (the caller feeds them the handed-over connections and confirms each), reports
 * 'ready' (or 'failed' with the error's code), serves until 'stop', then closes everything and
 * resolves. Never throws: failures are reported.
 */
export async function runGatewayWorker(start: GatewayWorkerStart, log: Logger, nextMessage: () => Promise<NodeMessage>, acceptors: ConnectionAcceptors): Promise<void> {
  const { config } = start;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close().catch((err: unknown) => log.warn({ err }, 'gateway worker: close failed'));
  };
  const timers: NodeJS.Timeout[] = [];
  const pinQueries = new PinQueries();
  let cluster: ClusterClient | undefined;
  let objects: ObjectLayer;
  try {
    await initBitrot();
    const [cert, key] = await Promise.all([readFile(start.certFile), readFile(start.keyFile)]);
    const meta = await openMetaStore(join(config.dataDir, 'meta'), { log: log.child({ component: 'meta' }) });
    closers.push(() => meta.close());
    const drives = await DriveSet.open(config.dataDir, config.drives ?? [join(config.dataDir, 'drive-1')], config.parityShards, log.child({ component: 'drives' }));
    closers.push(() => drives.close());
    if (config.cluster) {
      cluster = await openClusterClient(config.cluster, meta, drives.drives()[0]?.store, log.child({ component: 'cluster' }), false);
      const transport = cluster.transport;
      closers.push(() => transport.close());
    }
    objects = new ObjectLayer({
      meta: cluster?.meta ?? meta, drives: cluster?.stores ?? drives, blockSizeBytes: config.blockSizeBytes,
      inlineObjectMaxBytes: config.inlineObjectMaxBytes, log: log.child({ component: 'objects' }),
      onRepairQueued: () => sendToNode({ type: 'repair-queued' }), maintenance: false,
      pinnedElsewhere: async (dataIds) => new Set(await pinQueries.ask(dataIds, (id) => sendToNode({ type: 'pins-query', id, dataIds }))),
    });
    await objects.start();
    const running = objects;
    closers.push(() => running.stop());
    const activity = new RequestActivity();
    const gateway = makeGateway(config, objects, start.credentials, activity, log.child({ component: 's3' }));
    closers.push(() => gateway.close());
    for (const listener of configuredListeners(config)) {
      acceptors[listener.protocol] = gateway.serveConnections(listener.protocol === 'https' ? { protocol: 'https', tls: { cert, key } } : { protocol: 'http' });
    }
    timers.push(setInterval(() => {
      if (activity.busy(gatewayActivityReportMs)) sendToNode({ type: 'activity', untilMs: Date.now() });
    }, gatewayActivityReportMs));
    timers.push(setInterval(() => sendToNode({ type: 'stats', stats: gatewayStats(start.index, activity) }), gatewayWorkerStatsIntervalMs));
    sendToNode({ type: 'ready' });
  } catch (err) {
    log.error({ err }, 'gateway worker failed to start');
    sendToNode({ type: 'failed', code: errorCodeOf(err) ?? 'NodeStartFailed', message: (err as Error).message });
    await closeAll();
    return;
  }
  for (;;) {
    const message = await nextMessage();
    if (message.type === 'stop') break;
    if (message.type === 'layout' && cluster) await cluster.layout.adopt(message.state);
    else if (message.type === 'pins-query') sendToNode({ type: 'pins-answer', id: message.id, dataIds: objects.pinnedAmong(message.dataIds) });
    else if (message.type === 'pins-answer') pinQueries.answer(message.id, message.dataIds);
  }
  for (const timer of timers) clearInterval(timer);
  await closeAll();
}
