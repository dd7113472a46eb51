// `make bench`: per scenario (one drive; six drives 4+2; a 6-node loopback cluster over QUIC and over
// TLS) starts a fresh `s3d server` or cluster (or uses --endpoint), runs PUT then GET cells over object
// sizes x concurrencies; then repair after a node's disk loss, the node-to-node transport bench and the
// erasure codec cells. Prints Markdown tables and writes bench/results/<timestamp>.json. Exits 1 when
// any cell, scenario, the repair or a transport cell failed, so a broken server never yields a
// plausible-looking table.

import { Command, InvalidArgumentError, Option } from 'commander';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { clusterNodeCount, clusterParityShards, removeCluster, RoundRobinClient, startCluster, type ClusterTransport, type SpawnedCluster } from './cluster-process.js';
import { codecMarkdownTable, runCodecBench } from './codec.bench.js';
import { repairDataMibDefault, repairDataMibQuick, repairLogLines, repairMarkdownTable, runRepairBench } from './repair.bench.js';
import { BenchClient, LoadError, runCell, type CellSpec } from './load.js';
import {
  markdownReport,
  machineInfo,
  sizeLabel,
  writeJsonReport,
  type BenchReport,
  type CellReport,
  type CodecReport,
  type RepairReport,
  type ScenarioReport,
  type TransportReport,
} from './report.js';
import { machineBusyCpuSeconds, processCommandLine, ProcessWatcher, sampleProcess, sampleProcesses, startServer, type SpawnedServer } from './server-process.js';
import type { SigV4Credentials } from './sigv4-sign.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bucket the bench writes to (created if missing). */
export const benchBucket = 'tessera-bench';
/** Per-cell duration of the full run and of --quick, in ms. */
export const cellDurationDefaultMs = 8_000;
export const cellDurationQuickMs = 1_500;
/** Objects at or above this size are bounded by count; their time cap is this many cell durations. */
export const largeObjectMinBytes = 16 * MiB;
export const largeObjectDurationFactor = 4;
/** Large-object PUTs per worker in a cell, and the least per cell (GETs read as many): full run, then --quick. */
export const largeObjectOpsPerWorker = 2;
export const largeObjectOpsMin = 8;
export const largeObjectOpsPerWorkerQuick = 1;
export const largeObjectOpsMinQuick = 2;
/** Upper bound on requests in one small-object cell; the duration normally ends it first. */
export const smallObjectOpsMax = 1_000_000;
/** Verify every byte of one GET in this many; length and per-object prefix are checked on all. */
export const verifyContentEvery = 4;
/** Unmeasured 4 KiB PUT+GET pairs before the first cell (TLS, JIT, server caches). */
export const warmupOps = 32;
/** Cluster scenarios' sizes and concurrencies when --sizes / --concurrency are not given (issue 4: 64 MiB MB/s, 4 KiB ops/s). */
export const clusterSizesDefault: readonly number[] = [4 * KiB, 64 * MiB];
export const clusterConcurrencyDefault: readonly number[] = [1, 16];
/** bench/transport.bench.ts arguments: full run, then --quick (bulk MiB per cell, ms per ops cell). */
export const transportBulkMib = 256;
export const transportOpsDurationMs = 3_000;
export const transportBulkMibQuick = 32;
export const transportOpsDurationMsQuick = 1_000;
/** The transport bench is killed after this long. */
export const transportBenchTimeoutMs = 600_000;
/** Its stdout is kept up to this many bytes (a Markdown table, then JSON). */
const transportBenchOutputMaxBytes = 16 * MiB;

interface Options {
  quick: boolean;
  durationMs: number | undefined;
  sizes: number[];
  concurrency: number[];
  endpoint: string | undefined;
  accessKey: string;
  secretKey: string;
  region: string;
  ca: string | undefined;
  serverPid: number | undefined;
  dataDirParent: string | undefined;
  keepData: boolean;
  serverBin: string | undefined;
  resultsDir: string | undefined;
  scenarios: string[];
  codec: boolean;
  transport: boolean;
  repair: boolean;
  clusterClients: ClusterClients;
  /** True when --sizes / --concurrency were given: cluster scenarios then use them too. */
  sizesGiven: boolean;
  concurrencyGiven: boolean;
}

/** Where cluster cells send requests: every node's S3 endpoint in turn, or node 1 only. */
type ClusterClients = 'round-robin' | 'node-1';

/** A server set-up the PUT/GET cells run against. */
export type Scenario = SingleNodeScenario | ClusterScenario;

/** One `s3d server` process. */
export interface SingleNodeScenario {
  kind: 'single-node';
  /** Name on the command line (--scenarios). */
  id: string;
  /** Name in the tables and JSON. */
  name: string;
  /** Drive dirs given with --drives; 1 means no --drives (the server's DATA/drive-1). */
  driveCount: number;
  /** --parity with --drives; undefined: not passed. */
  parityShards: number | undefined;
  /** inlineObjectMaxBytes given through a generated --config file; undefined: the default (128 KiB). */
  inlineObjectMaxBytes?: number;
  /** Part of a plain `make bench`; others run only when named with --scenarios. */
  byDefault: boolean;
}

/** A clusterNodeCount-node loopback cluster (one shard per node) made by `s3d cluster init`. */
export interface ClusterScenario {
  kind: 'cluster';
  id: string;
  name: string;
  transport: ClusterTransport;
  byDefault: boolean;
}

export const benchScenarios: readonly Scenario[] = [
  { kind: 'single-node', id: '1-drive', name: 'single node, 1 drive', driveCount: 1, parityShards: undefined, byDefault: true },
  { kind: 'single-node', id: '6-drives', name: 'single node, 6 drives (4+2)', driveCount: 6, parityShards: 2, byDefault: true },
  // What inline small objects save: the same set-up with every object striped into shard files.
  { kind: 'single-node', id: '6-drives-no-inline', name: 'single node, 6 drives (4+2), no inline', driveCount: 6, parityShards: 2, inlineObjectMaxBytes: 0, byDefault: false },
  { kind: 'cluster', id: '6-nodes-quic', name: '6 nodes (4+2), QUIC', transport: 'quic', byDefault: true },
  { kind: 'cluster', id: '6-nodes-tls', name: '6 nodes (4+2), TLS', transport: 'tls', byDefault: true },
];

/** Parses argv, runs the bench, returns the process exit code (0 ok, 1 some cell or scenario failed). */
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

  const scenarios: ScenarioReport[] = [];
  const cells: CellReport[] = [];
  const binPath = options.serverBin ?? join(repoRoot, 'bin', 's3d');
  if (options.endpoint !== undefined) {
    const ran = await runExternal(options);
    scenarios.push(ran.scenario);
    cells.push(...ran.cells);
  } else {
    for (const scenario of selectedScenarios(options.scenarios)) {
      if (scenario.kind === 'cluster') {
        const ran = await runCluster(options, scenario, binPath, (cluster) => (current = cluster));
        current = undefined;
        scenarios.push(ran.scenario);
        cells.push(...ran.cells);
        continue;
      }
      const skipped = scenario.driveCount > 1 ? drivesUnsupported(binPath) : undefined;
      if (skipped !== undefined) {
        process.stderr.write(`bench: scenario "${scenario.name}" skipped: ${skipped}\n`);
        scenarios.push({ name: scenario.name, drives: scenario.driveCount, parityShards: scenario.parityShards, nodes: undefined, transport: undefined, skipped, error: undefined, server: undefined });
        continue;
      }
      const ran = await runSpawned(options, scenario, binPath, (server) => (current = server));
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

  const failed =
    cells.some((cell) => cell.error !== undefined) || scenarios.some((s) => s.error !== undefined) || repair.error !== undefined || transport.error !== undefined;
  const report: BenchReport = {
    schemaVersion: 4,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(repoRoot, options.dataDirParent ?? tmpdir()),
    options: { ...options, secretKey: undefined },
    scenarios,
    cells,
    repair,
    transport,
    codec,
  };
  process.stdout.write(markdownReport(report, codec.skipped === undefined ? codecMarkdownTable(codec.results) : ''));
  const path = await writeJsonReport(options.resultsDir ?? join(repoRoot, 'bench', 'results'), report);
  process.stdout.write(`\nJSON: ${path}\n`);
  return failed ? 1 : 0;
}

// Ids were checked by scenarioList; the table order is benchScenarios' order.
function selectedScenarios(ids: readonly string[]): Scenario[] {
  return benchScenarios.filter((s) => ids.includes(s.id));
}

// A build without erasure coding across drives has no --drives; its help says so.
function drivesUnsupported(binPath: string): string | undefined {
  try {
    const help = execFileSync(process.execPath, [binPath, 'server', '--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return help.includes('--drives') ? undefined : `\`${binPath} server --help\` has no --drives (this build cannot spread shards over drives)`;
  } catch (err) {
    return `\`${binPath} server --help\` failed: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** --drives D1..Dn [--parity M] for `scenario`, its drive dirs made fresh under `parent`; none for 1 drive. */
async function scenarioDrives(scenario: SingleNodeScenario, parent: string): Promise<{ args: string[]; root: string | undefined }> {
  if (scenario.driveCount === 1 && scenario.inlineObjectMaxBytes === undefined) return { args: [], root: undefined };
  const root = await mkdtemp(join(parent, 'tessera-bench-drives-'));
  const args: string[] = [];
  if (scenario.driveCount > 1) {
    const drives = Array.from({ length: scenario.driveCount }, (_, i) => join(root, `d${i + 1}`));
    for (const drive of drives) await mkdir(drive);
    args.push('--drives', drives.join(','));
    if (scenario.parityShards !== undefined) args.push('--parity', String(scenario.parityShards));
  }
  if (scenario.inlineObjectMaxBytes !== undefined) {
    const config = join(root, 's3d.yaml');
    await writeFile(config, `inlineObjectMaxBytes: ${scenario.inlineObjectMaxBytes}\n`);
    args.push('--config', config);
  }
  return { args, root };
}

interface ScenarioRun {
  scenario: ScenarioReport;
  cells: CellReport[];
}

// Starts a fresh server for `scenario`, runs every cell, stops it, removes its data (and drives).
async function runSpawned(options: Options, scenario: SingleNodeScenario, binPath: string, onServer: (server: SpawnedServer) => void): Promise<ScenarioRun> {
  const parent = options.dataDirParent ?? tmpdir();
  const drives = await scenarioDrives(scenario, parent);
  const base = { name: scenario.name, drives: scenario.driveCount, parityShards: scenario.parityShards, nodes: undefined, transport: undefined, skipped: undefined };
  process.stderr.write(`bench: scenario "${scenario.name}": starting s3d server${drives.args.length > 0 ? ` ${drives.args.join(' ')}` : ''}...\n`);
  let server: SpawnedServer;
  try {
    server = await startServer({ binPath, extraArgs: drives.args, accessKey: options.accessKey, secretKey: options.secretKey, dataDirParent: options.dataDirParent });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" could not start: ${error}\n`);
    if (drives.root !== undefined) await rm(drives.root, { recursive: true, force: true });
    return { scenario: { ...base, error, server: undefined }, cells: [] };
  }
  onServer(server);
  process.stderr.write(`bench: server pid ${server.pid} at ${server.endpoint.href}, data ${server.dataDir}, log ${server.logPath}\n`);
  const credentials: SigV4Credentials = { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region };
  let cells: CellReport[] = [];
  let error: string | undefined;
  let totals: ReturnType<typeof sampleProcess>;
  let exit: string;
  try {
    cells = await runCells(options, scenario.name, { endpoints: [server.endpoint], ca: server.ca, credentials, pids: [server.pid] }, cellPlan(options, scenario));
  } catch (err) {
    error = err instanceof LoadError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" failed: ${error}\n`);
  } finally {
    totals = sampleProcess(server.pid);
    exit = await server.stop();
    const failed = error !== undefined || cells.some((cell) => cell.error !== undefined);
    await cleanUp(server, options.keepData, failed);
    if (drives.root !== undefined && !options.keepData) await rm(drives.root, { recursive: true, force: true });
  }
  const serverReport = {
    mode: 'spawned' as const, endpoint: server.endpoint.href, pid: server.pid, pids: [server.pid],
    peakRssBytes: totals?.peakRssBytes, peakRssSumBytes: totals?.peakRssBytes, cpuSeconds: totals?.cpuSeconds, exit,
  };
  return { scenario: { ...base, error, server: serverReport }, cells };
}

// --endpoint: one scenario against a server someone else runs.
async function runExternal(options: Options): Promise<ScenarioRun> {
  const endpoint = new URL(options.endpoint ?? '');
  const ca = options.ca === undefined ? undefined : readFileSync(options.ca);
  const pid = options.serverPid;
  if (pid !== undefined) warnIfNotServer(pid);
  const credentials: SigV4Credentials = { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region };
  const name = 'external';
  const pids = pid === undefined ? [] : [pid];
  const cells = await runCells(options, name, { endpoints: [endpoint], ca, credentials, pids }, { sizes: options.sizes, concurrency: options.concurrency });
  const totals = pid === undefined ? undefined : sampleProcess(pid);
  return {
    scenario: {
      name,
      drives: undefined,
      parityShards: undefined,
      nodes: undefined,
      transport: undefined,
      skipped: undefined,
      error: undefined,
      server: {
        mode: 'external', endpoint: endpoint.href, pid, pids,
        peakRssBytes: totals?.peakRssBytes, peakRssSumBytes: totals?.peakRssBytes, cpuSeconds: totals?.cpuSeconds, exit: undefined,
      },
    },
    cells,
  };
}

// Makes and starts a fresh cluster for `scenario`, runs every cell, stops the nodes, removes the dir
// (keeping configs and logs when something failed). A cluster that does not start is the scenario's error.
async function runCluster(options: Options, scenario: ClusterScenario, binPath: string, onCluster: (cluster: SpawnedCluster) => void): Promise<ScenarioRun> {
  const base = { name: scenario.name, drives: undefined, parityShards: clusterParityShards, nodes: clusterNodeCount, transport: scenario.transport, skipped: undefined };
  process.stderr.write(`bench: scenario "${scenario.name}": starting a ${clusterNodeCount}-node cluster over ${scenario.transport}...\n`);
  let cluster: SpawnedCluster;
  try {
    cluster = await startCluster({ binPath, transport: scenario.transport, dataDirParent: options.dataDirParent });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" could not start: ${error}\n`);
    return { scenario: { ...base, error, server: undefined }, cells: [] };
  }
  onCluster(cluster);
  const endpoints = options.clusterClients === 'node-1' ? cluster.endpoints.slice(0, 1) : cluster.endpoints;
  process.stderr.write(`bench: node pids ${cluster.pids.join(',')}, requests to ${endpoints.map((e) => e.port).join(',')} (${options.clusterClients}), dir ${cluster.dir}\n`);
  const credentials: SigV4Credentials = { accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: options.region };
  let cells: CellReport[] = [];
  let error: string | undefined;
  let totals: ReturnType<typeof sampleProcesses>;
  let exits: string[];
  try {
    cells = await runCells(options, scenario.name, { endpoints, ca: cluster.ca, credentials, pids: cluster.pids }, cellPlan(options, scenario));
  } catch (err) {
    error = err instanceof LoadError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" failed: ${error}\n`);
  } finally {
    totals = sampleProcesses(cluster.pids);
    exits = await cluster.stop();
    const failed = error !== undefined || cells.some((cell) => cell.error !== undefined);
    if (options.keepData) process.stderr.write(`bench: kept ${cluster.dir}\n`);
    else await removeCluster(cluster, failed);
    if (failed && !options.keepData) process.stderr.write(`bench: cluster configs and logs kept in ${cluster.dir}\n`);
  }
  const server = {
    mode: 'spawned' as const,
    endpoint: endpoints.map((e) => e.href).join(' '),
    pid: cluster.pids[0],
    pids: cluster.pids,
    peakRssBytes: totals?.peakRssBytes,
    peakRssSumBytes: totals?.peakRssSumBytes,
    cpuSeconds: totals?.cpuSeconds,
    exit: exits.join(', '),
  };
  return { scenario: { ...base, error, server }, cells };
}

/**
 * Hook for bench/transport.bench.ts (QUIC and TLS between two processes). That module runs its own
 * main() on import and exports nothing, so it runs as a child process (dist/bench/transport.bench.js):
 * its stdout is a Markdown table, then a JSON document with `cells[]`. A cell named "failed" or a
 * non-zero exit is this section's error (the run exits 1); a missing module is a skip.
 */
async function runTransport(options: Options, repoRoot: string): Promise<TransportReport> {
  const quick = options.quick;
  if (!options.transport) return { quick, skipped: '--no-transport', error: undefined, markdown: '', result: undefined };
  const script = join(repoRoot, 'dist', 'bench', 'transport.bench.js');
  if (!existsSync(script)) return { quick, skipped: `${script} not built`, error: undefined, markdown: '', result: undefined };
  const bulkMib = quick ? transportBulkMibQuick : transportBulkMib;
  const opsDurationMs = quick ? transportOpsDurationMsQuick : transportOpsDurationMs;
  process.stderr.write(`bench: node-to-node transport (${bulkMib} MiB bulk, ${opsDurationMs} ms ops cells)...\n`);
  const args = [script, '--transport', 'all', '--bulk-mib', String(bulkMib), '--ops-duration-ms', String(opsDurationMs)];
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, args, { timeout: transportBenchTimeoutMs, maxBuffer: transportBenchOutputMaxBytes }));
  } catch (err) {
    const failure = err as { stdout?: string; stderr?: string; message: string };
    const detail = (failure.stderr ?? '').trim().split('\n').slice(-5).join(' ');
    const error = `transport.bench.js failed: ${failure.message.split('\n')[0]}${detail === '' ? '' : `: ${detail}`}`;
    return { quick, skipped: undefined, error, markdown: transportMarkdown(failure.stdout ?? ''), result: undefined };
  }
  const markdown = transportMarkdown(stdout);
  const result = transportJson(stdout);
  return { quick, skipped: undefined, error: transportError(result), markdown, result };
}

// transport.bench.ts catches a transport's failure and reports it as a cell named "failed" (exit 0).
function transportError(result: TransportReport['result']): string | undefined {
  if (result === undefined) return 'transport.bench.js printed no JSON document';
  const failed = result.cells.filter((cell) => cell.cell === 'failed');
  if (failed.length === 0) return undefined;
  return `transport.bench.js: ${failed.map((cell) => `${cell.transport}: ${(cell.note ?? '').split('\n')[0]}`).join('; ')}`;
}

// The table is everything before the JSON document, which starts at the first line that is "{".
function transportMarkdown(stdout: string): string {
  const at = stdout.search(/^\{$/m);
  return (at < 0 ? stdout : stdout.slice(0, at)).trim();
}

function transportJson(stdout: string): TransportReport['result'] {
  const at = stdout.search(/^\{$/m);
  if (at < 0) return undefined;
  try {
    const parsed = JSON.parse(stdout.slice(at)) as { cells?: unknown };
    return Array.isArray(parsed.cells) ? (parsed as TransportReport['result']) : undefined;
  } catch {
    return undefined;
  }
}

/** bench/repair.bench.ts in this process: a fresh cluster of its own, one node's disk lost, `s3d admin heal --wait`. */
async function runRepair(options: Options, binPath: string, onCluster: (cluster: { stop: () => Promise<unknown> }) => void): Promise<RepairReport> {
  const quick = options.quick;
  const dataMib = quick ? repairDataMibQuick : repairDataMibDefault;
  if (!options.repair) return { quick, dataMib, skipped: '--no-repair', error: undefined, markdown: '', result: undefined };
  const run = await runRepairBench({ binPath, dataMib, dataDirParent: options.dataDirParent, keepData: options.keepData, onCluster });
  if (run.error !== undefined) process.stderr.write(`bench: repair FAILED: ${run.error}\n`);
  const markdown = run.result === undefined ? '' : [repairMarkdownTable(run.result), ...repairLogLines(run.result)].join('\n');
  return { quick, dataMib, skipped: undefined, error: run.error, markdown, result: run.result };
}

async function runCodec(options: Options): Promise<CodecReport> {
  if (!options.codec) return { quick: options.quick, skipped: '--no-codec', results: [] };
  process.stderr.write(`bench: erasure codec${options.quick ? ' (quick)' : ''}...\n`);
  return { quick: options.quick, skipped: undefined, results: await runCodecBench({ quick: options.quick }) };
}

// Objects can run to gigabytes, so the data dir goes unless --keep-data; the server log stays when something failed.
async function cleanUp(server: SpawnedServer, keepData: boolean, failed: boolean): Promise<void> {
  if (keepData) {
    process.stderr.write(`bench: kept ${server.workDir}\n`);
  } else if (failed) {
    await rm(server.dataDir, { recursive: true, force: true });
    process.stderr.write(`bench: server log kept at ${server.logPath}\n`);
  } else {
    await rm(server.workDir, { recursive: true, force: true });
  }
}

// A wrong --server-pid (e.g. a wrapper shell's) would silently report that process's CPU and RSS.
function warnIfNotServer(pid: number): void {
  const commandLine = processCommandLine(pid);
  if (commandLine === undefined || !/\bserver\b/.test(commandLine)) {
    process.stderr.write(`bench: warning: --server-pid ${pid} is "${commandLine ?? 'not readable'}", not an s3d server; its CPU and RSS are reported\n`);
  }
}

interface Target {
  /** One: every request goes there; several: request i goes to endpoints[i mod N] (RoundRobinClient). */
  endpoints: URL[];
  ca: Buffer | undefined;
  credentials: SigV4Credentials;
  /** Server processes to sample (one server, or every node); empty when unknown. */
  pids: number[];
}

/** Object sizes (bytes) and concurrencies a scenario's cells run over. */
interface CellPlan {
  sizes: readonly number[];
  concurrency: readonly number[];
}

// Cluster scenarios default to fewer cells (start-up of six nodes is the costly part); --sizes/--concurrency apply to all.
function cellPlan(options: Options, scenario: Scenario): CellPlan {
  if (scenario.kind === 'single-node') return { sizes: options.sizes, concurrency: options.concurrency };
  return {
    sizes: options.sizesGiven ? options.sizes : clusterSizesDefault,
    concurrency: options.concurrencyGiven ? options.concurrency : clusterConcurrencyDefault,
  };
}

// For each size and concurrency: a PUT cell, then a GET cell over the objects that PUT wrote.
async function runCells(options: Options, scenario: string, target: Target, plan: CellPlan): Promise<CellReport[]> {
  await warmUp(target);
  const runId = Date.now().toString(36);
  const reports: CellReport[] = [];
  for (const sizeBytes of plan.sizes) {
    const payload = randomBytes(sizeBytes);
    for (const concurrency of plan.concurrency) {
      const keyOf = (index: number): string => `${runId}/${sizeLabel(sizeBytes).replace(' ', '')}-c${concurrency}/${index}`;
      const limits = cellLimits(options, sizeBytes, concurrency);
      const base = { bucket: benchBucket, sizeBytes, concurrency, keyOf, verifyContentEvery, ...limits };
      const put = await measureCell(scenario, target, { ...base, op: 'PUT', keyCount: 0 }, payload);
      reports.push(put);
      if (put.ops === 0) continue;
      reports.push(await measureCell(scenario, target, { ...base, op: 'GET', keyCount: put.ops }, payload));
    }
  }
  return reports;
}

function cellLimits(options: Options, sizeBytes: number, concurrency: number): { durationMs: number; opsMax: number } {
  const durationMs = options.durationMs ?? (options.quick ? cellDurationQuickMs : cellDurationDefaultMs);
  if (sizeBytes < largeObjectMinBytes) return { durationMs, opsMax: smallObjectOpsMax };
  const perWorker = options.quick ? largeObjectOpsPerWorkerQuick : largeObjectOpsPerWorker;
  const opsMin = options.quick ? largeObjectOpsMinQuick : largeObjectOpsMin;
  return { durationMs: durationMs * largeObjectDurationFactor, opsMax: Math.max(opsMin, concurrency * perWorker) };
}

async function measureCell(scenario: string, target: Target, spec: CellSpec, payload: Buffer): Promise<CellReport> {
  const label = `${scenario}: ${spec.op} ${sizeLabel(spec.sizeBytes)} c${spec.concurrency}`;
  process.stderr.write(`bench: ${label}...`);
  const client = benchClient(target, spec.concurrency);
  const watcher = target.pids.length === 0 ? undefined : new ProcessWatcher(target.pids);
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusyCpuSeconds();
  watcher?.start();
  const measurement = await runCell(client, spec, payload);
  const server = watcher?.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineBusyCpuSeconds();
  const clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
  client.close();
  process.stderr.write(
    measurement.error === undefined
      ? ` ${measurement.ops} ops, ${measurement.megabytesPerSecond.toFixed(1)} MB/s\n`
      : ` FAILED after ${measurement.ops} ops: ${measurement.error.message}\n`,
  );
  return {
    scenario,
    op: spec.op,
    sizeBytes: spec.sizeBytes,
    concurrency: spec.concurrency,
    ...measurement,
    serverProcesses: target.pids.length === 0 ? undefined : target.pids.length,
    serverCpuSeconds: server?.cpuSeconds,
    serverPeakRssBytes: server?.peakRssBytes,
    serverPeakRssSumBytes: server?.peakRssSumBytes,
    clientCpuSeconds,
    otherCpuSeconds:
      machineBefore === undefined || machineAfter === undefined
        ? undefined
        : Math.max(0, machineAfter - machineBefore - clientCpuSeconds - (server?.cpuSeconds ?? 0)),
  };
}

// A client of `maxSockets` sockets per endpoint; over several endpoints, requests take turns.
function benchClient(target: Target, maxSockets: number): BenchClient {
  const options = { credentials: target.credentials, ca: target.ca, maxSockets };
  const [first] = target.endpoints;
  if (target.endpoints.length === 1 && first !== undefined) return new BenchClient({ ...options, endpoint: first });
  return new RoundRobinClient(target.endpoints, options);
}

// Warm-up goes round-robin too, so every node has served (and every TLS session is up) before the first cell.
async function warmUp(target: Target): Promise<void> {
  const client = benchClient(target, 1);
  try {
    await client.createBucket(benchBucket);
    const payload = randomBytes(4 * KiB);
    const keyOf = (index: number): string => `warmup/${index}`;
    const base = { bucket: benchBucket, sizeBytes: payload.length, concurrency: 1, keyOf, verifyContentEvery: 1, durationMs: 30_000, opsMax: warmupOps };
    for (const op of ['PUT', 'GET'] as const) {
      const result = await runCell(client, { ...base, op, keyCount: warmupOps }, payload);
      if (result.error !== undefined) throw new LoadError(result.error.code, `warm-up ${op} failed: ${result.error.message}`);
    }
  } finally {
    client.close();
  }
}

function parseOptions(argv: string[]): Options {
  const program = new Command('bench')
    .description('PUT/GET throughput and latency of s3d; Markdown to stdout, JSON to bench/results/')
    .option('--quick', 'short cells and few large objects (about a minute)', false)
    .option('--duration-ms <ms>', `per-cell duration (default ${cellDurationDefaultMs}, --quick ${cellDurationQuickMs})`, positiveInteger)
    .option('--sizes <list>', 'object sizes, e.g. 4KiB,1MiB,64MiB', sizeList, [4 * KiB, 1 * MiB, 64 * MiB])
    .option('--concurrency <list>', 'concurrencies, e.g. 1,16', integerList, [1, 16])
    .option('--endpoint <url>', 'use this running server (https://host:port) instead of starting one')
    .option('--access-key <key>', 'access key (also S3D_ACCESS_KEY)', process.env['S3D_ACCESS_KEY'] ?? 'benchaccesskey')
    .option('--secret-key <key>', 'secret key (also S3D_SECRET_KEY)', process.env['S3D_SECRET_KEY'] ?? 'benchsecretkey0123456789')
    .option('--region <region>', 'SigV4 region', 'us-east-1')
    .option('--ca <pem>', 'CA or certificate PEM to trust for --endpoint')
    .option('--server-pid <pid>', 'pid of the --endpoint server, to sample its CPU and RSS', positiveInteger)
    .option('--data-dir-parent <dir>', 'where the fresh data dir is made (default: the OS temp dir)')
    .option('--keep-data', 'keep the spawned server data dir', false)
    .option('--server-bin <path>', 'executable started as `<path> server ...` (default: bin/s3d; e.g. an older build)')
    .option('--results-dir <dir>', 'where the JSON goes (default: bench/results)')
    .option('--scenarios <list>', `server set-ups to measure, of ${benchScenarios.map((sc) => sc.id).join(', ')} (ignored with --endpoint)`, scenarioList, benchScenarios.filter((sc) => sc.byDefault).map((sc) => sc.id))
    .option('--no-codec', 'skip the erasure codec table')
    .option('--no-transport', 'skip the node-to-node transport table (bench/transport.bench.ts)')
    .option('--no-repair', `skip the repair section (bench/repair.bench.ts: ${repairDataMibDefault} MiB, --quick ${repairDataMibQuick} MiB, one node's disk lost and healed)`)
    .addOption(
      new Option('--cluster-clients <how>', 'cluster scenarios: send requests to every node in turn, or to node 1 only')
        .choices(['round-robin', 'node-1'])
        .default('round-robin'),
    );
  program.parse(argv);
  return {
    ...program.opts<Omit<Options, 'sizesGiven' | 'concurrencyGiven'>>(),
    sizesGiven: program.getOptionValueSource('sizes') === 'cli',
    concurrencyGiven: program.getOptionValueSource('concurrency') === 'cli',
  };
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

// The directory holding package.json above this module (dist/bench/run.js or bench/run.ts).
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('bench: package.json not found above the bench module');
    dir = parent;
  }
  return dir;
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
