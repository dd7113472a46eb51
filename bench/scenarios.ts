// The server set-ups the cells run against: one s3d (1 or 6 drives), a 6-node cluster over QUIC or
// TLS, the peer s3rver, or an --endpoint someone else runs. Each spawned set-up is fresh and is
// stopped and removed after its cells, also when they fail.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCells, type Target } from './cells.js';
import { clusterNodeCount, clusterParityShards, removeCluster, startCluster, type ClusterTransport } from './cluster-process.js';
import { LoadError } from './load.js';
import type { Options } from './options.js';
import { peerName, peerVersion, startPeer } from './peer-process.js';
import type { CellReport, ScenarioReport } from './report.js';
import { processCommandLine, sampleProcesses, startServer, withDescendants } from './server-process.js';
import type { SigV4Credentials } from './sigv4-sign.js';

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
  // Plain TCP for trusted networks: not in the default run (each cluster scenario costs minutes); --scenarios 6-nodes-tcp.
  { kind: 'cluster', id: '6-nodes-tcp', name: '6 nodes (4+2), TCP', transport: 'tcp', byDefault: false },
  { kind: 'peer', id: peerName, name: `peer: ${peerName} ${peerVersion()}`, byDefault: true },
];

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

export interface ScenarioRun {
  scenario: ScenarioReport;
  cells: CellReport[];
}

/** A started server set-up: where to send requests, what to sample, how to stop and clean up. */
export interface StartedTarget extends Target {
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
export async function runScenario(options: Options, scenario: Scenario, binPath: string, tessera: string, onStarted: (target: StartedTarget) => void): Promise<ScenarioRun> {
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
    totals = sampleProcesses(withDescendants(target.pids));
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
      const workerArgs = options.workers === undefined ? [] : ['--workers', String(options.workers)];
      const server = await startServer({ binPath, extraArgs: [...drives.args, ...workerArgs], accessKey: options.accessKey, secretKey: options.secretKey, dataDirParent: options.dataDirParent }).catch(async (err: unknown) => {
        await removeDrives();
        throw err;
      });
      return {
        software,
        description: `s3d server pid ${server.pid} at ${server.endpoint.href}${drives.args.length + workerArgs.length > 0 ? ` (${[...drives.args, ...workerArgs].join(' ')})` : ''}, data ${server.dataDir}, log ${server.logPath}`,
        endpoints: [server.endpoint],
        ca: server.ca,
        credentials: { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region },
        pids: [server.pid],
        dataDirs: [server.dataDir],
        stop: async () => [await server.stop()],
        cleanUp: async (failed) => {
          await removeWorkDir(server, options.keepData, failed);
          await removeDrives();
        },
      };
    }
    case 'cluster': {
      const cluster = await startCluster({ binPath, transport: scenario.transport, dataDirParent: options.dataDirParent, workers: options.workers });
      const endpoints = options.clusterClients === 'node-1' ? cluster.endpoints.slice(0, 1) : cluster.endpoints;
      return {
        software,
        description: `node pids ${cluster.pids.join(',')}, requests to ports ${endpoints.map((e) => e.port).join(',')} (${options.clusterClients}), dir ${cluster.dir}`,
        endpoints,
        ca: cluster.ca,
        credentials: { accessKey: cluster.accessKey, secretKey: cluster.secretKey, region: options.region },
        pids: cluster.pids,
        dataDirs: cluster.dataDirs,
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
        dataDirs: [],
        stop: async () => [await peer.stop()],
        cleanUp: (failed) => removeWorkDir(peer, options.keepData, failed),
      };
    }
  }
}

// --endpoint: one scenario against a server someone else runs.
export async function runExternal(options: Options): Promise<ScenarioRun> {
  const endpoint = new URL(options.endpoint ?? '');
  const ca = options.ca === undefined ? undefined : readFileSync(options.ca);
  const pid = options.serverPid;
  if (pid !== undefined) warnIfNotServer(pid);
  const credentials: SigV4Credentials = { accessKey: options.accessKey, secretKey: options.secretKey, region: options.region };
  const name = 'external';
  const pids = pid === undefined ? [] : [pid];
  const cells = await runCells(options, name, { endpoints: [endpoint], ca, credentials, pids, dataDirs: [] });
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
