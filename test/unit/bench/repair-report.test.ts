// The repair bench's Markdown: the headline rows, the GET baseline, the rows of the heal under client
// load and its one-line summary (p99 during repair vs before, the ratio, the rebuild rate).
import { describe, expect, it } from 'vitest';
import type { GetLoadFigures, RepairUnderLoad } from '../../../bench/repair-load.js';
import { repairMarkdown, repairUnderLoadLine, type RepairResult } from '../../../bench/repair.bench.js';

const MiB = 1024 * 1024;

function getLoad(fields: Partial<GetLoadFigures>): GetLoadFigures {
  return { objects: 64, objectBytes: MiB, concurrency: 4, seconds: 3, ops: 300, contentVerifiedOps: 75, megabytesPerSecond: 104.9, p50Ms: 30, p99Ms: 60, maxMs: 80, ...fields };
}

const underLoad: RepairUnderLoad = {
  lostNode: 4, lostShardFiles: 96, lostShardBytes: 144 * MiB, restartSeconds: 2.5, duringRepair: getLoad({ seconds: 4, ops: 200, p99Ms: 96.4 }),
  p99Ratio: 96.4 / 60, healSeconds: 4.1, lossToRedundancySeconds: 7.2, rebuiltShards: 96, rebuiltBytes: 144 * MiB, failedRepairs: 0,
  rebuiltShardsByNode: [16, 16, 16, 16, 16, 16], repairMegabytesPerSecond: 36.8, healRounds: [{ seconds: 4.1, rebuiltShards: 96, rebuiltBytes: 144 * MiB, unreachable: 0, output: 'healed' }],
};

function result(fields: Partial<RepairResult>): RepairResult {
  return {
    nodes: 6, dataShards: 4, parityShards: 2, transport: 'quic', objects: 32, objectBytes: 16 * MiB, dataBytes: 512 * MiB, putMegabytesPerSecond: 40,
    getBaseline: getLoad({}), shardFiles: 576, shardBytes: 864 * MiB, dataItems: 96, lostNode: 3, lostShardFiles: 96, lostShardBytes: 144 * MiB,
    restartSeconds: 2, healSeconds: 6, lossToRedundancySeconds: 8, rebuiltShards: 96, rebuiltBytes: 144 * MiB, failedRepairs: 0,
    rebuiltShardsByNode: [16, 16, 16, 16, 16, 16], repairMegabytesPerSecond: 25.2, rebuildingRoundsMegabytesPerSecond: 25.2,
    healRounds: [{ seconds: 6, rebuiltShards: 96, rebuiltBytes: 144 * MiB, unreachable: 0, output: 'healed' }], underLoad, logProblems: [],
    ...fields,
  };
}

describe('repair Markdown', () => {
  it('shows the headline, the GET baseline, the heal under load and the summary line', () => {
    const markdown = repairMarkdown(result({}));
    expect(markdown).toContain('| **node loss to full redundancy** | **8.0 s** |');
    expect(markdown).toContain('| **repair throughput** (rebuilt shard bytes / heal duration) | **25.2 MB/s** |');
    expect(markdown).toContain('| GET 1 MiB c4 with no repair running (300 GETs in 3.0 s, 104.9 MB/s, over 64 objects) | p50 30.0 ms, p99 60.0 ms |');
    expect(markdown).toContain('| GET 1 MiB c4 during the heal (200 GETs in 4.0 s, 104.9 MB/s, over 64 objects) | p50 30.0 ms, p99 96.4 ms |');
    expect(markdown).toContain('| **repair throughput under client load** | **36.8 MB/s** |');
    expect(markdown).toContain('\n\nrepair under client load: GET 1 MiB c4 p99 96.4 ms during repair vs 60.0 ms before (1.61x), rebuild 36.8 MB/s');
  });

  it('leaves the under-load rows and line out when the second phase did not run', () => {
    const markdown = repairMarkdown(result({ underLoad: undefined, getBaseline: undefined }));
    expect(markdown).not.toContain('GET 1 MiB');
    expect(repairUnderLoadLine(result({ underLoad: undefined }))).toBeUndefined();
    expect(repairUnderLoadLine(result({ underLoad: { ...underLoad, p99Ratio: undefined } }))).toContain('(no ratio: a window completed no GET)');
  });
});
