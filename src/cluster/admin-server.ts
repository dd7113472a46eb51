// The node side of `s3d admin`: calls named admin.* arrive over the cluster transport (so only
// holders of a listed node key can make them) and report this node's health and repair work, or
// start a scan now. The client side is src/cli/admin.ts.
import type { MetaStoreHealth } from '../meta/meta-health.js';
import type { ScanScope } from '../meta/types.js';
import type { LayoutMember, LayoutState } from '../placement/layout-state.js';
import type { RebalanceProgress } from '../repair/rebalancer.js';
import type { ReconstructorStats } from '../repair/reconstructor.js';
import type { ScanCycle } from '../repair/scanner.js';
import type { ScrubCycle } from '../repair/scrubber.js';
import type { ShardStore } from '../store/shard-store.js';
import { discardBody, type HandlerReply, type InboundCall } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';

/** Admin methods a node serves. */
export const adminMethods = ['admin.status', 'admin.heal', 'admin.layout.get', 'admin.layout.stage', 'admin.layout.apply'] as const;
export type AdminMethod = (typeof adminMethods)[number];

export function isAdminMethod(method: string): method is AdminMethod {
  return (adminMethods as readonly string[]).includes(method);
}

/** One node's answer to admin.status (msgpack over the transport; the CLI's --json prints it). */
export interface NodeStatus {
  nodeId: string;
  /** Layout version the node places new data with. */
  layoutVersion: number;
  /** The version data is still moving away from, while a transition runs. */
  previousLayoutVersion?: number;
  dataShards: number;
  parityShards: number;
  /** Milliseconds since the Unix epoch when the node started, and the node's clock now. */
  startedMs: number;
  nowMs: number;
  drives: Array<{ driveId: string; path: string | undefined; online: boolean }>;
  /** Shard files on the node's online drives, counted now; absent when the call asked not to
   *  ({ countShards: false }: `s3d admin heal --wait` polls, and counting walks every shard file). */
  shards?: number;
  /** Entries in the node's durable repair queue. */
  repairQueue: number;
  /** Whether the node's metadata store commits ('ok'), or is full or failing (writes refused). */
  metaStore: MetaStoreHealth;
  /**
   * What the node's reconstructor did since it started, its rates over the last minute, and its
   * pace now: 'full' (no client served here), 'yielding' (clients served: one rebuild at a time,
   * with rests), 'high' (`heal --priority high`).
   */
  repair: ReconstructorStats & { bytesPerSecond: number; shardsPerSecond: number; pace?: 'full' | 'yielding' | 'high' };
  /** The scan in progress (counts so far) and the last finished one. */
  scan: { running?: ScanCycle; last?: ScanCycle };
  /** The move of data to the current layout version (this node's share). */
  rebalance: RebalanceProgress;
  /** The scrub cycle in progress (counts so far) and the last finished one. */
  scrub: { running?: ScrubCycle; last?: ScrubCycle };
  /** Peers as this node's transport sees them. */
  peers: Array<{ nodeId: string; up: boolean }>;
}

/** What the admin server reads from the running node (wired in node.ts). */
export interface AdminSource {
  nodeId: string;
  layout: {
    snapshot(): LayoutState;
    setStaged(staged: LayoutMember[] | undefined): Promise<void>;
    adopt(state: LayoutState): Promise<boolean>;
  };
  dataShards: number;
  parityShards: number;
  startedMs: number;
  drives(): Array<{ driveId: string; path: string | undefined; store: ShardStore | undefined }>;
  repairCount(): number;
  metaStore(): MetaStoreHealth;
  repair(): NodeStatus['repair'];
  rebalance(): RebalanceProgress;
  scan(): NodeStatus['scan'];
  scrub(): NodeStatus['scrub'];
  peers(): NodeStatus['peers'];
  /** Throws NoSuchBucket when `bucket` does not exist. */
  requireBucket(bucket: string): Promise<void>;
  /**
   * Asks the scanner for a cycle over `scope` (absent: everything); resolves once the request is
   * durable. Priority 'high' lifts the repair throttle until the queue is empty and no scan runs.
   */
  heal(scope: ScanScope | undefined, priority: HealPriority): Promise<void>;
}

/** How repair paces itself after a heal: 'normal' yields to clients, 'high' does not. */
export type HealPriority = 'normal' | 'high';

/** admin.heal's request header: nothing (every bucket), a bucket, or a bucket and key prefix; and a priority (default normal). */
export interface HealRequest {
  bucket?: string;
  prefix?: string;
  priority?: HealPriority;
}

/**
 * Serves one admin call. admin.status answers a NodeStatus (header { countShards: false }: without
 * walking the drives to count shard files); admin.heal (HealRequest) starts a
 * scan and answers { requestedMs }. Throws InvalidArgument (malformed heal header), NoSuchBucket.
 */
export async function serveAdmin(source: AdminSource, call: InboundCall): Promise<HandlerReply> {
  await discardBody(call.body); // admin calls carry no request body
  if (call.method === 'admin.layout.get') return { header: source.layout.snapshot() };
  if (call.method === 'admin.layout.stage') {
    const { staged } = (call.header ?? {}) as { staged?: LayoutMember[] };
    if (staged !== undefined && !Array.isArray(staged)) throw new TesseraError('InvalidArgument', 'admin.layout.stage takes { staged?: LayoutMember[] }');
    await source.layout.setStaged(staged);
    return { header: source.layout.snapshot() };
  }
  if (call.method === 'admin.layout.apply') {
    const { state } = (call.header ?? {}) as { state?: LayoutState };
    if (typeof state?.current?.version !== 'number') throw new TesseraError('InvalidArgument', 'admin.layout.apply takes { state: LayoutState }');
    const adopted = await source.layout.adopt(state);
    return { header: { adopted, version: source.layout.snapshot().current.version } };
  }
  if (call.method === 'admin.heal') {
    const scope = healScope(call.header);
    if (scope !== undefined) await source.requireBucket(scope.bucket);
    const requestedMs = Date.now(); // before the scan starts: a cycle with startedMs >= this one covers the request
    await source.heal(scope, healPriority(call.header));
    return { header: { requestedMs } };
  }
  const { countShards } = (call.header ?? {}) as { countShards?: boolean };
  return { header: await nodeStatus(source, countShards !== false) };
}

function healPriority(header: unknown): HealPriority {
  const priority = (header as HealRequest | null)?.priority ?? 'normal';
  if (priority !== 'normal' && priority !== 'high') throw new TesseraError('InvalidArgument', `admin.heal: priority must be normal or high, got ${String(priority)}`);
  return priority;
}

function healScope(header: unknown): ScanScope | undefined {
  const request = (header ?? {}) as HealRequest;
  if (typeof request !== 'object' || (request.bucket !== undefined && typeof request.bucket !== 'string') || (request.prefix !== undefined && typeof request.prefix !== 'string')) {
    throw new TesseraError('InvalidArgument', 'admin.heal takes { bucket?: string, prefix?: string }');
  }
  if (request.bucket === undefined || request.bucket === '') {
    if (request.prefix) throw new TesseraError('InvalidArgument', 'admin.heal: a prefix needs a bucket');
    return undefined;
  }
  return { bucket: request.bucket, prefix: request.prefix ?? '' };
}

async function nodeStatus(source: AdminSource, countShards: boolean): Promise<NodeStatus> {
  const layout = source.layout.snapshot();
  const drives = source.drives();
  let shards = 0;
  for (const drive of countShards ? drives : []) {
    if (drive.store) for await (const _ of drive.store.list()) shards++;
  }
  const scan = source.scan();
  const scrub = source.scrub();
  return {
    nodeId: source.nodeId,
    layoutVersion: layout.current.version,
    ...(layout.previous ? { previousLayoutVersion: layout.previous.version } : {}),
    dataShards: source.dataShards,
    parityShards: source.parityShards,
    startedMs: source.startedMs,
    nowMs: Date.now(),
    drives: drives.map((d) => ({ driveId: d.driveId, path: d.path, online: d.store !== undefined })),
    ...(countShards ? { shards } : {}),
    repairQueue: source.repairCount(),
    metaStore: source.metaStore(),
    repair: source.repair(),
    rebalance: source.rebalance(),
    // msgpack has no undefined: absent fields stay absent.
    scan: { ...(scan.running ? { running: scan.running } : {}), ...(scan.last ? { last: scan.last } : {}) },
    scrub: { ...(scrub.running ? { running: scrub.running } : {}), ...(scrub.last ? { last: scrub.last } : {}) },
    peers: source.peers(),
  };
}
