// bench-compare's pure part: figures read from a result (v4, v5 and v6), B/A ratios, verdicts by
// direction (latency and seconds: lower is better), figures in only one result, input errors.
import { describe, expect, it } from 'vitest';
import { compareReports, comparisonMarkdown, parseReport, reportFigures, type ComparableReport } from '../../../bench/compare.js';
import { isTesseraError } from '../../../src/util/errors.js';

type Cell = ComparableReport['cells'][number];

function cell(fields: Partial<Cell>): Cell {
  return {
    scenario: 'single node, 1 drive',
    op: 'PUT',
    sizeBytes: 1024 * 1024,
    concurrency: 16,
    ops: 100,
    bytes: 100 * 1024 * 1024,
    elapsedMs: 1000,
    megabytesPerSecond: 100,
    opsPerSecond: 95,
    p50Ms: 10,
    p99Ms: 20,
    p999Ms: 30,
    maxMs: 40,
    opCounts: undefined,
    contentVerifiedOps: 0,
    error: undefined,
    serverProcesses: 1,
    serverCpuSeconds: 1,
    serverPeakRssBytes: 1,
    serverPeakRssSumBytes: 1,
    clientCpuSeconds: 1,
    otherCpuSeconds: 0,
    ...fields,
  };
}

function report(fields: Partial<ComparableReport>): ComparableReport {
  return {
    schemaVersion: 5,
    startedAt: '2026-11-22T07:00:00.000Z',
    finishedAt: '2026-11-22T07:10:00.000Z',
    machine: { cpuModel: 'AMD EPYC', cores: 2, memoryBytes: 1, nodeVersion: 'v20.20.2', gitCommit: 'abc1234', versions: {}, gitDirty: false, dataDirFilesystem: 'ext4' },
    options: {},
    scenarios: [],
    cells: [],
    limits: { quick: false, skipped: undefined, error: undefined, results: [] },
    repair: { quick: true, dataMib: 128, skipped: 'no', error: undefined, markdown: '', result: undefined },
    transport: { quick: true, skipped: 'no', error: undefined, markdown: '', result: undefined },
    codec: { quick: true, skipped: 'no', results: [] },
    ...fields,
  };
}

const key = 'single node, 1 drive | PUT | 1 MiB | c16';

describe('reportFigures', () => {
  it('reads each cell, limit, repair, transport and codec figure with its unit and direction', () => {
    const figures = reportFigures(
      report({
        cells: [cell({}), cell({ op: 'LIST', sizeBytes: 4096, concurrency: 1, megabytesPerSecond: 0, opsPerSecond: 40 })],
        limits: { quick: false, skipped: undefined, error: undefined, results: [{ id: 'fsync-write', label: 'fsync', megabytesPerSecond: 800, detail: '' }] },
        transport: { quick: true, skipped: undefined, error: undefined, markdown: '', result: { cells: [{ transport: 'quic', cell: 'echo 4 KiB, 16 in flight', value: 2700, unit: 'ops/s' }] } },
      }),
    );
    expect(figures.get(`${key} | throughput`)).toEqual({ value: 100, unit: 'MB/s', lowerIsBetter: false });
    expect(figures.get(`${key} | request rate`)).toEqual({ value: 95, unit: 'ops/s', lowerIsBetter: false });
    expect(figures.get(`${key} | p999 latency`)).toEqual({ value: 30, unit: 'ms', lowerIsBetter: true });
    expect(figures.has('single node, 1 drive | LIST | 4 KiB | c1 | throughput')).toBe(false); // LIST moves no object data
    expect(figures.get('single node, 1 drive | LIST | 4 KiB | c1 | request rate')?.value).toBe(40);
    expect(figures.get('limit | fsync-write')).toEqual({ value: 800, unit: 'MB/s', lowerIsBetter: false });
    expect(figures.get('transport | quic | echo 4 KiB, 16 in flight')?.unit).toBe('ops/s');
  });

  it('reads server CPU per GB from a schemaVersion 6 cell as lower-is-better, and none from 5', () => {
    const v6 = parseReport(JSON.stringify({ ...report({ cells: [cell({ serverCpuSecondsPerGB: 4.5 })] }), schemaVersion: 6 }), 'new.json');
    expect(reportFigures(v6).get(`${key} | server CPU per GB`)).toEqual({ value: 4.5, unit: 's/GB', lowerIsBetter: true });
    expect(reportFigures(report({ cells: [cell({})] })).has(`${key} | server CPU per GB`)).toBe(false);
    const cheaper = report({ schemaVersion: 6, cells: [cell({ serverCpuSecondsPerGB: 2 })] });
    const row = compareReports(v6, cheaper, 0.1).both.find((f) => f.key === `${key} | server CPU per GB`);
    expect(row).toMatchObject({ value: 4.5, valueB: 2, verdict: 'better' });
  });

  it('leaves out failed cells, whose figures are partial', () => {
    const figures = reportFigures(report({ cells: [cell({ error: { code: 'HttpStatus', message: 'PUT answered 500' } })] }));
    expect(figures.size).toBe(0);
  });

  it('reads a schemaVersion 4 result: no limits, no p999', () => {
    const v4 = parseReport(JSON.stringify({ ...report({ cells: [cell({ p999Ms: undefined, opCounts: undefined })] }), schemaVersion: 4, limits: undefined }), 'old.json');
    const figures = reportFigures(v4);
    expect(figures.get(`${key} | p99 latency`)?.value).toBe(20);
    expect(figures.has(`${key} | p999 latency`)).toBe(false);
    expect([...figures.keys()].some((k) => k.startsWith('limit'))).toBe(false);
  });
});

describe('compareReports', () => {
  const a = report({
    cells: [cell({})],
    repair: {
      quick: true,
      dataMib: 128,
      skipped: undefined,
      error: undefined,
      markdown: '',
      // Only the two figures compared matter here.
      result: { lossToRedundancySeconds: 10, repairMegabytesPerSecond: 5 } as NonNullable<ComparableReport['repair']['result']>,
    },
  });

  it('gives B/A and calls higher throughput better, higher latency worse, and changes within the threshold same', () => {
    const b = report({ cells: [cell({ megabytesPerSecond: 150, opsPerSecond: 100, p50Ms: 20, p99Ms: 10, p999Ms: 31 })] });
    const rows = new Map(compareReports(a, b, 0.1).both.map((row) => [row.key, row]));
    expect(rows.get(`${key} | throughput`)).toMatchObject({ value: 100, valueB: 150, ratio: 1.5, verdict: 'better' });
    expect(rows.get(`${key} | request rate`)).toMatchObject({ verdict: 'same' }); // 95 -> 100: +5%
    expect(rows.get(`${key} | p50 latency`)).toMatchObject({ ratio: 2, verdict: 'worse' }); // lower is better
    expect(rows.get(`${key} | p99 latency`)).toMatchObject({ ratio: 0.5, verdict: 'better' });
    expect(rows.get(`${key} | p999 latency`)).toMatchObject({ verdict: 'same' });
    expect(compareReports(a, b, 0.01).both.find((row) => row.key === `${key} | request rate`)?.verdict).toBe('better');
  });

  it('judges repair seconds as lower-is-better and its MB/s as higher-is-better', () => {
    const b = { ...a, repair: { ...a.repair, result: { lossToRedundancySeconds: 20, repairMegabytesPerSecond: 10 } as NonNullable<ComparableReport['repair']['result']> } };
    const rows = new Map(compareReports(a, b, 0.1).both.map((row) => [row.key, row]));
    expect(rows.get('repair | node loss to full redundancy')).toMatchObject({ unit: 's', ratio: 2, verdict: 'worse' });
    expect(rows.get('repair | repair throughput')).toMatchObject({ unit: 'MB/s', ratio: 2, verdict: 'better' });
  });

  it('reads the repair\'s GET p99 with no repair running and under repair (v6), judging latency and the ratio lower-is-better', () => {
    const figuresOf = (p99: number, ratio: number, rate: number): ReturnType<typeof reportFigures> =>
      reportFigures(
        report({
          schemaVersion: 6,
          repair: {
            ...a.repair,
            // Only the figures compared matter here.
            result: {
              lossToRedundancySeconds: 10,
              repairMegabytesPerSecond: 5,
              getBaseline: { p99Ms: 20 },
              underLoad: { duringRepair: { p99Ms: p99 }, p99Ratio: ratio, repairMegabytesPerSecond: rate },
            } as unknown as NonNullable<ComparableReport['repair']['result']>,
          },
        }),
      );
    const figures = figuresOf(30, 1.5, 40);
    expect(figures.get('repair | GET p99 with no repair running')).toEqual({ value: 20, unit: 'ms', lowerIsBetter: true });
    expect(figures.get('repair | under client load: GET p99 during repair')).toEqual({ value: 30, unit: 'ms', lowerIsBetter: true });
    expect(figures.get('repair | under client load: GET p99 ratio to before')).toEqual({ value: 1.5, unit: 'x', lowerIsBetter: true });
    expect(figures.get('repair | under client load: repair throughput')).toEqual({ value: 40, unit: 'MB/s', lowerIsBetter: false });
    // A v5 repair result has none of them.
    expect([...reportFigures(a).keys()].filter((k) => k.startsWith('repair'))).toEqual(['repair | node loss to full redundancy', 'repair | repair throughput']);
  });

  it('lists figures present in only one result, and compares v4 with v5', () => {
    const v4 = parseReport(JSON.stringify({ ...report({ cells: [cell({ p999Ms: undefined })] }), schemaVersion: 4, limits: undefined }), 'old.json');
    const v5 = report({
      cells: [cell({}), cell({ op: 'GET' })],
      limits: { quick: false, skipped: undefined, error: undefined, results: [{ id: 'file-read', label: 'read', megabytesPerSecond: 3000, detail: '' }] },
    });
    const comparison = compareReports(v4, v5, 0.1);
    expect(comparison.onlyInA).toEqual([]);
    expect(comparison.onlyInB).toContain(`${key} | p999 latency`);
    expect(comparison.onlyInB).toContain('single node, 1 drive | GET | 1 MiB | c16 | throughput');
    expect(comparison.onlyInB).toContain('limit | file-read');
    expect(comparison.both.map((row) => row.key)).toEqual([`${key} | throughput`, `${key} | request rate`, `${key} | p50 latency`, `${key} | p99 latency`]);
    expect(comparison.both.every((row) => row.verdict === 'same' && row.ratio === 1)).toBe(true);
    const markdown = comparisonMarkdown(comparison, { file: 'old.json', report: v4 }, { file: 'new.json', report: v5 });
    expect(markdown).toContain('| single node, 1 drive \\| PUT \\| 1 MiB \\| c16 \\| throughput | MB/s | 100.0 | 100.0 | 1.00 | same |');
    expect(markdown).toContain('Only in A: none.');
    expect(markdown).toContain('- limit: 1 (file-read)');
    expect(markdown).not.toContain('WARNING');
  });

  it('handles a zero A and warns when the machines differ', () => {
    const zero = report({ cells: [cell({ opsPerSecond: 0 })] });
    const other = report({ cells: [cell({ opsPerSecond: 5 })], machine: { ...a.machine, cores: 8 } });
    const comparison = compareReports(zero, other, 0.1);
    expect(comparison.both.find((row) => row.key === `${key} | request rate`)).toMatchObject({ ratio: undefined, verdict: 'better' });
    expect(comparison.machinesDiffer).toBe(true);
    expect(comparisonMarkdown(comparison, { file: 'a.json', report: zero }, { file: 'b.json', report: other })).toContain('WARNING: the machines differ');
  });
});

describe('parseReport', () => {
  it.each([
    ['not json', 'NotJson', /x\.json: not JSON/],
    ['[1, 2]', 'NotABenchResult', /x\.json: not a bench result: the JSON is not an object/],
    ['{"cells": []}', 'NotABenchResult', /x\.json: not a bench result: no schemaVersion/],
    ['{"schemaVersion": 3, "cells": []}', 'UnsupportedSchemaVersion', /x\.json: unsupported schemaVersion 3/],
    ['{"schemaVersion": 5, "machine": {}}', 'NotABenchResult', /x\.json: not a bench result: no cells array/],
  ])('rejects %s with %s, naming the file', (text, code, message) => {
    let thrown: unknown;
    try {
      parseReport(text, 'x.json');
    } catch (err) {
      thrown = err;
    }
    expect(isTesseraError<string>(thrown, code)).toBe(true);
    expect((thrown as Error).message).toMatch(message);
  });
});
