// The bench's SVG chart: MB/s per scenario for each op (PUT, GET, MIXED) and object size, LIST in
// ops/s, with the machine's own limits as dashed lines. Built as a Vega-Lite spec and rendered
// headless by Vega (renderer 'none': no canvas needed, text widths estimated), so the output is
// plain SVG; Vega renders asynchronously, hence the Promise.

import { writeFile } from 'node:fs/promises';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchOp, BenchReport, CellReport, LimitResult } from './report.js';
import { sizeLabel } from './report.js';

/** One panel of the concat (a layer of bars, labels and limit lines). */
type PanelSpec = Extract<TopLevelSpec, { concat: unknown }>['concat'][number];

/** Panels drawn in MB/s, in this order; LIST follows in ops/s. */
const throughputOps: readonly BenchOp[] = ['PUT', 'GET', 'MIXED'];
/** Which limits are drawn on which panel, by LimitResult.id; limits matching neither are not drawn. */
const limitPanels: Readonly<Record<string, RegExp>> = { PUT: /write|upload/, GET: /read|download/ };
/** Panels per row, and one panel's plot area in px. */
const panelColumns = 2;
const panelWidthPx = 500;
const panelHeightPx = 260;
/** The value labels over the bars. */
const barLabelFontSizePx = 9;
const barLabelLineHeightPx = 11;
/** Tessera's scenarios take these colours in order (blues and greens), peers these (oranges). */
const tesseraColours: readonly string[] = ['#08519c', '#4292c6', '#238b45', '#74c476', '#6a51a3', '#9e9ac8', '#525252', '#969696'];
const peerColours: readonly string[] = ['#e6550d', '#fd8d3c', '#a63603'];
const limitColour = '#b2182b';
const font = 'DejaVu Sans, Helvetica, Arial, sans-serif';

interface Bar {
  size: string;
  scenario: string;
  value: number;
  concurrency: number;
  /** The value, and "cN" on a second line when N is not the chart's usual best concurrency. */
  label: string;
}

interface LimitMark {
  value: number;
  label: string;
  /** The label's place at the plot's left edge, relative to the line. */
  side: 'above' | 'below';
}

/**
 * A standalone SVG document (UTF-8 text) charting `report`'s cells: one panel per op with cells, x =
 * object size, a bar per scenario at the best concurrency of that (scenario, op, size), y = MB/s on
 * a log scale shared by the MB/s panels; LIST as ops/s. Limits whose id names a write/upload are
 * drawn on PUT, read/download on GET. Failed cells are left out. Throws when Vega cannot render.
 */
export async function throughputChartSvg(report: BenchReport): Promise<string> {
  const spec = chartSpec(report);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return `<?xml version="1.0" encoding="UTF-8"?>\n${await view.toSVG()}\n`;
  } finally {
    view.finalize();
  }
}

/** Writes throughputChartSvg(report) to `path`. */
export async function writeChart(report: BenchReport, path: string): Promise<void> {
  await writeFile(path, await throughputChartSvg(report));
}

/** The Vega-Lite spec behind throughputChartSvg (exported for tests and for tweaking in the Vega editor). */
export function chartSpec(report: BenchReport): TopLevelSpec {
  const cells = report.cells.filter((c) => c.error === undefined);
  const scenarios = scenarioOrder(report, cells);
  const colours = scenarioColours(report, scenarios);
  const legendTitle = scenarios.some((name) => isPeer(report, name)) ? 'scenario (Tessera: blues and greens; peer: orange)' : 'scenario';
  // `?.`: a schemaVersion 4 document (no limits) charts too.
  const limits = report.limits?.results ?? [];
  const mbDomain = logDomain([...cells.filter((c) => c.op !== 'LIST').map((c) => c.megabytesPerSecond), ...drawnLimits(limits).map((l) => l.megabytesPerSecond)]);
  const groups = [
    ...throughputOps.map((op) => ({ op, title: `${op}, MB/s`, best: bestCells(cells, op, (c) => c.megabytesPerSecond) })),
    { op: 'LIST' as const, title: 'LIST (ListObjectsV2), ops/s', best: bestCells(cells, 'LIST', (c) => c.opsPerSecond) },
  ].filter((g) => g.best.length > 0);
  const usualConcurrency = mostCommon(groups.flatMap((g) => g.best.map((b) => b.cell.concurrency)));
  const panels = groups.map((g): PanelSpec => {
    const bars = g.best.map(({ cell, value }) => barOf(cell, value, usualConcurrency));
    if (g.op !== 'LIST') return barPanel(g.title, bars, { scenarios, colours, legendTitle }, { type: 'log', domain: mbDomain }, limitMarks(limits, g.op));
    const top = Math.max(...bars.map((b) => b.value));
    return barPanel(g.title, bars, { scenarios, colours, legendTitle }, { type: 'linear', domain: [0, top * 1.25] }, []);
  });
  const measured = [...new Set(cells.map((c) => c.concurrency))].sort((a, b) => a - b);
  const m = report.machine;
  const started = report.startedAt.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Tessera bench: throughput by scenario',
      // Short lines: headless Vega estimates text widths generously, and a long line widens the SVG.
      subtitle: [
        `${m.cpuModel}, ${m.cores} cores, ${(m.memoryBytes / 1024 ** 3).toFixed(0)} GiB RAM, node ${m.nodeVersion}; commit ${m.gitCommit}${m.gitDirty ? ' (dirty)' : ''}; ${started}`,
        `Each bar: the best of the concurrencies measured (${measured.join(', ')}) for its scenario, op and size` +
          `${usualConcurrency === undefined ? '.' : `; c${usualConcurrency} unless marked cN.`}`,
        'MB/s = 10^6 bytes of object data per second, on a log scale. No bar: not measured (or failed).',
        ...(drawnLimits(limits).length > 0 ? ["Dashed red: this machine's limits, measured in the same run (write/upload on PUT, read/download on GET)."] : []),
      ],
      anchor: 'start',
      fontSize: 18,
      subtitleFontSize: 12,
      subtitlePadding: 6,
      offset: 14,
    },
    background: 'white',
    padding: 16,
    config: {
      font,
      axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e3e3e3' },
      legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 400 },
      view: { stroke: '#bbbbbb' },
    },
    concat: panels,
    columns: panelColumns,
    spacing: { row: 36, column: 44 },
    resolve: { scale: { color: 'shared', y: 'independent' }, legend: { color: 'shared' } },
  };
}

// Scenarios that have cells, in the report's order; cells naming an unlisted scenario come after.
function scenarioOrder(report: BenchReport, cells: readonly CellReport[]): string[] {
  const withCells = new Set(cells.map((c) => c.scenario));
  const ordered = report.scenarios.map((s) => s.name).filter((name) => withCells.has(name));
  return [...new Set([...ordered, ...withCells])];
}

function isPeer(report: BenchReport, name: string): boolean {
  return report.scenarios.find((s) => s.name === name)?.kind === 'peer' || name.startsWith('peer:');
}

function scenarioColours(report: BenchReport, scenarios: readonly string[]): string[] {
  let tessera = 0;
  let peer = 0;
  return scenarios.map((name) =>
    isPeer(report, name) ? (peerColours[peer++ % peerColours.length] ?? '#e6550d') : (tesseraColours[tessera++ % tesseraColours.length] ?? '#08519c'),
  );
}

// Per (scenario, size): the cell with the highest `valueOf` over the concurrencies, smallest size first.
function bestCells(cells: readonly CellReport[], op: BenchOp, valueOf: (c: CellReport) => number): Array<{ cell: CellReport; value: number }> {
  const best = new Map<string, CellReport>();
  for (const c of cells.filter((cell) => cell.op === op)) {
    const key = `${c.scenario}\u0000${c.sizeBytes}`;
    const previous = best.get(key);
    if (previous === undefined || valueOf(c) > valueOf(previous)) best.set(key, c);
  }
  return [...best.values()].sort((a, b) => a.sizeBytes - b.sizeBytes).map((cell) => ({ cell, value: valueOf(cell) }));
}

function barOf(cell: CellReport, value: number, usualConcurrency: number | undefined): Bar {
  const label = cell.concurrency === usualConcurrency ? figure(value) : `${figure(value)}\nc${cell.concurrency}`;
  return { size: sizeLabel(cell.sizeBytes), scenario: cell.scenario, value, concurrency: cell.concurrency, label };
}

function mostCommon(values: readonly number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  for (const [value, count] of counts) if (best === undefined || count > (counts.get(best) ?? 0)) best = value;
  return best;
}

function drawnLimits(limits: readonly LimitResult[]): LimitResult[] {
  return limits.filter((l) => Object.values(limitPanels).some((pattern) => pattern.test(l.id)));
}

// A panel's limits, highest first, labels alternating above and below their lines so that two close
// values do not print over each other. Labels sit at the left edge, over the smallest objects, whose
// MB/s is far below any machine limit, so they do not collide with the bars' labels.
function limitMarks(limits: readonly LimitResult[], op: BenchOp): LimitMark[] {
  const pattern = limitPanels[op];
  if (pattern === undefined) return [];
  return limits
    .filter((l) => pattern.test(l.id))
    .sort((a, b) => b.megabytesPerSecond - a.megabytesPerSecond)
    .map((l, i) => ({ value: l.megabytesPerSecond, label: `${l.id}: ${figure(l.megabytesPerSecond)} MB/s`, side: i % 2 === 0 ? 'above' : 'below' }));
}

// Powers of ten around the values, with room above the highest bar for its label.
function logDomain(values: readonly number[]): [number, number] {
  const positive = values.filter((v) => v > 0);
  if (positive.length === 0) return [0.1, 1000];
  const low = 10 ** Math.floor(Math.log10(Math.min(...positive) / 1.5));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...positive) * 1.6));
  return [low, high];
}

function powersOfTen([low, high]: [number, number]): number[] {
  const values: number[] = [];
  for (let exponent = Math.round(Math.log10(low)); exponent <= Math.round(Math.log10(high)); exponent++) values.push(10 ** exponent);
  return values;
}

function barPanel(
  title: string,
  bars: readonly Bar[],
  { scenarios, colours, legendTitle }: { scenarios: readonly string[]; colours: readonly string[]; legendTitle: string },
  scale: { type: 'log' | 'linear'; domain: [number, number] },
  limits: readonly LimitMark[],
): PanelSpec {
  const log = scale.type === 'log';
  const sizes = [...new Set(bars.map((b) => b.size))];
  const x = { field: 'size', type: 'nominal', sort: sizes, title: log ? 'object size' : 'size of the listed objects', axis: { labelAngle: 0, labelFontSize: 12 } } as const;
  const xOffset = { field: 'scenario', type: 'nominal', sort: [...scenarios], scale: { paddingInner: 0.08 } } as const;
  const y = {
    field: 'value',
    type: 'quantitative',
    scale: { type: scale.type, domain: scale.domain, nice: false },
    title: log ? 'MB/s (log scale)' : 'ops/s',
    axis: log ? { values: powersOfTen(scale.domain), format: '~g' } : { format: ',d' },
  } as const;
  // A log scale has no zero: bars start at the bottom of the domain.
  const y2 = log ? { y2: { datum: scale.domain[0] } } : {};
  const layers: Extract<PanelSpec, { layer: unknown }>['layer'] = [
    {
      data: { values: [...bars] },
      mark: { type: 'bar' },
      encoding: {
        x,
        xOffset,
        y,
        ...y2,
        color: {
          field: 'scenario',
          type: 'nominal',
          scale: { domain: [...scenarios], range: [...colours] },
          legend: { title: legendTitle, titleLimit: 800, orient: 'bottom', direction: 'horizontal', columns: 3, symbolType: 'square', symbolSize: 180, columnPadding: 24 },
        },
      },
    },
  ];
  // Vega places a multi-line text's first line at the baseline, so two-line labels move up a line.
  for (const lines of [1, 2]) {
    const labelled = bars.filter((b) => b.label.split('\n').length === lines);
    if (labelled.length === 0) continue;
    layers.push({
      data: { values: labelled },
      mark: { type: 'text', baseline: 'bottom', dy: -3 - (lines - 1) * barLabelLineHeightPx, fontSize: barLabelFontSizePx, lineHeight: barLabelLineHeightPx, lineBreak: '\n', color: '#333333' },
      encoding: { x, xOffset, y, text: { field: 'label' } },
    });
  }
  if (limits.length > 0) {
    layers.push({ data: { values: limits.map((l) => ({ ...l })) }, mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 1.5, color: limitColour }, encoding: { y: { field: 'value', type: 'quantitative' } } });
  }
  for (const side of ['above', 'below'] as const) {
    const labels = limits.filter((l) => l.side === side).map((l) => ({ ...l }));
    if (labels.length === 0) continue;
    const place = side === 'above' ? ({ baseline: 'bottom', dy: -3 } as const) : ({ baseline: 'top', dy: 3 } as const);
    layers.push({
      data: { values: labels },
      mark: { type: 'text', align: 'left', ...place, fontSize: 10, fontWeight: 'bold', color: limitColour },
      encoding: { y: { field: 'value', type: 'quantitative' }, x: { value: 4 }, text: { field: 'label' } },
    });
  }
  return {
    title: { text: title, anchor: 'start', fontSize: 14 },
    width: panelWidthPx,
    height: panelHeightPx,
    layer: layers,
  };
}

// 3 significant figures at most, no exponent: 2331, 394, 85.2, 9.5, 0.72.
function figure(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(2);
}
