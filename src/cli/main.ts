// `s3d` command line (commander). `s3d server` with no arguments runs the single-node server:
// HTTPS on 0.0.0.0:8443, data under ./data, self-signed certificate and credentials made on
// first start. Exit codes: 0 clean stop, 1 runtime failure or bad option, 2 bad configuration,
// data directory in use, or listen address unavailable; a running server that meets an error
// nothing handled logs it and ends by SIGKILL (see stopOnUnhandledErrors).
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig, logLevels, transportKinds, type Config, type PartialConfig, type TransportKind } from '../config/config.js';
import { addClusterNode, initCluster, shardPortOffset } from '../cluster/cluster-init.js';
import type { LayoutCommand } from './admin.js';
import { cpuProfileDirEnv, installCpuProfiler } from './cpu-profile.js';
import { tuneGarbageCollectorLogged } from './gc-tuning.js';
import { makeLogger, stopOnUnhandledErrors } from './process-log.js';
import type { RunningNode } from '../cluster/node.js';
import { isTesseraError } from '../util/errors.js';

function portArg(name: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError(`${name} must be a port number 1-65535 (got "${value}")`);
    return port;
  };
}

/** The credentials banner: printed to stderr so stdout stays one JSON log line per event. */
function banner(node: RunningNode): string {
  const endpoint = node.endpoints[0] ?? 'https://localhost:8443';
  const lines = [
    '',
    '  Tessera S3 server',
    `  endpoint:   ${node.endpoints.join('  ')}`,
    `  access key: ${node.credentials.accessKey}`,
  ];
  if (node.credentials.source === 'generated') {
    lines.push(`  secret key: ${node.credentials.secretKey}   (shown once; saved with mode 0600 in ${node.dataDir}/credentials.json)`);
  } else {
    lines.push(`  secret key: (from ${node.credentials.source === 'file' ? `${node.dataDir}/credentials.json` : 'configuration'})`);
  }
  lines.push(`  certificate: ${node.certFile}${node.certificateCreated ? ' (self-signed, created now)' : ''}`);
  const secret = node.credentials.source === 'generated' ? node.credentials.secretKey : '<secret key>';
  lines.push(
    '',
    '  Try it with the aws cli:',
    `    export AWS_ACCESS_KEY_ID=${node.credentials.accessKey} AWS_SECRET_ACCESS_KEY='${secret}' AWS_DEFAULT_REGION=us-east-1`,
    `    aws --endpoint-url ${endpoint} --ca-bundle ${node.certFile} s3 mb s3://my-bucket`,
    `    aws --endpoint-url ${endpoint} --ca-bundle ${node.certFile} s3 cp ./some-file s3://my-bucket/`,
    `    aws --endpoint-url ${endpoint} --ca-bundle ${node.certFile} s3 ls s3://my-bucket`,
    '',
  );
  return lines.join('\n');
}

interface ServerOptions {
  dataDir?: string;
  address?: string;
  port?: number;
  httpPort?: number;
  config?: string;
  cert?: string;
  key?: string;
  logLevel?: string;
  drives?: string[];
  parity?: number;
  workers?: number;
}

async function runServer(options: ServerOptions): Promise<void> {
  const overrides: PartialConfig = {
    dataDir: options.dataDir,
    address: options.address,
    port: options.port,
    httpPort: options.httpPort,
    tls: options.cert !== undefined || options.key !== undefined ? { certFile: options.cert, keyFile: options.key } : undefined,
    log: options.logLevel !== undefined ? { level: options.logLevel as Config['log']['level'] } : undefined,
    drives: options.drives,
    parityShards: options.parity,
    workers: options.workers,
  };
  const config = loadConfig({ ...(options.config !== undefined ? { file: options.config } : {}), overrides, env: process.env });
  const log = makeLogger(config);
  tuneGarbageCollectorLogged(log);
  const finishProfile = installCpuProfiler(process.env[cpuProfileDirEnv], log);
  // The server's modules load only for `s3d server`: other commands start in a fraction of the time.
  const { startNode } = await import('../cluster/node.js');
  const node = await startNode(config, log);
  stopOnUnhandledErrors(log);
  process.stderr.write(`${banner(node)}\n`);
  log.info({ endpoints: node.endpoints, dataDir: node.dataDir, nodeVersion: process.version }, 's3d ready');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    node.stop().then(
      async () => {
        await finishProfile?.();
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function wholeNumber(name: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number (got "${value}")`);
    return Number(value);
  };
}

interface ClusterInitFlags {
  nodes: number;
  out: string;
  basePort: number;
  parity?: number;
  host: string;
  transport: TransportKind;
  workers?: number;
}

async function runClusterInit(flags: ClusterInitFlags): Promise<void> {
  const result = await initCluster({
    nodes: flags.nodes, outDir: flags.out, basePort: flags.basePort, host: flags.host, transport: flags.transport,
    ...(flags.parity !== undefined ? { parityShards: flags.parity } : {}),
    ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
  });
  const lines = [
    `Made a ${result.configFiles.length}-node cluster (${result.dataShards} data + ${result.parityShards} parity shards per stripe, ${flags.transport} transport):`,
    ...result.configFiles.map((file, i) => `  s3d server --config ${file}    # S3 at ${result.endpoints[i] ?? ''}`),
    '',
    `Credentials (also in each config, mode 0600): access key ${result.accessKey}, secret key ${result.secretKey}`,
    `Certificate for every node's S3 endpoint: ${result.certFile}`,
    `  export AWS_ACCESS_KEY_ID=${result.accessKey} AWS_SECRET_ACCESS_KEY='${result.secretKey}' AWS_DEFAULT_REGION=us-east-1`,
    `  aws --endpoint-url ${result.endpoints[0] ?? ''} --ca-bundle ${result.certFile} s3 ls`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * `s3d --version`: Tessera's version and the Node.js it runs on, e.g. "0.1.0 (node v24.22.3)". The
 * version comes from the nearest package.json above this module (src/cli/ or dist/src/cli/); "unknown" when none.
 */
export function versionLine(): string {
  let version = 'unknown';
  for (let dir = new URL('./', import.meta.url); dir.pathname !== '/'; dir = new URL('../', dir)) {
    let text: string;
    try {
      text = readFileSync(new URL('package.json', dir), 'utf8');
    } catch {
      continue;
    }
    const parsed = JSON.parse(text) as { version?: unknown };
    if (typeof parsed.version === 'string') version = parsed.version;
    break;
  }
  return `${version} (node ${process.version})`;
}

/** Builds the `s3d` program. */
export function buildProgram(): Command {
  const program = new Command('s3d')
    .description('Tessera: an erasure-coded, S3-compatible object store')
    .version(versionLine(), '-V, --version', "print Tessera's version and the Node.js it runs on")
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(`s3d: ${text.replace(/^error: /, '')}`) });

  program
    .command('server')
    .description('run an S3 server (single node: HTTPS on 0.0.0.0:8443, data under ./data)')
    .option('--data-dir <dir>', 'data directory: metadata, shards, TLS material, credentials (default ./data)')
    .option('--address <addr>', 'address to listen on (default 0.0.0.0)')
    .option('--port <port>', 'HTTPS port for the S3 API (default 8443)', portArg('--port'))
    .option('--http-port <port>', 'also serve plain HTTP on this port (default: off)', portArg('--http-port'))
    .option('--config <file>', 'YAML config file (see configs/single-node.yaml); command-line options win over it')
    .option('--drives <dirs>', 'comma-separated drive directories to erasure-code across (default: one drive, DATA/drive-1)', (v: string) => v.split(',').map((d) => d.trim()).filter((d) => d !== ''))
    .option('--parity <m>', 'parity shards per stripe, fixed at first start (default by drive count: 1 drive 0, 2-3: 1, 4-5: 2, 6-7: 3, 8+: 4)', (v: string) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`--parity must be a whole number (got "${v}")`);
      return Number(v);
    })
    .option('--workers <n>', 'S3 gateway processes sharing the port (default one per core; 1 = one process)', wholeNumber('--workers'))
    .option('--cert <file>', 'PEM certificate to serve instead of the generated self-signed one (needs --key)')
    .option('--key <file>', 'PEM private key for --cert')
    .addOption(new Option('--log-level <level>', 'minimum log level (default info)').choices([...logLevels]))
    .addHelpText('after', `
Environment:
  S3D_ACCESS_KEY, S3D_SECRET_KEY   root credentials (else from the config, else generated on
                                   first start and saved in DATA/credentials.json, mode 0600)
Files under the data directory:
  tls/cert.pem, tls/key.pem        the self-signed certificate made on first start
  gateway-workers.json             each S3 gateway process: pid, requests, event loop use
  meta/                            LMDB metadata      format.json   the drive set (ids, k, m)
  drive-1/                         shard files when --drives is not given
Logs: JSON lines on stdout (pretty on a terminal); one access line per request.
SIGTERM or SIGINT stops gracefully: no new connections, in-flight requests finish.`)
    .action(runServer);

  const cluster = program.command('cluster').description('make and inspect multi-node clusters');
  cluster
    .command('init')
    .description('make keys, a shared certificate, credentials and one config per node (DIR/node-1.yaml ... DIR/node-N.yaml)')
    .requiredOption('--nodes <n>', 'number of nodes', wholeNumber('--nodes'))
    .requiredOption('--out <dir>', 'directory for the configs, keys and node data (must not hold a cluster already)')
    .option('--base-port <port>', `node i serves S3 over HTTPS on port P+i-1 and its shard server on P+${shardPortOffset}+i-1`, portArg('--base-port'), 8443)
    .option('--parity <m>', 'parity shards per stripe (default: 2 for 4+ nodes, 1 for 2-3 nodes)', wholeNumber('--parity'))
    .option('--host <host>', 'address every node listens on and peers dial (default 127.0.0.1: a loopback cluster)', '127.0.0.1')
    .addOption(new Option('--transport <kind>', 'node-to-node transport: quic; tls (TCP networks that block UDP); tcp (trusted networks only: not encrypted, peers authenticated, frames checksummed)').choices([...transportKinds]).default('quic'))
    .option('--workers <n>', 'S3 gateway processes per node, written into every config (default: this machine\'s cores shared among the nodes, at least 1)', wholeNumber('--workers'))
    .action(runClusterInit);
  cluster
    .command('add-node')
    .description('make the next node of the cluster in DIR (key and config, weight 0); join it with s3d admin layout add-node and apply')
    .requiredOption('--dir <dir>', 'directory made by s3d cluster init')
    .action(async (flags: { dir: string }) => {
      const added = await addClusterNode(flags.dir);
      process.stdout.write([
        `Made ${added.nodeId} (S3 at ${added.endpoint}), a member that holds no data yet:`,
        `  s3d server --config ${added.configFile}      # or: s3d cluster start --dir ${flags.dir}`,
        `  s3d admin layout add-node --node-config ${added.configFile} --config ${flags.dir}/node-1.yaml`,
        `  s3d admin layout apply --config ${flags.dir}/node-1.yaml`,
        '',
      ].join('\n'));
    });
  cluster
    .command('start')
    .description('start every DIR/node-*.yaml as a background server (logs DIR/node-i.log) and wait until all are ready')
    .requiredOption('--dir <dir>', 'directory made by s3d cluster init')
    .action(async (flags: { dir: string }) => {
      const { startLocalCluster } = await import('./cluster-local.js');
      const endpoints = await startLocalCluster(flags.dir);
      process.stdout.write(`${endpoints.length} nodes ready:\n${endpoints.map((e) => `  ${e}`).join('\n')}\n`);
    });
  cluster
    .command('stop')
    .description('stop the background servers started by s3d cluster start')
    .requiredOption('--dir <dir>', 'directory made by s3d cluster init')
    .action(async (flags: { dir: string }) => {
      const { stopLocalCluster } = await import('./cluster-local.js');
      process.stdout.write(`stopped ${await stopLocalCluster(flags.dir)} nodes\n`);
    });

  const admin = program.command('admin').description("watch and steer a cluster's health (over the cluster transport, with a node's key)")
    .addHelpText('after', `
Every admin command takes --config: a node's config (as made by s3d cluster init). The command
speaks to every node as that node, with its key file, over the cluster's transport (QUIC, TLS or TCP).`);
  admin
    .command('status')
    .description('each node: up or down, drives, shard files, repair queue, rebuild progress and rate, last scan and scrub; exit 0 when healthy, 1 when not')
    .requiredOption('--config <file>', "a node's config file")
    .option('--json', 'print the full report as JSON')
    .action(async (flags: { config: string; json?: boolean }) => {
      const { adminStatus } = await import('./admin.js');
      process.exitCode = await adminStatus(flags.config, { json: flags.json === true });
    });
  admin
    .command('heal')
    .argument('[target]', 'bucket or bucket/prefix to scan (default: every bucket)')
    .description('scan now: every node checks that each shard of its objects is in place and queues missing ones for rebuild')
    .requiredOption('--config <file>', "a node's config file")
    .option('--wait', 'wait until every node finished the scan and its repair queue is empty')
    .option('--timeout <seconds>', 'with --wait: give up after this many seconds (exit 1)', wholeNumber('--timeout'), 3600)
    .addOption(new Option('--priority <level>', 'normal: repair yields to client requests (one rebuild at a time while they run); high: rebuild at full speed until the repair queues are empty').choices(['normal', 'high']).default('normal'))
    .action(async (target: string | undefined, flags: { config: string; wait?: boolean; timeout: number; priority: 'normal' | 'high' }) => {
      const { adminHeal } = await import('./admin.js');
      process.exitCode = await adminHeal(flags.config, target, { wait: flags.wait === true, timeoutSeconds: flags.timeout, priority: flags.priority });
    });

  const layout = admin.command('layout').description('show and change which nodes hold data: stage changes, then apply them as the next layout version')
    .addHelpText('after', `
A change is staged first (add-node, remove-node, set-weight; revert drops them) and takes effect
with apply: the next layout version goes to every node, new data is placed by it at once, and
existing shards and records move to their new nodes in the background (s3d admin status shows
the move). A removed node keeps serving until its data has moved, then leaves.`);
  const runLayout = async (config: string, command: LayoutCommand): Promise<void> => {
    const { adminLayout } = await import('./admin.js');
    process.exitCode = await adminLayout(config, command);
  };
  const weightArg = (v: string): number => {
    const weight = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || weight > 16) throw new InvalidArgumentError(`weight must be a number from 0 to 16 (got "${v}")`);
    return weight;
  };
  layout.command('show').description('the current layout, a move in progress and the staged changes')
    .requiredOption('--config <file>', "a node's config file")
    .action((flags: { config: string }) => runLayout(flags.config, { kind: 'show' }));
  layout.command('add-node').description("stage a node joining: its id, address and key come from its own config (made by s3d cluster add-node)")
    .requiredOption('--node-config <file>', "the joining node's config file")
    .option('--weight <w>', 'its weight (default: its config weight, or 1 when that is 0)', weightArg)
    .option('--zone <zone>', 'its failure zone')
    .requiredOption('--config <file>', "a member node's config file")
    .action((flags: { nodeConfig: string; weight?: number; zone?: string; config: string }) => runLayout(flags.config, {
      kind: 'add-node', nodeConfig: flags.nodeConfig, ...(flags.weight !== undefined ? { weight: flags.weight } : {}), ...(flags.zone !== undefined ? { zone: flags.zone } : {}),
    }));
  layout.command('remove-node').argument('<node-id>', 'node to remove').description('stage a node leaving: its data moves to the others, then it leaves')
    .requiredOption('--config <file>', "a member node's config file")
    .action((nodeId: string, flags: { config: string }) => runLayout(flags.config, { kind: 'remove-node', nodeId }));
  layout.command('set-weight').argument('<node-id>', 'node to re-weight').argument('<weight>', 'new weight, 0 to 16', weightArg)
    .description("stage a node's new weight (its share of data)")
    .requiredOption('--config <file>', "a member node's config file")
    .action((nodeId: string, weight: number, flags: { config: string }) => runLayout(flags.config, { kind: 'set-weight', nodeId, weight }));
  layout.command('revert').description('drop the staged changes')
    .requiredOption('--config <file>', "a member node's config file")
    .action((flags: { config: string }) => runLayout(flags.config, { kind: 'revert' }));
  layout.command('apply').description('make the staged changes the next layout version on every node')
    .requiredOption('--config <file>', "a member node's config file")
    .action((flags: { config: string }) => runLayout(flags.config, { kind: 'apply' }));
  return program;
}

/** Entry point used by bin/s3d. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (isTesseraError(err, 'InvalidArgument', 'LayoutNotApplied', 'LayoutTransitionInProgress')) {
      process.stderr.write(`s3d: ${err.message}\n`);
      process.exit(1);
    }
    if (isTesseraError(err, 'InvalidConfig', 'DataDirLocked', 'ListenFailed', 'NodeStartFailed')) {
      process.stderr.write(`s3d: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
