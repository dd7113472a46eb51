// `s3d admin`'s pure parts: the heal target's parsing and the status table's verdict lines.
import { describe, expect, it } from 'vitest';
import { formatReport, healTarget, metaStoreProblem, type ClusterReport } from '../../../src/cli/admin.js';
import type { NodeStatus } from '../../../src/cluster/admin-server.js';

const status = (nodeId: string, over: Partial<NodeStatus> = {}): NodeStatus => ({
  nodeId, layoutVersion: 1, dataShards: 4, parityShards: 2, startedMs: 0, nowMs: 10_000,
  drives: [{ driveId: 'd', path: '/x', online: true }], shards: 12, repairQueue: 0, metaStore: { state: 'ok' },
  repair: { rebuilt: 3, rebuiltBytes: 3 * 1024 * 1024, dropped: 0, failed: 0, bytesPerSecond: 2048, shardsPerSecond: 0.5 },
  scan: { last: { scope: undefined, objects: 9, checked: 4, shards: 24, queued: 3, unreachable: 0, failed: 0, startedMs: 1_000, finishedMs: 4_000 } },
  rebalance: { toVersion: 0, done: true, bytesToMove: 0, objectsToMove: 0, objectsMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsRebuilt: 0, recordsDropped: 0, failed: 0, bytesPerSecond: 0 },
  scrub: {}, peers: [], ...over,
});

describe('healTarget', () => {
  it('reads bucket and bucket/prefix, and nothing as every bucket', () => {
    expect(healTarget(undefined)).toEqual({});
    expect(healTarget('photos')).toEqual({ bucket: 'photos' });
    expect(healTarget('photos/2024/')).toEqual({ bucket: 'photos', prefix: '2024/' });
    expect(() => healTarget('/2024')).toThrow(/must be bucket or bucket\/prefix/);
  });
});

describe('formatReport', () => {
  it('prints a row per node and says healthy only when the report is', () => {
    const healthy: ClusterReport = { healthy: true, problems: [], nodes: [{ nodeId: 'node-1', up: true, status: status('node-1') }] };
    const text = formatReport(healthy);
    expect(text).toContain('layout 1, 4 data + 2 parity shards, 1 node');
    expect(text).toMatch(/node-1 +up +1\/1 +12 +0 +3 \(3\.0 MiB\) +2\.0 KiB\/s +- +- +6 s ago: objects 4, queued 3 +none yet/);
    expect(text).toContain('healthy: every node up');
  });

  it('gives the ETA from the queue and the shard rate, and lists the problems', () => {
    const report: ClusterReport = {
      healthy: false, problems: ['node-2 is down (timeout)', 'node-1: 30 shards waiting for repair'],
      nodes: [{ nodeId: 'node-1', up: true, status: status('node-1', { repairQueue: 30 }) }, { nodeId: 'node-2', up: false, error: 'timeout' }],
    };
    const text = formatReport(report);
    expect(text).toMatch(/node-1 .* 30 .* 60 s /); // 30 shards at 0.5 shards/s
    expect(text).toMatch(/node-2 +down/);
    expect(text).toContain('degraded:\n  node-2 is down (timeout)\n  node-1: 30 shards waiting for repair');
  });

  it('reports a node whose metadata store is full as degraded, in its row and in the verdict', () => {
    const full = status('node-1', { metaStore: { state: 'full', sinceMs: 4_000, failedWrites: 17, error: 'ENOSPC', freeBytes: 0 } });
    expect(metaStoreProblem(status('node-2'))).toBeUndefined();
    const problem = metaStoreProblem(full);
    expect(problem).toBe('metadata store full since 6 s ago (ENOSPC, 0 B free, 17 failed commits): writes refused, reads go on');
    expect(metaStoreProblem(status('node-3', { metaStore: { state: 'failing', sinceMs: 9_000, failedWrites: 1, error: 'EIO' } }))).toMatch(/^metadata store failing since 1 s ago \(EIO, 1 failed commits\)/);
    const report: ClusterReport = { healthy: false, problems: [`node-1: ${problem!}`], nodes: [{ nodeId: 'node-1', up: true, status: full }] };
    const text = formatReport(report);
    expect(text).toMatch(/node-1 +up, meta full +1\/1/);
    expect(text).toContain('degraded:\n  node-1: metadata store full since 6 s ago (ENOSPC, 0 B free, 17 failed commits)');
  });
});
