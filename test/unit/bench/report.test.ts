// The bench's Markdown: the every-cell table's server CPU s/GB column and the CPU-per-GB table
// (PUT and GET above c1, one column per scenario), and how CPU per GB is computed.
import { describe, expect, it } from 'vitest';
import { cpuSecondsPerGB } from '../../../bench/cells.js';
import { markdownReport, type BenchReport, type CellReport } from '../../../bench/report.js';

const MiB = 1024 * 1024;

function cell(fields: Partial<CellReport>): CellReport {
  return {
    scenario: 'single node, 1 drive', op: 'PUT', sizeBytes: MiB, concurrency: 16, ops: 100, bytes: 2e9, elapsedMs: 1500,
    megabytesPerSecond: 1333, opsPerSecond: 66, p50Ms: 10, p99Ms: 20, p999Ms: 30, maxMs: 40, opCounts: undefined,
    contentVerifiedOps: 0, error: undefined, serverProcesses: 1, serverCpuSeconds: 9, serverCpuSecondsPerGB: 4.5,
    serverPeakRssBytes: MiB, serverPeakRssSumBytes: MiB, clientCpuSeconds: 1, otherCpuSeconds: 0, ...fields,
  };
}

function report(cells: CellReport[]): BenchReport {
  return {
    schemaVersion: 6, startedAt: '2026-12-07T00:00:00.000Z', finishedAt: '2026-12-07T00:10:00.000Z',
    machine: { cpuModel: 'AMD EPYC', cores: 2, memoryBytes: 1, nodeVersion: 'v24.0.0', gitCommit: 'abc1234', versions: {}, gitDirty: false, dataDirFilesystem: 'ext4' },
    options: {}, scenarios: [], cells, limits: { quick: false, skipped: 'no', error: undefined, results: [] }, chart: undefined,
    repair: { quick: false, dataMib: 512, skipped: 'no', error: undefined, markdown: '', result: undefined },
    transport: { quick: false, skipped: 'no', error: undefined, markdown: '', result: undefined },
    codec: { quick: false, skipped: 'no', results: [] },
  };
}

describe('cpuSecondsPerGB', () => {
  it('divides CPU seconds by 10^9-byte units and is undefined without CPU or bytes', () => {
    expect(cpuSecondsPerGB(9, 2e9)).toBe(4.5);
    expect(cpuSecondsPerGB(undefined, 2e9)).toBeUndefined();
    expect(cpuSecondsPerGB(1, 0)).toBeUndefined();
  });
});

describe('markdownReport', () => {
  it('shows server CPU s/GB in every cell row, and PUT and GET above c1 per scenario in the CPU-per-GB table', () => {
    const markdown = markdownReport(
      report([
        cell({ concurrency: 1, serverCpuSecondsPerGB: 12.34 }),
        cell({}),
        cell({ op: 'GET', serverCpuSecondsPerGB: 0.8123 }),
        cell({ scenario: '6 nodes (4+2), QUIC', serverProcesses: 6, serverCpuSecondsPerGB: 18.61 }),
        cell({ op: 'LIST', sizeBytes: 4096, bytes: 0, serverCpuSecondsPerGB: undefined }),
      ]),
      '',
    );
    expect(markdown).toContain('| server CPU s | server CPU s/GB | server RSS peak MiB |');
    expect(markdown).toContain('| single node, 1 drive | PUT | 1 MiB | 1 | 100 | 1333.0 | 66.0 | 10 | 20 | 30 | 9.0 | 12.3 | 1 |');
    expect(markdown).toContain('| single node, 1 drive | LIST | 4 KiB | 16 | 100 | 1333.0 | 66.0 | 10 | 20 | 30 | 9.0 | - | 1 |');
    const table = markdown.slice(markdown.indexOf('### Server CPU per GB moved'), markdown.indexOf('### Every cell'));
    expect(table).toContain('| op | size | conc | single node, 1 drive | 6 nodes (4+2), QUIC |');
    expect(table).toContain('| PUT | 1 MiB | 16 | 4.50 | 18.6 |');
    expect(table).toContain('| GET | 1 MiB | 16 | 0.812 | - |');
    expect(table).not.toContain('| PUT | 1 MiB | 1 |');
    expect(table).not.toContain('LIST');
  });
});
