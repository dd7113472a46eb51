// `make bench`: the machine's own limits (fsync'd file write and read, loopback HTTPS, the erasure
// codec), then for each scenario (one drive; six drives 4+2; a 6-node loopback cluster over QUIC and
// over TLS; the peer server s3rver) a fresh server, and PUT, GET, MIXED and LIST cells over object
// sizes x concurrencies; then repair after a node's disk loss and the node-to-node transport. Prints
// Markdown, writes bench/results/<timestamp>.json and an SVG chart beside it. Exits 1 when one of
// Tessera's cells or scenarios, the repair or a transport cell failed, so a broken server never
// yields a plausible-looking table (the peer's failures and unmeasurable limits are only reported). This module is the CLI and the order of the sections; the parts are in
// scenarios.ts (server set-ups), cells.ts (the cell plan) and sections.ts (limits, repair, transport, codec).

import { Command, InvalidArgumentError, Option } from 'commander';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listObjectsDefault, listObjectsQuick } from './cells.js';
import { writeChart } from './chart.js';
import { codecMarkdownTable } from './codec.bench.js';
import { LoadError } from './load.js';
import type { Options } from './options.js';
import { markdownReport, machineInfo, writeJsonReport, type BenchOp, type BenchReport, type CellReport, type ScenarioReport } from './report.js';
import { benchScenarios, runExternal, runScenario, type Scenario } from './scenarios.js';
import { findRepoRoot } from './server-process.js';
import { codecLimits, repairDataMibInBench, runCodec, runMachineLimits, runRepair, runTransport } from './sections.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A cell's measured window and the unmeasured warm-up before it, in ms: full run, then --quick. */
export const cellWindowDefaultMs = 1_500;
export const cellWarmupDefaultMs = 400;
export const cellWindowQuickMs = 500;
export const cellWarmupQuickMs = 150;
/** Object sizes, concurrencies and operations of a full run and of --quick. */
export const sizesDefault: readonly number[] = [4 * KiB, 1 * MiB, 64 * MiB];
export const concurrencyDefault: readonly number[] = [1, 16, 64];
export const concurrencyQuick: readonly number[] = [1, 16];
export const opsDefault: readonly BenchOp[] = ['PUT', 'GET', 'MIXED', 'LIST'];
/** Scenarios of --quick when --scenarios is not given: one of each kind of server. */
export const quickScenarioIds: readonly string[] = ['1-drive', '6-nodes-quic', 's3rver'];

/** Parses argv, runs the bench, returns the process exit code (0 ok, 1 some cell, scenario or section failed). */
export async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  const repoRoot = findRepoRoot();
  const startedAt = new Date().toISOString();

  let current: { stop: () => Promise<unknown> } | undefined;
  const stopOnSignal = (): void => {
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  // First, while nothing else runs: the machine's own ceilings.
  const limits = await runMachineLimits(options);
  const scenarios: ScenarioReport[] = [];
  const cells: CellReport[] = [];
  const binPath = options.serverBin ?? join(repoRoot, 'bin', 's3d');
  const machine = machineInfo(repoRoot, options.dataDirParent ?? tmpdir(), options.endpoint === undefined ? binPath : undefined);
  if (options.endpoint !== undefined) {
    const ran = await runExternal(options);
    scenarios.push(ran.scenario);
    cells.push(...ran.cells);
  } else {
    for (const scenario of selectedScenarios(options.scenarios)) {
      const ran = await runScenario(options, scenario, binPath, machine.versions['tessera'] ?? 'unknown', (server) => (current = server));
      current = undefined;
      scenarios.push(ran.scenario);
      cells.push(...ran.cells);
    }
  }
  // After the servers stopped, so repair, transport and codec have the CPU to themselves.
  const repair = await runRepair(options, binPath, (cluster) => (current = cluster));
  current = undefined;
  const transport = await runTransport(options, repoRoot);
  const codec = await runCodec(options);
  limits.results.push(...codecLimits(codec));

  // The peer's own failures are shown in the tables but fail nothing: the run judges Tessera.
  const peers = new Set(scenarios.filter((s) => s.kind === 'peer').map((s) => s.name));
  const failed =
    cells.some((cell) => cell.error !== undefined && !peers.has(cell.scenario)) ||
    scenarios.some((s) => s.error !== undefined && !peers.has(s.name)) ||
    repair.error !== undefined ||
    transport.error !== undefined;
  const resultsDir = options.resultsDir ?? join(repoRoot, 'bench', 'results');
  const report: BenchReport = {
    schemaVersion: 6,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    options: { ...options, secretKey: undefined },
    scenarios,
    cells,
    limits,
    chart: undefined,
    repair,
    transport,
    codec,
  };
  const chartPath = join(resultsDir, `${startedAt.replace(/[:.]/g, '-')}.svg`);
  if (cells.length > 0) {
    await mkdir(resultsDir, { recursive: true });
    await writeChart(report, chartPath);
    report.chart = relative(repoRoot, chartPath);
  }
  process.stdout.write(markdownReport(report, codec.skipped === undefined ? codecMarkdownTable(codec.results) : ''));
  const path = await writeJsonReport(resultsDir, report);
  process.stdout.write(`\nJSON: ${relative(repoRoot, path)}${report.chart === undefined ? '' : `\nChart: ${report.chart}`}\n`);
  return failed ? 1 : 0;
}

// Ids were checked by scenarioList; the table order is benchScenarios' order.
function selectedScenarios(ids: readonly string[]): Scenario[] {
  return benchScenarios.filter((s) => ids.includes(s.id));
}

function parseOptions(argv: string[]): Options {
  const program = new Command('bench')
    .description('S3 throughput and latency of s3d, the machine\'s limits and a peer server; Markdown to stdout, JSON and SVG to bench/results/')
    .option('--quick', `short cells, concurrency ${concurrencyQuick.join(',')}, scenarios ${quickScenarioIds.join(',')}, no repair or transport (under 2 minutes)`, false)
    .option('--window-ms <ms>', `measured window per cell (default ${cellWindowDefaultMs}, --quick ${cellWindowQuickMs})`, positiveInteger)
    .option('--warmup-ms <ms>', `unmeasured warm-up per cell (default ${cellWarmupDefaultMs}, --quick ${cellWarmupQuickMs})`, nonNegativeInteger)
    .option('--sizes <list>', 'object sizes, e.g. 4KiB,1MiB,64MiB', sizeList)
    .option('--concurrency <list>', `concurrencies (default ${concurrencyDefault.join(',')}, --quick ${concurrencyQuick.join(',')})`, integerList)
    .option('--ops <list>', `operations, of ${opsDefault.join(',')}`, opList)
    .option('--list-objects <n>', `objects under LIST's prefix (default ${listObjectsDefault}, --quick ${listObjectsQuick})`, positiveInteger)
    .option('--endpoint <url>', 'use this running server (https://host:port) instead of starting one')
    .option('--access-key <key>', 'access key (also S3D_ACCESS_KEY)', process.env['S3D_ACCESS_KEY'] ?? 'benchaccesskey')
    .option('--secret-key <key>', 'secret key (also S3D_SECRET_KEY)', process.env['S3D_SECRET_KEY'] ?? 'benchsecretkey0123456789')
    .option('--region <region>', 'SigV4 region', 'us-east-1')
    .option('--ca <pem>', 'CA or certificate PEM to trust for --endpoint')
    .option('--server-pid <pid>', 'pid of the --endpoint server, to sample its CPU and RSS', positiveInteger)
    .option('--data-dir-parent <dir>', 'where the fresh data dirs are made (default: the OS temp dir)')
    .option('--keep-data', 'keep the spawned servers\' data dirs', false)
    .option('--workers <n>', 'S3 gateway processes of every s3d started (default: the server\'s, one per core)', positiveInteger)
    .option('--server-bin <path>', 'executable started as `<path> server ...` (default: bin/s3d; e.g. an older build)')
    .option('--results-dir <dir>', 'where the JSON and SVG go (default: bench/results)')
    .option('--scenarios <list>', `server set-ups to measure, of ${benchScenarios.map((sc) => sc.id).join(', ')} (ignored with --endpoint)`, scenarioList)
    .option('--no-limits', 'skip the machine\'s limits (file write/read, loopback HTTPS)')
    .option('--no-codec', 'skip the erasure codec table')
    .option('--no-transport', 'skip the node-to-node transport table (bench/transport.bench.ts)')
    .option('--no-repair', `skip the repair section (bench/repair.bench.ts: ${repairDataMibInBench} MiB, one node's disk lost and healed)`)
    .addOption(
      new Option('--cluster-clients <how>', 'cluster scenarios: send requests to every node in turn, or to node 1 only')
        .choices(['round-robin', 'node-1'])
        .default('round-robin'),
    );
  program.parse(argv);
  const given = program.opts<Partial<Options>>();
  const quick = given.quick === true;
  return {
    ...(given as Options),
    windowMs: given.windowMs ?? (quick ? cellWindowQuickMs : cellWindowDefaultMs),
    warmupMs: given.warmupMs ?? (quick ? cellWarmupQuickMs : cellWarmupDefaultMs),
    sizes: given.sizes ?? [...sizesDefault],
    concurrency: given.concurrency ?? [...(quick ? concurrencyQuick : concurrencyDefault)],
    ops: given.ops ?? [...opsDefault],
    listObjects: given.listObjects ?? (quick ? listObjectsQuick : listObjectsDefault),
    scenarios: given.scenarios ?? benchScenarios.filter((sc) => (quick ? quickScenarioIds.includes(sc.id) : sc.byDefault)).map((sc) => sc.id),
    // --quick leaves out the two slow sections.
    repair: !quick && given.repair !== false,
    transport: !quick && given.transport !== false,
  };
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0');
  return n;
}

function opList(value: string): BenchOp[] {
  return value.split(',').map((item) => {
    const op = item.trim().toUpperCase();
    if (!(opsDefault as readonly string[]).includes(op)) throw new InvalidArgumentError(`unknown operation "${item}" (known: ${opsDefault.join(', ')})`);
    return op as BenchOp;
  });
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function scenarioList(value: string): string[] {
  const ids = value.split(',').map((item) => item.trim()).filter((item) => item !== '');
  for (const id of ids) {
    if (!benchScenarios.some((s) => s.id === id)) throw new InvalidArgumentError(`unknown scenario "${id}" (known: ${benchScenarios.map((s) => s.id).join(', ')})`);
  }
  return ids;
}

function integerList(value: string): number[] {
  return value.split(',').map(positiveInteger);
}

function sizeList(value: string): number[] {
  return value.split(',').map((item) => {
    const match = /^(\d+)\s*(B|KiB|MiB)?$/.exec(item.trim());
    if (match === null) throw new InvalidArgumentError(`bad size "${item}" (e.g. 4KiB, 1MiB)`);
    const unit = match[2] === 'MiB' ? MiB : match[2] === 'KiB' ? KiB : 1;
    return Number(match[1]) * unit;
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      // A LoadError is the server misbehaving (its message says how); anything else is a bench bug, so show the stack.
      const text = err instanceof LoadError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`bench: ${text}\n`);
      process.exit(2);
    },
  );
}
