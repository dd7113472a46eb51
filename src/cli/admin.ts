// `s3d admin status | heal`: the operator's view of a cluster. The command loads a node's config,
// takes that node's key and calls every node over the cluster's own transport (QUIC, TLS or TCP,
// each with mutual authentication), so it works wherever the node's config and key are readable, and nodes
// accept admin calls only from holders of a listed key. The node side is src/cluster/admin-server.ts.
import { loadConfig, type Config } from '../config/config.js';
import { makeTransport } from '../cluster/cluster-runtime.js';
import type { HealPriority, HealRequest, NodeStatus } from '../cluster/admin-server.js';
import { peerOfMember } from '../cluster/layout-config.js';
import { allMembers, applyStaged, describeChanges, stageAddNode, stageRemoveNode, stageRevert, stageSetWeight, type LayoutMember, type LayoutState } from '../placement/layout-state.js';
import { loadNodeIdentity } from '../transport/identity.js';
import { discardBody, type Transport } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';
import { adminCallTimeoutMs, adminPollIntervalMs } from '../util/limits.js';

type ClusterConfig = NonNullable<Config['cluster']>;

/** One node as `s3d admin` saw it: its status, or why it did not answer. */
export interface NodeReport {
  nodeId: string;
  up: boolean;
  status?: NodeStatus;
  error?: string;
}

/** What `s3d admin status --json` prints. */
export interface ClusterReport {
  /** Every node answered, every drive is online, every metadata store commits and no repair is queued anywhere. */
  healthy: boolean;
  /** Human-readable reasons the cluster is not healthy (empty when healthy). */
  problems: string[];
  nodes: NodeReport[];
}

/** Loads `configFile` and checks it has a cluster section. Throws InvalidConfig naming the field. */
function clusterConfigOf(configFile: string): ClusterConfig {
  const config = loadConfig({ file: configFile });
  if (!config.cluster) {
    throw new TesseraError('InvalidConfig', `config field "cluster" is missing in ${configFile}: s3d admin talks to a cluster's nodes over its transport (make configs with s3d cluster init)`);
  }
  return config.cluster;
}

/** Runs `action` with a client transport that speaks as the config's node (its key file). */
async function withTransport<T>(cluster: ClusterConfig, action: (transport: Transport) => Promise<T>): Promise<T> {
  const identity = await loadNodeIdentity(cluster.keyFile);
  const self = cluster.nodes.find((n) => n.id === cluster.nodeId)!;
  const transport = await makeTransport(cluster, {
    identity, nodeId: cluster.nodeId,
    peers: cluster.nodes.map((n) => ({ nodeId: n.id, host: n.host, port: n.port, publicKey: n.publicKey })),
    listen: { host: self.host, port: 0 }, // never listens: calls only
  });
  try {
    return await action(transport);
  } finally {
    await transport.close();
  }
}

async function adminCall(transport: Transport, nodeId: string, method: string, header: unknown): Promise<unknown> {
  const reply = await transport.call(nodeId, { method, header }, { timeoutMs: adminCallTimeoutMs });
  await discardBody(reply.body); // admin replies have no body
  return reply.header;
}

/**
 * The cluster's layout state as the first node that answers knows it (this config's node first),
 * with its members admitted to `transport`. Throws the last node's error when none answers.
 */
async function fetchLayout(cluster: ClusterConfig, transport: Transport): Promise<LayoutState> {
  const order = [cluster.nodeId, ...cluster.nodes.map((n) => n.id).filter((id) => id !== cluster.nodeId)];
  let lastError: unknown;
  for (const nodeId of order) {
    try {
      const state = await adminCall(transport, nodeId, 'admin.layout.get', null) as LayoutState;
      for (const member of allMembers(state)) transport.addPeer(peerOfMember(member));
      return state;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Node ids to report on: every member of the layout (of both versions during a move), or the config's nodes when no node answers. */
async function memberIds(cluster: ClusterConfig, transport: Transport): Promise<string[]> {
  const state = await fetchLayout(cluster, transport).catch(() => undefined);
  const ids = state ? allMembers(state).map((m) => m.id) : cluster.nodes.map((n) => n.id);
  return ids.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

async function collectStatus(cluster: ClusterConfig, transport: Transport, ids?: string[], countShards = true): Promise<ClusterReport> {
  const nodeIds = ids ?? await memberIds(cluster, transport);
  const nodes = await Promise.all(nodeIds.map(async (nodeId): Promise<NodeReport> => {
    try {
      return { nodeId, up: true, status: await adminCall(transport, nodeId, 'admin.status', countShards ? null : { countShards: false }) as NodeStatus };
    } catch (err) {
      return { nodeId, up: false, error: (err as Error).message };
    }
  }));
  const problems: string[] = [];
  for (const node of nodes) {
    if (!node.status) {
      problems.push(`${node.nodeId} is down (${node.error ?? 'no answer'})`);
      continue;
    }
    const offline = node.status.drives.filter((d) => !d.online);
    if (offline.length > 0) problems.push(`${node.nodeId}: drive ${offline.map((d) => d.driveId).join(', ')} offline`);
    const meta = metaStoreProblem(node.status);
    if (meta !== undefined) problems.push(`${node.nodeId}: ${meta}`);
    if (node.status.repairQueue > 0) problems.push(`${node.nodeId}: ${node.status.repairQueue} shards waiting for repair`);
    if (node.status.previousLayoutVersion !== undefined) problems.push(`${node.nodeId}: data moving from layout ${node.status.previousLayoutVersion} to ${node.status.layoutVersion}`);
  }
  return { healthy: problems.length === 0, problems, nodes };
}

/** Why a node's metadata store refuses writes, or undefined when it commits (or an older node did not say). */
export function metaStoreProblem(status: NodeStatus): string | undefined {
  const health = status.metaStore as NodeStatus['metaStore'] | undefined;
  if (health === undefined || health.state === 'ok') return undefined;
  const since = health.sinceMs !== undefined ? ` since ${ago(status.nowMs, health.sinceMs)}` : '';
  const free = health.freeBytes !== undefined ? `, ${size(health.freeBytes)} free` : '';
  const what = health.state === 'full' ? 'metadata store full' : 'metadata store failing';
  return `${what}${since} (${health.error ?? 'commit failed'}${free}, ${health.failedWrites ?? 0} failed commits): writes refused, reads go on`;
}

/** Bytes with a binary unit: '512 B', '3.4 KiB', '1.0 MiB', '2.5 GiB'. */
function size(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function ago(nowMs: number, thenMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 120) return `${Math.ceil(seconds)} s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function rebalanceText(status: NodeStatus): string {
  const r = status.rebalance;
  if (status.previousLayoutVersion === undefined) return r.toVersion > 0 ? `done (moved ${size(r.bytesMoved)})` : '-';
  if (r.done) return `done (moved ${size(r.bytesMoved)})`;
  const eta = r.bytesPerSecond > 0 ? duration(r.bytesToMove / r.bytesPerSecond) : '-';
  return `${size(r.bytesToMove)} to move, ${size(r.bytesPerSecond)}/s, ETA ${eta}`;
}

function scanText(status: NodeStatus): string {
  const { running, last } = status.scan;
  if (running) return `running: objects ${running.checked}, queued ${running.queued}`;
  if (last) return `${ago(status.nowMs, last.finishedMs)}: objects ${last.checked}, queued ${last.queued}${last.unreachable > 0 ? `, unreachable ${last.unreachable}` : ''}`;
  return 'none yet';
}

function scrubText(status: NodeStatus): string {
  const { running, last } = status.scrub;
  if (running) return `running: shards ${running.shards}, bad ${running.repairQueued}`;
  if (!last) return 'none yet';
  return `${ago(status.nowMs, last.finishedMs)}: shards ${last.shards}, bad ${last.repairQueued}`;
}

/** The table `s3d admin status` prints: one line per node, then the verdict. */
export function formatReport(report: ClusterReport): string {
  const header = ['NODE', 'STATE', 'DRIVES', 'SHARDS', 'REPAIR-QUEUE', 'REBUILT', 'RATE', 'ETA', 'REBALANCE', 'LAST SCAN', 'LAST SCRUB'];
  const rows = report.nodes.map((node) => {
    const s = node.status;
    if (!s) return [node.nodeId, 'down', '-', '-', '-', '-', '-', '-', '-', '-', '-']; // why: in the verdict below
    const eta = s.repairQueue === 0 ? '-' : s.repair.shardsPerSecond > 0 ? duration(s.repairQueue / s.repair.shardsPerSecond) : 'waiting';
    const metaState = (s.metaStore as NodeStatus['metaStore'] | undefined)?.state ?? 'ok';
    return [
      s.nodeId, metaState === 'ok' ? 'up' : `up, meta ${metaState}`, `${s.drives.filter((d) => d.online).length}/${s.drives.length}`, s.shards === undefined ? '-' : String(s.shards), String(s.repairQueue),
      `${s.repair.rebuilt} (${size(s.repair.rebuiltBytes)})`, `${size(s.repair.bytesPerSecond)}/s${s.repair.pace !== undefined && s.repair.pace !== 'full' ? ` (${s.repair.pace})` : ''}`, eta, rebalanceText(s), scanText(s), scrubText(s),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const first = report.nodes.find((n) => n.status)?.status;
  const nodes = `${report.nodes.length} node${report.nodes.length === 1 ? '' : 's'}`;
  const lines = [
    first ? `layout ${first.layoutVersion}${first.previousLayoutVersion !== undefined ? ` (moving from ${first.previousLayoutVersion})` : ''}, ${first.dataShards} data + ${first.parityShards} parity shards, ${nodes}` : nodes,
    line(header), ...rows.map(line), '',
    report.healthy ? 'healthy: every node up, every drive online, no shard waiting for repair' : `degraded:\n${report.problems.map((p) => `  ${p}`).join('\n')}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `s3d admin status`: prints the report (JSON with `json`); returns the exit code (0 healthy, 1 not). */
export async function adminStatus(configFile: string, options: { json: boolean }): Promise<number> {
  const cluster = clusterConfigOf(configFile);
  const report = await withTransport(cluster, (transport) => collectStatus(cluster, transport));
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.healthy ? 0 : 1;
}

/** Parses `bucket[/prefix]`; undefined for everything. Throws InvalidArgument for an empty bucket. */
export function healTarget(target: string | undefined): HealRequest {
  if (target === undefined || target === '') return {};
  const slash = target.indexOf('/');
  const bucket = slash < 0 ? target : target.slice(0, slash);
  if (bucket === '') throw new TesseraError('InvalidArgument', `heal target "${target}" must be bucket or bucket/prefix`);
  return slash < 0 ? { bucket } : { bucket, prefix: target.slice(slash + 1) };
}

/**
 * `s3d admin heal [bucket[/prefix]]`: every node scans its share of the target now. With `wait`,
 * polls until every node finished a scan started after the request and its repair queue is
 * empty, printing progress; returns 0 then, 1 when a node is down or `timeoutSeconds` passed.
 */
export async function adminHeal(configFile: string, target: string | undefined, options: { wait: boolean; timeoutSeconds: number; priority?: HealPriority }): Promise<number> {
  const cluster = clusterConfigOf(configFile);
  const request: HealRequest = { ...healTarget(target), ...(options.priority === 'high' ? { priority: 'high' } : {}) };
  const what = request.bucket === undefined ? 'every bucket' : request.prefix ? `s3://${request.bucket}/${request.prefix}*` : `s3://${request.bucket}`;
  return withTransport(cluster, async (transport) => {
    const requestedMs = new Map<string, number>();
    const failures: string[] = [];
    const ids = await memberIds(cluster, transport);
    await Promise.all(ids.map(async (nodeId) => {
      try {
        const reply = await adminCall(transport, nodeId, 'admin.heal', request) as { requestedMs: number };
        requestedMs.set(nodeId, reply.requestedMs);
      } catch (err) {
        failures.push(`${nodeId}: ${(err as Error).message}`);
      }
    }));
    if (failures.length > 0) {
      process.stderr.write(`s3d admin heal: ${failures.length} of ${ids.length} nodes did not start a scan:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);
      if (failures.length === ids.length) return 1;
    }
    process.stdout.write(`heal of ${what} started on ${requestedMs.size} nodes\n`);
    if (!options.wait) return failures.length > 0 ? 1 : 0;
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    let lastLine = '';
    for (;;) {
      const report = await collectStatus(cluster, transport, ids, false);
      const scanned = report.nodes.filter((n) => {
        const since = requestedMs.get(n.nodeId);
        const last = n.status?.scan.last;
        return since !== undefined && !n.status?.scan.running && last !== undefined && last.startedMs >= since;
      }).length;
      const queued = report.nodes.reduce((sum, n) => sum + (n.status?.repairQueue ?? 0), 0);
      const line = `scanned on ${scanned}/${requestedMs.size} nodes, ${queued} shards waiting for repair`;
      if (line !== lastLine) process.stdout.write(`${line}\n`);
      lastLine = line;
      if (scanned === requestedMs.size && queued === 0) {
        const unreachable = report.nodes.reduce((sum, n) => sum + (n.status?.scan.last?.unreachable ?? 0), 0);
        if (unreachable > 0) {
          process.stdout.write(`heal incomplete: ${unreachable} shards are on nodes that did not answer the scan; run it again once they are up\n`);
          return 1;
        }
        process.stdout.write(failures.length > 0 ? 'heal finished on the nodes that answered\n' : 'heal finished: every shard of the target is in place\n');
        return failures.length > 0 ? 1 : 0;
      }
      if (Date.now() >= deadline) {
        process.stderr.write(`s3d admin heal: not finished after ${options.timeoutSeconds} s (${line})\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, adminPollIntervalMs));
    }
  });
}

/** A layout command: show, add-node, remove-node, set-weight, revert or apply. */
export type LayoutCommand =
  | { kind: 'show' }
  | { kind: 'add-node'; nodeConfig: string; weight?: number; zone?: string }
  | { kind: 'remove-node'; nodeId: string }
  | { kind: 'set-weight'; nodeId: string; weight: number }
  | { kind: 'revert' }
  | { kind: 'apply' };

/** `s3d admin layout show` text: the current version, a transition in progress, the staged changes. */
export function formatLayout(state: LayoutState): string {
  const lines = [`layout version ${state.current.version}: ${state.current.dataShards} data + ${state.current.parityShards} parity shards`];
  const rows = state.current.members.map((m) => [m.id, `${m.host}:${m.port}`, String(m.weight), m.zone ?? '-']);
  const header = ['NODE', 'SHARD SERVER', 'WEIGHT', 'ZONE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) lines.push(`  ${row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}`);
  if (state.previous) lines.push('', `moving data from version ${state.previous.version}:`, ...describeChanges(state.previous.members, state.current.members).map((l) => `  ${l}`));
  if (state.staged) {
    const changes = describeChanges(state.current.members, state.staged);
    lines.push('', changes.length > 0 ? 'staged (s3d admin layout apply makes them the next version):' : 'staged: no change', ...changes.map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

/** The layout entry of the node whose config is `file` (its own nodes[] entry). Throws InvalidConfig. */
function memberFromConfig(file: string): LayoutMember {
  const cluster = clusterConfigOf(file);
  const self = cluster.nodes.find((n) => n.id === cluster.nodeId)!;
  return {
    id: self.id, host: self.host, port: self.port, publicKey: self.publicKey, weight: self.weight,
    ...(self.zone !== undefined ? { zone: self.zone } : {}), ...(self.s3Port !== undefined ? { s3Port: self.s3Port } : {}),
  };
}

/** Sends the staged list to every member (best effort); throws when this config's node did not take it. */
async function broadcastStaged(cluster: ClusterConfig, transport: Transport, state: LayoutState, staged: LayoutMember[] | undefined): Promise<void> {
  const ids = allMembers(state).map((m) => m.id);
  const results = await Promise.allSettled(ids.map((id) => adminCall(transport, id, 'admin.layout.stage', staged === undefined ? {} : { staged })));
  const own = results[ids.indexOf(cluster.nodeId)];
  if (own?.status === 'rejected') throw own.reason;
}

/**
 * `s3d admin layout ...`: prints the layout, stages a change on every member, or applies the
 * staged changes as the next version and sends it to every member (those that miss it pull it
 * from their peers within layoutSyncIntervalMs). Returns the exit code. Throws InvalidArgument,
 * LayoutNotApplied, LayoutTransitionInProgress and the transport's errors.
 */
export async function adminLayout(configFile: string, command: LayoutCommand): Promise<number> {
  const cluster = clusterConfigOf(configFile);
  return withTransport(cluster, async (transport) => {
    const state = await fetchLayout(cluster, transport);
    if (command.kind === 'show') {
      process.stdout.write(formatLayout(state));
      return 0;
    }
    if (command.kind === 'apply') {
      const next = applyStaged(state);
      const members = allMembers(next);
      for (const member of members) transport.addPeer(peerOfMember(member));
      const results = await Promise.allSettled(members.map((m) => adminCall(transport, m.id, 'admin.layout.apply', { state: next })));
      const reached = results.filter((r) => r.status === 'fulfilled').length;
      await broadcastStaged(cluster, transport, next, undefined);
      process.stdout.write(formatLayout(next));
      process.stdout.write(`\nlayout ${next.current.version} applied on ${reached} of ${members.length} nodes${reached < members.length ? ' (the others take it from their peers when they are back)' : ''}; watch the move with s3d admin status\n`);
      return 0;
    }
    let staged: LayoutState;
    if (command.kind === 'add-node') {
      const member = memberFromConfig(command.nodeConfig);
      staged = stageAddNode(state, { ...member, weight: command.weight ?? (member.weight > 0 ? member.weight : 1), ...(command.zone !== undefined ? { zone: command.zone } : {}) });
      transport.addPeer(peerOfMember(member));
    } else if (command.kind === 'remove-node') {
      staged = stageRemoveNode(state, command.nodeId);
    } else if (command.kind === 'set-weight') {
      staged = stageSetWeight(state, command.nodeId, command.weight);
    } else {
      staged = stageRevert(state);
    }
    await broadcastStaged(cluster, transport, state, staged.staged);
    process.stdout.write(formatLayout(staged));
    return 0;
  });
}
