// Starts and stops a real `s3d server` for the bench (fresh data dir, free port), and samples its
// memory and CPU from /proc. Linux only for the samples; elsewhere they read as undefined.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** How long the server may take to log "s3d ready". */
export const serverReadyTimeoutMs = 60_000;
/** How long SIGTERM may take before SIGKILL (the server's own grace is 30 s). */
export const serverStopTimeoutMs = 40_000;
/** VmRSS poll period, so a short-lived peak inside a cell is seen. */
export const rssPollIntervalMs = 200;
/** How often the log is read while waiting for "s3d ready". */
const readyPollIntervalMs = 100;

/** A server the bench started; stop() it exactly once. */
export interface SpawnedServer {
  pid: number;
  /** https://127.0.0.1:<port> */
  endpoint: URL;
  /** PEM of the server's self-signed certificate (DIR/tls/cert.pem). */
  ca: Buffer;
  /** Fresh temp dir holding data/ and server.log. */
  workDir: string;
  /** <workDir>/data, passed as --data-dir. */
  dataDir: string;
  /** Where the server's stdout and stderr are copied. */
  logPath: string;
  /** SIGTERM, then SIGKILL after serverStopTimeoutMs; resolves with the exit code or signal. */
  stop: () => Promise<string>;
}

/** Options for startServer. */
export interface StartServerOptions {
  /** Path to bin/s3d. */
  binPath: string;
  /** More `s3d server` options, e.g. ['--drives', 'd1,...', '--parity', '2']. */
  extraArgs?: readonly string[];
  accessKey: string;
  secretKey: string;
  /** Parent of the fresh data dir; default os.tmpdir(). */
  dataDirParent: string | undefined;
}

/** Spawns `s3d server` on a free port and resolves once it logs "s3d ready". Throws Error with the log tail on failure. */
export async function startServer(options: StartServerOptions): Promise<SpawnedServer> {
  // <workDir>/data is the server's fresh data dir; <workDir>/server.log sits beside it, outside the server's tree.
  const workDir = await mkdtemp(join(options.dataDirParent ?? tmpdir(), 'tessera-bench-'));
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir);
  const port = await freePort();
  // The log goes straight to a file the child owns, so per-request log lines cost the bench process nothing.
  const logPath = join(workDir, 'server.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    [options.binPath, 'server', '--data-dir', dataDir, '--address', '127.0.0.1', '--port', String(port), ...(options.extraArgs ?? [])],
    {
      env: { ...process.env, S3D_ACCESS_KEY: options.accessKey, S3D_SECRET_KEY: options.secretKey },
      stdio: ['ignore', logFd, logFd],
    },
  );
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`could not spawn ${options.binPath}`);
  const pid = child.pid;
  let exitedHow: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      exitedHow = signal ?? `exit ${code}`;
      resolve(exitedHow);
    });
  });

  try {
    await waitForReady(logPath, () => exitedHow);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}; server log ${logPath}:\n${tail(logPath)}`);
  }
  const ca = await readFile(join(dataDir, 'tls', 'cert.pem'));
  const stop = async (): Promise<string> => {
    if (exitedHow !== undefined) return exitedHow;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), serverStopTimeoutMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };
  return { pid, endpoint: new URL(`https://127.0.0.1:${port}`), ca, workDir, dataDir, logPath, stop };
}

// Polls the log for the first JSON line with msg "s3d ready".
async function waitForReady(logPath: string, exitedHow: () => string | undefined): Promise<void> {
  const deadlineMs = Date.now() + serverReadyTimeoutMs;
  for (;;) {
    const text = await readFile(logPath, 'utf8');
    if (text.split('\n').some(isReadyLine)) return;
    const how = exitedHow();
    if (how !== undefined) throw new Error(`server exited before ready (${how})`);
    if (Date.now() > deadlineMs) throw new Error(`no "s3d ready" within ${serverReadyTimeoutMs} ms`);
    await delay(readyPollIntervalMs);
  }
}

function isReadyLine(line: string): boolean {
  if (!line.includes('s3d ready')) return false;
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === 's3d ready';
  } catch {
    return false;
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The command line of `pid` with arguments joined by spaces; undefined when unreadable. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** One reading of a process's resource use. */
export interface ProcessSample {
  /** utime + stime in seconds since the process started. */
  cpuSeconds: number;
  /** Current resident set in bytes (VmRSS). */
  rssBytes: number;
  /** Peak resident set in bytes since start (VmHWM). */
  peakRssBytes: number;
}

/** USER_HZ, the unit of utime/stime in /proc/PID/stat (sysconf is not reachable from Node, so ask getconf). */
const clockTicksPerSecond = readClockTicksPerSecond();

function readClockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** Reads /proc/PID/stat and /proc/PID/status; undefined when the process is gone or not on Linux. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself hold spaces: state is [0], utime [11], stime [12].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      cpuSeconds: ticks / clockTicksPerSecond,
      rssBytes: statusKiB(status, 'VmRSS') * 1024,
      peakRssBytes: statusKiB(status, 'VmHWM') * 1024,
    };
  } catch {
    return undefined;
  }
}

function statusKiB(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/**
 * CPU seconds the whole machine has been busy since boot, over all cores (user + nice + system + irq +
 * softirq + steal from /proc/stat). Deltas of this minus server and client CPU show other load on a
 * shared machine. Undefined when /proc/stat is unreadable.
 */
export function machineBusyCpuSeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // "cpu  user nice system idle iowait irq softirq steal ..."
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((sum, value) => sum + (value ?? 0), 0);
    return ticks / clockTicksPerSecond;
  } catch {
    return undefined;
  }
}

/** Polls VmRSS of `pid` between start() and stop(), reporting the peak and the CPU seconds used in between. */
export class ProcessWatcher {
  private timer: NodeJS.Timeout | undefined;
  private startCpuSeconds = 0;
  private peakRssBytes = 0;

  constructor(private readonly pid: number) {}

  /** Begins a window. */
  start(): void {
    const sample = sampleProcess(this.pid);
    this.startCpuSeconds = sample?.cpuSeconds ?? 0;
    this.peakRssBytes = sample?.rssBytes ?? 0;
    this.timer = setInterval(() => this.poll(), rssPollIntervalMs);
  }

  /** Ends the window: server CPU seconds used and peak VmRSS bytes seen in it; undefined if unreadable. */
  stop(): { cpuSeconds: number; peakRssBytes: number } | undefined {
    clearInterval(this.timer);
    this.timer = undefined;
    const sample = sampleProcess(this.pid);
    if (sample === undefined) return undefined;
    this.peakRssBytes = Math.max(this.peakRssBytes, sample.rssBytes);
    return { cpuSeconds: sample.cpuSeconds - this.startCpuSeconds, peakRssBytes: this.peakRssBytes };
  }

  private poll(): void {
    const sample = sampleProcess(this.pid);
    if (sample !== undefined) this.peakRssBytes = Math.max(this.peakRssBytes, sample.rssBytes);
  }
}
