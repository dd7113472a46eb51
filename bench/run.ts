// `make bench`: the machine's own limits (fsync'd file write and read, loopback HTTPS, the erasure
// codec), then for each scenario (one drive; six drives 4+2; a 6-node loopback cluster over QUIC and
// over TLS; the peer server s3rver) a fresh server, and PUT, GET, MIXED and LIST cells over object
// sizes x concurrencies; then repair after a node's disk loss and the node-to-node transport. Prints
// Markdown, writes bench/results/<timestamp>.json and an SVG chart beside it. Exits 1 when any cell,
// scenario, limit, the repair or a transport cell failed, so a broken server never yields a
// plausible-looking table.

import { Command, InvalidArgumentError, Option } from 'commander';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeChart } from './chart.js';
import { clusterNodeCount, clusterParityShards, removeCluster, startCluster, type ClusterTransport } from './cluster-process.js';
import { codecMarkdownTable, runCodecBench } from './codec.bench.js';
import { runLimits } from './limits.js';
import { BenchClient, LoadError, putObjects, runCell, type CellSpec } from './load.js';
import { peerName, peerVersion, startPeer } from './peer-process.js';
import { repairLogLines, repairMarkdownTable, runRepairBench } from './repair.bench.js';
import {
  markdownReport,
  machineInfo,
  sizeLabel,
  writeJsonReport,
  type BenchOp,
  type BenchReport,
  type CellReport,
  type CodecReport,
  type LimitsReport,
  type RepairReport,
  type ScenarioReport,
  type TransportReport,
} from './report.js';
import { machineBusyCpuSeconds, processCommandLine, ProcessWatcher, sampleProcesses, startServer } from './server-process.js';
import type { SigV4Credentials } from './sigv4-sign.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Buckets the bench writes to (created if missing): objects of the PUT/GET/MIXED cells, and LIST's. */
export const benchBucket = 'tessera-bench';
export const listBucket = 'tessera-bench-list';
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
/**
 * GET reads a set of objects of its size: the PUT cells' objects, topped up to
 * clamp(getSetBytes / size, getSetObjectsMin, getSetObjectsMax) when the PUT cells stored fewer
 * (full run, then --quick). MIXED's pool is the same set, at least mixedPoolPerWorker x concurrency.
 */
export const getSetBytes = 256 * MiB;
export const getSetObjectsMin = 4;
export const getSetObjectsMax = 256;
export const getSetBytesQuick = 32 * MiB;
export const getSetObjectsMinQuick = 2;
export const getSetObjectsMaxQuick = 32;
export const mixedPoolPerWorker = 2;
/**
 * MIXED runs at sizes up to this: its pool must hold more objects than workers (so a DELETE finds a
 * key nobody reads), and 64 x 64 MiB objects would take longer to prepare than the whole bench.
 */
export const mixedSizeBytesMax = 1 * MiB;
/** LIST lists one prefix of this many objects (one ListObjectsV2 page each) of the smallest size; --quick fewer. */
export const listObjectsDefault = 500;
export const listObjectsQuick = 100;
/** Requests in flight while preparing objects for GET, MIXED and LIST (unmeasured). */
export const prepareConcurrency = 16;
/** Verify every byte of one GET in this many; length and per-object prefix are checked on all. */
export const verifyContentEvery = 4;
/** Unmeasured 4 KiB PUT+GET pairs before a scenario's first cell (TLS, JIT, server caches). */
export const warmupOps = 32;
/** bench/transport.bench.ts arguments: full run, then --quick (bulk MiB per cell, ms per ops cell). */
export const transportBulkMib = 32;
export const transportOpsDurationMs = 1_000;
export const transportBulkMibQuick = 32;
export const transportOpsDurationMsQuick = 1_000;
/**
 * MiB the repair section writes before it loses a node's disk. Less than the standalone repair
 * bench's default (repairDataMibDefault), so the whole of `make bench` stays under 10 minutes.
 */
export const repairDataMibInBench = 256;
/** The transport bench is killed after this long. */
export const transportBenchTimeoutMs = 600_000;
/** Its stdout is kept up to this many bytes (a Markdown table, then JSON). */
const transportBenchOutputMaxBytes = 16 * MiB;

interface Options {
  quick: boolean;
  windowMs: number;
  warmupMs: number;
  sizes: number[];
  concurrency: number[];
  ops: BenchOp[];
  listObjects: number;
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
  limits: boolean;
  codec: boolean;
  transport: boolean;
  repair: boolean;
  clusterClients: ClusterClients;
}

/** Where cluster cells send requests: every node's S3 endpoint in turn, or node 1 only. */
type ClusterClients = 'round-robin' | 'node-1';

/** A server set-up the cells run against. */
export type Scenario = SingleNodeScenario | ClusterScenario | PeerScenario;

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

/** The peer server (bench/peer-process.ts) under the same load. */
export interface PeerScenario {
  kind: 'peer';
  id: string;
  name: string;
  byDefault: boolean;
}

export const benchScenarios: readonly Scenario[] = [
  { kind: 'single-node', id: '1-drive', name: 'single node, 1 drive', driveCount: 1, parityShards: undefined, byDefault: true },
  { kind: 'single-node', id: '6-drives', name: 'single node, 6 drives (4+2)', driveCount: 6, parityShards: 2, byDefault: true },
  // What inline small objects save: the same set-up with every object striped into shard files.
  { kind: 'single-node', id: '6-drives-no-inline', name: 'single node, 6 drives (4+2), no inline', driveCount: 6, parityShards: 2, inlineObjectMaxBytes: 0, byDefault: false },
  { kind: 'cluster', id: '6-nodes-quic', name: '6 nodes (4+2), QUIC', transport: 'quic', byDefault: true },
  { kind: 'cluster', id: '6-nodes-tls', name: '6 nodes (4+2), TLS', transport: 'tls', byDefault: true },
  { kind: 'peer', id: peerName, name: `peer: ${peerName} ${peerVersion()}`, byDefault: true },
];

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
  const machine = machineInfo(repoRoot, options.dataDirParent ?? tmpdir());
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
    schemaVersion: 5,
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

/** A started server set-up: where to send requests, what to sample, how to stop and clean up. */
interface StartedTarget extends Target {
  /** "s3d <version>", "s3rver 3.7.1". */
  software: string;
  /** Said once it is up: pids, endpoints, where its data and log are. */
  description: string;
  /** Stops every process; resolves with how each ended ("exit 0", "SIGKILL"). */
  stop: () => Promise<string[]>;
  /** Removes its data (keeping logs when `failed`), or says where it was kept with --keep-data. */
  cleanUp: (failed: boolean) => Promise<void>;
}

// Starts a fresh server (or cluster, or the peer) for `scenario`, runs every cell, stops it and
// removes its data. A server that does not start is the scenario's error; a skipped one says why.
async function runScenario(options: Options, scenario: Scenario, binPath: string, tessera: string, onStarted: (target: StartedTarget) => void): Promise<ScenarioRun> {
  const base = scenarioBase(scenario, tessera);
  const skipped = scenario.kind === 'single-node' && scenario.driveCount > 1 ? drivesUnsupported(binPath) : undefined;
  if (skipped !== undefined) {
    process.stderr.write(`bench: scenario "${scenario.name}" skipped: ${skipped}\n`);
    return { scenario: { ...base, skipped, error: undefined, server: undefined }, cells: [] };
  }
  process.stderr.write(`bench: scenario "${scenario.name}": starting...\n`);
  let target: StartedTarget;
  try {
    target = await startTarget(options, scenario, binPath, tessera);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" could not start: ${error}\n`);
    return { scenario: { ...base, skipped: undefined, error, server: undefined }, cells: [] };
  }
  onStarted(target);
  process.stderr.write(`bench: ${target.description}\n`);
  let cells: CellReport[] = [];
  let error: string | undefined;
  let totals: ReturnType<typeof sampleProcesses>;
  let exits: string[];
  try {
    cells = await runCells(options, scenario.name, target);
  } catch (err) {
    error = err instanceof LoadError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    process.stderr.write(`bench: scenario "${scenario.name}" failed: ${error}\n`);
  } finally {
    totals = sampleProcesses(target.pids);
    exits = await target.stop();
    await target.cleanUp(error !== undefined || cells.some((cell) => cell.error !== undefined));
  }
  const server = {
    mode: 'spawned' as const,
    endpoint: target.endpoints.map((e) => e.href).join(' '),
    pid: target.pids[0],
    pids: target.pids,
    peakRssBytes: totals?.peakRssBytes,
    peakRssSumBytes: totals?.peakRssSumBytes,
    cpuSeconds: totals?.cpuSeconds,
    exit: exits.join(', '),
  };
  return { scenario: { ...base, skipped: undefined, error, server }, cells };
}

function scenarioBase(scenario: Scenario, tessera: string): Pick<ScenarioReport, 'name' | 'kind' | 'software' | 'drives' | 'parityShards' | 'nodes' | 'transport'> {
  switch (scenario.kind) {
    case 'single-node':
      return { name: scenario.name, kind: 'tessera', software: `s3d ${tessera}`, drives: scenario.driveCount, parityShards: scenario.parityShards, nodes: undefined, transport: undefined };
    case 'cluster':
      return { name: scenario.name, kind: 'tessera', software: `s3d ${tessera}`, drives: undefined, parityShards: clusterParityShards, nodes: clusterNodeCount, transport: scenario.transport };
    case 'peer':
      return { name: scenario.name, kind: 'peer', software: `${peerName} ${peerVersion()}`, drives: 1, parityShards: undefined, nodes: undefined, transport: undefined };
  }
}

async function startTarget(options: Options, scenario: Scenario, binPath: string, tessera: string): Promise<StartedTarget> {
  const software = `s3d ${tessera}`;
  switch (scenario.kind) {
    case 'single-node': {
      const drives = await scenarioDrives(scenario, options.dataDirParent ?? tmpdir());
      const removeDrives = async (): Promise<void> => {
        if (drives.root !== undefined && !options.keepData) await rm(drives.root, { recursive: true, force: true });
      };
      const server = await startServer({ binPath, extraArgs: drives.args, accessKey: options.accessKey, secretKey: options.secretKey, dataDirParent: options.dataDirParent }).catch(async (err: unknown) => {
        await removeDrives();
        throw err;
      });
      return {
        software,
        description: `s3d server pid ${server.pid} at ${server.endpoint.href}${drives.args.length > 0 ? ` (${drives.args.join(' ')})` : ''}, data ${server.dataDir}, log ${server.logPath}`,
        endpoints: [server.endpoint],
        ca: server.ca,
        credentials: { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region },
        pids: [server.pid],
        stop: async () => [await server.stop()],
        cleanUp: async (failed) => {
          await removeWorkDir(server, options.keepData, failed);
          await removeDrives();
        },
      };
    }
    case 'cluster': {
      const cluster = await startCluster({ binPath, transport: scenario.transport, dataDirParent: options.dataDirParent });
      const endpoints = options.clusterClients === 'node-1' ? cluster.endpoints.slice(0, 1) : cluster.endpoints;
      return {
        software,
        description: `node pids ${cluster.pids.join(',')}, requests to ports ${endpoints.map((e) => e.port).join(',')} (${options.clusterClients}), dir ${cluster.dir}`,
        endpoints,
        ca: cluster.ca,
        credentials: { accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: options.region },
        pids: cluster.pids,
        stop: () => cluster.stop(),
        cleanUp: async (failed) => {
          if (options.keepData) process.stderr.write(`bench: kept ${cluster.dir}\n`);
          else await removeCluster(cluster, failed);
          if (failed && !options.keepData) process.stderr.write(`bench: cluster configs and logs kept in ${cluster.dir}\n`);
        },
      };
    }
    case 'peer': {
      const peer = await startPeer({ dataDirParent: options.dataDirParent });
      return {
        software: `${peerName} ${peerVersion()}`,
        description: `${peerName} pid ${peer.pid} at ${peer.endpoint.href}, data ${peer.dataDir}, log ${peer.logPath}`,
        endpoints: [peer.endpoint],
        ca: peer.ca,
        credentials: peer.credentials,
        pids: [peer.pid],
        stop: async () => [await peer.stop()],
        cleanUp: (failed) => removeWorkDir(peer, options.keepData, failed),
      };
    }
  }
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
  const cells = await runCells(options, name, { endpoints: [endpoint], ca, credentials, pids });
  const totals = pid === undefined ? undefined : sampleProcesses(pids);
  return {
    scenario: {
      name,
      kind: 'external',
      software: undefined,
      drives: undefined,
      parityShards: undefined,
      nodes: undefined,
      transport: undefined,
      skipped: undefined,
      error: undefined,
      server: {
        mode: 'external', endpoint: endpoint.href, pid, pids,
        peakRssBytes: totals?.peakRssBytes, peakRssSumBytes: totals?.peakRssSumBytes, cpuSeconds: totals?.cpuSeconds, exit: undefined,
      },
    },
    cells,
  };
}

async function runMachineLimits(options: Options): Promise<LimitsReport> {
  if (!options.limits) return { quick: options.quick, skipped: '--no-limits', error: undefined, results: [] };
  process.stderr.write(`bench: the machine's limits${options.quick ? ' (quick)' : ''}...\n`);
  const limits = await runLimits({ quick: options.quick, dir: options.dataDirParent });
  // A limit the machine cannot measure (e.g. no O_DIRECT) is reported under the table; it fails nothing.
  if (limits.error !== undefined) process.stderr.write(`bench: limits not measured: ${limits.error}\n`);
  return limits;
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
  const dataMib = repairDataMibInBench;
  if (!options.repair) return { quick, dataMib, skipped: '--no-repair', error: undefined, markdown: '', result: undefined };
  const run = await runRepairBench({ binPath, dataMib, dataDirParent: options.dataDirParent, keepData: options.keepData, onCluster });
  if (run.error !== undefined) process.stderr.write(`bench: repair FAILED: ${run.error}\n`);
  const markdown = run.result === undefined ? '' : [repairMarkdownTable(run.result), ...repairLogLines(run.result)].join('\n');
  return { quick, dataMib, skipped: undefined, error: run.error, markdown, result: run.result };
}

/** The codec cells that go into the limits table: Tessera's default layout (4+2) and 1 MiB shards, with the kernel the server uses. */
export const codecLimitLayout = '4+2';
export const codecLimitShardBytes = 1 * MiB;
export const codecLimitImplementation = 'simd';

// The erasure codec's ceiling beside the other limits: encode and a two-shard reconstruct, one core.
function codecLimits(codec: CodecReport): LimitsReport['results'] {
  const cells = codec.results.filter((r) => r.layout === codecLimitLayout && r.shardBytes === codecLimitShardBytes && r.implementation === codecLimitImplementation);
  return cells.map((r) => ({
    id: `codec-${r.operation === 'encode' ? 'encode' : 'reconstruct'}-${r.layout}`,
    label: `erasure ${r.operation} ${r.layout}, ${sizeLabel(r.shardBytes)} shards, one core`,
    megabytesPerSecond: r.mbPerSecond,
    detail: `${r.implementation} kernel (the server's), data-shard bytes per second, median slice; ${r.cpuMbPerSecond.toFixed(0)} MB per CPU-s; the codec section below has every layout`,
  }));
}

async function runCodec(options: Options): Promise<CodecReport> {
  if (!options.codec) return { quick: options.quick, skipped: '--no-codec', results: [] };
  // Short cells in the suite (its medians are steady at that length); `node dist/bench/codec.bench.js` runs the long ones.
  process.stderr.write('bench: erasure codec (short cells)...\n');
  return { quick: true, skipped: undefined, results: await runCodecBench({ quick: true }) };
}

// Objects can run to gigabytes, so the data dir goes unless --keep-data; the log stays when something failed.
async function removeWorkDir(server: { workDir: string; dataDir: string; logPath: string }, keepData: boolean, failed: boolean): Promise<void> {
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
  /** One: every request goes there; several: request i goes to endpoints[i mod N]. */
  endpoints: URL[];
  ca: Buffer | undefined;
  credentials: SigV4Credentials;
  /** Server processes to sample (one server, or every node); empty when unknown. */
  pids: number[];
}

/** What one scenario's cells share: the target, the run's key prefix, the cell timing. */
interface CellContext {
  options: Options;
  scenario: string;
  target: Target;
  /** Prefix of every key this scenario writes, unique per run. */
  runId: string;
}

/**
 * Per object size: PUT cells at each concurrency; GET cells over the objects the PUTs stored (topped
 * up when they stored few); MIXED cells over the same objects (sizes up to mixedSizeBytesMax). Then
 * LIST cells over one prefix of listObjects objects in their own bucket.
 */
async function runCells(options: Options, scenario: string, target: Target): Promise<CellReport[]> {
  const context: CellContext = { options, scenario, target, runId: Date.now().toString(36) };
  await warmUp(target);
  const ops = new Set(options.ops);
  const reports: CellReport[] = [];
  for (const sizeBytes of options.sizes) {
    const payload = randomBytes(sizeBytes);
    const label = sizeLabel(sizeBytes).replace(' ', '');
    const stored: string[] = [];
    const onStored = (key: string): void => {
      if (stored.length < readSetCount(sizeBytes, options.quick, Math.max(...options.concurrency))) stored.push(key);
    };
    for (const concurrency of ops.has('PUT') ? options.concurrency : []) {
      const newKey = (i: number): string => `${context.runId}/${label}/put-c${concurrency}/${i}`;
      reports.push(await measureCell(context, { ...cellSpec(context, 'PUT', sizeBytes, concurrency), newKey, onStored }, payload));
    }
    if (!ops.has('GET') && !(ops.has('MIXED') && sizeBytes <= mixedSizeBytesMax)) continue;
    const readKeys = await readSet(context, sizeBytes, payload, stored);
    for (const concurrency of ops.has('GET') ? options.concurrency : []) {
      reports.push(await measureCell(context, { ...cellSpec(context, 'GET', sizeBytes, concurrency), readKeys }, payload));
    }
    if (!ops.has('MIXED') || sizeBytes > mixedSizeBytesMax) continue;
    // One pool for the size's MIXED cells: each leaves in it exactly the objects that exist.
    const pool = [...readKeys];
    for (const concurrency of options.concurrency) {
      const newKey = (i: number): string => `${context.runId}/${label}/mixed-c${concurrency}/${i}`;
      reports.push(await measureCell(context, { ...cellSpec(context, 'MIXED', sizeBytes, concurrency), newKey, readKeys: pool }, payload));
    }
  }
  if (ops.has('LIST')) reports.push(...(await runListCells(context)));
  return reports;
}

function cellSpec(context: CellContext, op: BenchOp, sizeBytes: number, concurrency: number): CellSpec {
  const { options } = context;
  return {
    op, bucket: benchBucket, sizeBytes, concurrency, warmupMs: options.warmupMs, windowMs: options.windowMs,
    newKey: (i) => `${context.runId}/unused/${i}`, readKeys: [], onStored: undefined, verifyContentEvery,
    listPrefix: '', listKeyCount: 0,
  };
}

/**
 * How many objects GET (and MIXED) read at `sizeBytes`: clamp(getSetBytes / size, min, max) of the
 * full run or --quick, and for MIXED sizes at least mixedPoolPerWorker per worker of the largest
 * concurrency, so a DELETE finds a key nobody is reading.
 */
export function readSetCount(sizeBytes: number, quick: boolean, concurrencyMax: number): number {
  const [bytes, min, max] = quick ? [getSetBytesQuick, getSetObjectsMinQuick, getSetObjectsMaxQuick] : [getSetBytes, getSetObjectsMin, getSetObjectsMax];
  const forGet = Math.min(max, Math.max(min, Math.floor(bytes / sizeBytes)));
  return sizeBytes <= mixedSizeBytesMax ? Math.max(forGet, mixedPoolPerWorker * concurrencyMax) : forGet;
}

// The PUT cells' stored objects, topped up with fresh ones (unmeasured) to readSetCount.
async function readSet(context: CellContext, sizeBytes: number, payload: Buffer, stored: readonly string[]): Promise<string[]> {
  const count = readSetCount(sizeBytes, context.options.quick, Math.max(...context.options.concurrency));
  const keys = stored.slice(0, count);
  const label = sizeLabel(sizeBytes).replace(' ', '');
  const extra = Array.from({ length: count - keys.length }, (_, i) => `${context.runId}/${label}/read/${i}`);
  if (extra.length > 0) {
    process.stderr.write(`bench: ${context.scenario}: preparing ${extra.length} objects of ${sizeLabel(sizeBytes)} to read\n`);
    await withClient(context.target, prepareConcurrency, (client) => putObjects(client, benchBucket, extra, payload, prepareConcurrency));
  }
  return [...keys, ...extra];
}

// LIST: listObjects objects of the smallest size under one prefix of the list bucket, listed whole by each request.
async function runListCells(context: CellContext): Promise<CellReport[]> {
  const { options } = context;
  const sizeBytes = Math.min(...options.sizes);
  const payload = randomBytes(sizeBytes);
  const count = options.listObjects;
  const listPrefix = `${context.runId}/list/`;
  process.stderr.write(`bench: ${context.scenario}: preparing ${count} objects of ${sizeLabel(sizeBytes)} to list\n`);
  const keys = Array.from({ length: count }, (_, i) => `${listPrefix}${String(i).padStart(6, '0')}`);
  await withClient(context.target, prepareConcurrency, async (client) => {
    await client.createBucket(listBucket);
    await putObjects(client, listBucket, keys, payload, prepareConcurrency);
  });
  const reports: CellReport[] = [];
  for (const concurrency of options.concurrency) {
    const spec = { ...cellSpec(context, 'LIST', sizeBytes, concurrency), bucket: listBucket, listPrefix, listKeyCount: count };
    reports.push(await measureCell(context, spec, payload));
  }
  return reports;
}

async function withClient<T>(target: Target, connections: number, use: (client: BenchClient) => Promise<T>): Promise<T> {
  const client = new BenchClient({ endpoints: target.endpoints, credentials: target.credentials, ca: target.ca, connections });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

async function measureCell(context: CellContext, spec: CellSpec, payload: Buffer): Promise<CellReport> {
  const { scenario, target } = context;
  process.stderr.write(`bench: ${scenario}: ${spec.op} ${sizeLabel(spec.sizeBytes)} c${spec.concurrency}...`);
  const watcher = target.pids.length === 0 ? undefined : new ProcessWatcher(target.pids);
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusyCpuSeconds();
  watcher?.start();
  const measurement = await withClient(target, spec.concurrency, (client) => runCell(client, spec, payload));
  const server = watcher?.stop();
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineBusyCpuSeconds();
  const clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
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

// Requests go round-robin over the endpoints, so every node has served (and every TLS session is up) before the first cell.
async function warmUp(target: Target): Promise<void> {
  await withClient(target, 1, async (client) => {
    await client.createBucket(benchBucket);
    const payload = randomBytes(4 * KiB);
    const keys = Array.from({ length: warmupOps }, (_, i) => `warmup/${i}`);
    await putObjects(client, benchBucket, keys, payload, 1);
    const spec: CellSpec = {
      op: 'GET', bucket: benchBucket, sizeBytes: payload.length, concurrency: 1, warmupMs: 0, windowMs: 300,
      newKey: (i) => `warmup/${i}`, readKeys: keys, onStored: undefined, verifyContentEvery: 1, listPrefix: '', listKeyCount: 0,
    };
    const result = await runCell(client, spec, payload);
    if (result.error !== undefined) throw new LoadError(result.error.code, `warm-up GET failed: ${result.error.message}`);
  });
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
