// Spawns the real `bin/s3d server` on 127.0.0.1 with a free port and a fresh temp data dir, for
// end-to-end tests. Callers dispose() in afterAll; a process 'exit' hook is only a best-effort net
// (vitest may end a worker with a signal, which skips it).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const s3dBin = join(repoRoot, 'bin', 's3d');

/**
 * How long a start may take to log "s3d ready". A loopback cluster on a 2-core machine starts six
 * nodes at once, each with its gateway workers (config `workers`, one per core by default).
 */
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 15_000;
/** Bytes of stdout/stderr kept per server for diagnostics. */
const logTailMaxBytes = 512 * 1024;

export const region = 'us-east-1';

export interface StartServerOptions {
  /** Reuse an existing data dir (not removed by dispose). Default: a fresh dir under os.tmpdir(). */
  dataDir?: string;
  accessKey?: string;
  secretKey?: string;
  /** Extra CLI arguments after `server`, e.g. `['--drives', 'D1,D2,D3', '--parity', '1']`. */
  extraArgs?: string[];
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  /** CA file clients trust when the config names its own certificate. Default DATA/tls/cert.pem. */
  caFile?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface S3dServer {
  /** https://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly port: number;
  /** Parent of dataDir; created for this server, contains only dataDir unless the server escapes it. */
  readonly rootDir: string;
  readonly dataDir: string;
  /** DIR/tls/cert.pem, the self-signed certificate to trust. */
  readonly caFile: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Environment for aws cli / boto3 child processes (credentials, region, CA bundle, isolated config). */
  readonly env: Record<string, string>;
  /** The parsed "s3d ready" log line. */
  readonly readyLine: Record<string, unknown>;
  /** Sends `signal` (default SIGTERM) and waits for exit; SIGKILL after 15 s. Keeps the data dir. */
  stop(signal?: NodeJS.Signals): Promise<ExitInfo>;
  /** SIGKILL, waits for exit. Keeps the data dir. */
  kill9(): Promise<ExitInfo>;
  /** Sends `signal` to the current process without waiting (SIGSTOP / SIGCONT freeze and thaw it). */
  signal(signal: NodeJS.Signals): void;
  /**
   * Stops the current process (SIGTERM; a no-op if it already exited), starts a new one on the same
   * data dir and port, and waits for the ready line. `extraArgs`, when given, replaces the extra CLI
   * arguments from then on (e.g. a reordered `--drives` list); otherwise the previous ones are kept.
   */
  restart(opts?: { extraArgs?: string[] }): Promise<void>;
  /** The extra CLI arguments the current process was started with. */
  readonly extraArgs: readonly string[];
  /** stdout + stderr of every process this handle started, most recent last (bounded). */
  logs(): string;
  /** Whether the current process is alive. */
  running(): boolean;
  /** Stops the server (SIGTERM, then SIGKILL) and removes the temp dirs it created. Idempotent. */
  dispose(): Promise<void>;
}

/** Asks the OS for a free UDP port on 127.0.0.1 (bind port 0, read it, close): for QUIC endpoints. */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolveBound) => socket.bind(0, '127.0.0.1', resolveBound));
  const { port } = socket.address();
  await new Promise<void>((resolveClosed) => socket.close(() => resolveClosed()));
  return port;
}

/** Asks the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('freePort: no address'));
        return;
      }
      srv.close(() => resolvePort(address.port));
    });
  });
}

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temp dir under os.tmpdir(), removed at process exit. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

class LogTail {
  private text = '';
  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > logTailMaxBytes) this.text = this.text.slice(-logTailMaxBytes);
  }
  toString(): string {
    return this.text;
  }
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  readyLine: Record<string, unknown>;
}

/** Spawns one s3d process and resolves once it logged "s3d ready"; rejects with its output otherwise. */
async function spawnS3d(args: string[], env: NodeJS.ProcessEnv, log: LogTail): Promise<Spawned> {
  const child = spawn(process.execPath, [s3dBin, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  let stderr = '';
  const exited = new Promise<ExitInfo>((resolveExit) => {
    child.on('exit', (code, signal) => {
      liveChildren.delete(child);
      resolveExit({ code, signal });
    });
  });
  const readyLine = await new Promise<Record<string, unknown>>((resolveReady, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3d did not log "s3d ready" within ${readyTimeoutMs} ms.\nstderr:\n${stderr}\nstdout tail:\n${log.toString().slice(-4000)}`));
    }, readyTimeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      log.append(chunk);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      log.append(chunk);
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        const parsed = parseJsonLine(line);
        if (parsed !== undefined && parsed.msg === 's3d ready') {
          clearTimeout(timer);
          resolveReady(parsed);
        }
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`s3d exited before ready (code ${code}, signal ${signal}).\nstderr:\n${stderr}\nstdout tail:\n${log.toString().slice(-4000)}`));
    });
  });
  return { child, exited, readyLine };
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `bin/s3d server --data-dir DIR --address 127.0.0.1 --port PORT` and waits (20 s) for the
 * JSON log line with "msg":"s3d ready". Throws with the server's stderr if it does not get there.
 */
export async function startServer(opts: StartServerOptions = {}): Promise<S3dServer> {
  const ownsDirs = opts.dataDir === undefined;
  const rootDir = ownsDirs ? makeTempDir('e2e') : dirname(opts.dataDir as string);
  const dataDir = opts.dataDir ?? join(rootDir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const clientDir = makeTempDir('client');
  const accessKey = opts.accessKey ?? 'tessera-e2e-access';
  const secretKey = opts.secretKey ?? 'tessera-e2e-secret-0123456789abcdef';
  const port = await freePort();
  const endpoint = `https://127.0.0.1:${port}`;
  const caFile = opts.caFile ?? join(dataDir, 'tls', 'cert.pem');
  const baseArgs = ['server', '--data-dir', dataDir, '--address', '127.0.0.1', '--port', String(port)];
  let extraArgs: readonly string[] = [...(opts.extraArgs ?? [])];
  const serverEnv: NodeJS.ProcessEnv = { ...process.env, S3D_ACCESS_KEY: accessKey, S3D_SECRET_KEY: secretKey, ...opts.env };
  const log = new LogTail();

  let current = await spawnS3d([...baseArgs, ...extraArgs], serverEnv, log);
  if (!existsSync(caFile)) {
    current.child.kill('SIGKILL');
    throw new Error(`s3d is ready but ${caFile} does not exist`);
  }

  // An isolated aws cli / botocore config so nothing from ~/.aws leaks in.
  const awsConfigFile = join(clientDir, 'aws-config');
  writeFileSync(awsConfigFile, `[default]\nregion = ${region}\n`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: clientDir,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    PYTHONIOENCODING: 'utf-8',
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_DEFAULT_REGION: region,
    AWS_REGION: region,
    AWS_CA_BUNDLE: caFile,
    AWS_CONFIG_FILE: awsConfigFile,
    AWS_SHARED_CREDENTIALS_FILE: join(clientDir, 'aws-credentials-none'),
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    S3_ENDPOINT: endpoint,
    S3_CA_FILE: caFile,
  };
  for (const name of ['PYENV_ROOT', 'PYENV_VERSION', 'PYTHONPATH', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }

  let disposed = false;
  const stopCurrent = async (signal: NodeJS.Signals): Promise<ExitInfo> => {
    const { child, exited } = current;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };

  return {
    endpoint,
    port,
    rootDir,
    dataDir,
    caFile,
    accessKey,
    secretKey,
    env,
    get readyLine() {
      return current.readyLine;
    },
    stop: (signal = 'SIGTERM') => stopCurrent(signal),
    kill9: () => stopCurrent('SIGKILL'),
    signal: (signal) => {
      current.child.kill(signal);
    },
    get extraArgs() {
      return extraArgs;
    },
    restart: async (restartOpts = {}) => {
      await stopCurrent('SIGTERM');
      if (restartOpts.extraArgs !== undefined) extraArgs = [...restartOpts.extraArgs];
      current = await spawnS3d([...baseArgs, ...extraArgs], serverEnv, log);
    },
    logs: () => log.toString(),
    running: () => current.child.exitCode === null && current.child.signalCode === null,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      await stopCurrent('SIGTERM');
      removeTempDir(clientDir);
      if (ownsDirs) removeTempDir(rootDir);
    },
  };
}
