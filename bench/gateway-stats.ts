// How a cell's requests spread over the server's gateway processes (config `workers`): each s3d
// writes DATA/gateway-workers.json every second (its own process and each gateway worker, with
// cumulative request counts and event loop totals); the differences between a cell's window edges
// give each process's share of requests and its event loop utilization over the window.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayWorkersFile } from '../src/cluster/gateway-workers.js';

/** One process's counters at one instant, keyed `${node}/${index}` (node 1 for a single server). */
export type GatewaySnapshot = Map<string, GatewayWorkersFile['processes'][number] & { node: number }>;

/** One gateway process over a cell's window. */
export interface GatewayProcessUse {
  /** 1-based node (1 for a single server). */
  node: number;
  /** 0: the node's own process; 1..N: its gateway workers. */
  index: number;
  role: 'node' | 'gateway';
  /** Requests it admitted in the window. */
  requests: number;
  /** Its requests / all processes' requests of its node, 0..1 (0 when the node served none). */
  requestShare: number;
  /** Event loop active / (active + idle) over the window, 0..1. */
  eventLoopUtilization: number;
}

/** Reads each data dir's gateway-workers.json (dataDirs[i] is node i + 1); missing or unreadable files are skipped. */
export function gatewaySnapshot(dataDirs: readonly string[]): GatewaySnapshot {
  const snapshot: GatewaySnapshot = new Map();
  for (const [i, dataDir] of dataDirs.entries()) {
    let file: GatewayWorkersFile;
    try {
      file = JSON.parse(readFileSync(join(dataDir, 'gateway-workers.json'), 'utf8')) as GatewayWorkersFile;
    } catch {
      continue;
    }
    for (const process of file.processes) snapshot.set(`${i + 1}/${process.index}`, { ...process, node: i + 1 });
  }
  return snapshot;
}

/**
 * Each process present at both edges with the same pid (one restarted in between is left out).
 * The files are rewritten every second, so a window of a few seconds is measured to about a second.
 */
export function gatewayUse(start: GatewaySnapshot, end: GatewaySnapshot): GatewayProcessUse[] {
  const rows: Array<Omit<GatewayProcessUse, 'requestShare'>> = [];
  for (const [key, after] of end) {
    const before = start.get(key);
    if (before === undefined || before.pid !== after.pid) continue;
    const active = after.eventLoopActiveMs - before.eventLoopActiveMs;
    const idle = after.eventLoopIdleMs - before.eventLoopIdleMs;
    rows.push({ node: after.node, index: after.index, role: after.role, requests: after.requests - before.requests, eventLoopUtilization: active + idle > 0 ? active / (active + idle) : 0 });
  }
  const perNode = new Map<number, number>();
  for (const row of rows) perNode.set(row.node, (perNode.get(row.node) ?? 0) + row.requests);
  return rows
    .map((row) => ({ ...row, requestShare: (perNode.get(row.node) ?? 0) > 0 ? row.requests / (perNode.get(row.node) ?? 1) : 0 }))
    .sort((a, b) => a.node - b.node || a.index - b.index);
}
