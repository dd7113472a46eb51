// Starts and stops a real `s3d server` for the bench (fresh data dir, free port), and samples the
// memory and CPU of one server or of a cluster's node set from /proc. Linux only for the samples;
// elsewhere they read as undefined.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** How long the server may take to log "s3d ready". */
export const serverReadyTimeoutMs = 60_000;
/** How long SIGTERM may take before SIGKILL (the server's own grace is 30 s). */
export const serverStopTimeoutMs = 40_000;
/** VmRSS poll period, so a short-lived peak inside a cell is seen. */
export const rssPollIntervalMs = 200;
/** How often the log is read while waiting for "s3d ready". */
const readyPollIntervalMs = 100;
/** Oldest Node major bin/s3d runs on itself; under an older one it starts another Node as its child. */
const serverNodeMajorMin = 22;

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
  requireServerNode();
  // <workDir>/data is the server's fresh data dir; <workDir>/server.log sits beside it, outside the server's tree.
  const workDir = await mkdtemp(join(options.dataDirParent ?? tmpdir(), 'tessera-bench-'));
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir);
  const port = await freePort();
  const logPath = join(workDir, 'server.log');
  const child = spawnLogged(
    options.binPath,
    ['server', '--data-dir', dataDir, '--address', '127.0.0.1', '--port', String(port), ...(options.extraArgs ?? [])],
    { S3D_ACCESS_KEY: options.accessKey, S3D_SECRET_KEY: options.secretKey },
    logPath,
  );
  try {
    await waitForReady(logPath, child.exitedHow, serverReadyTimeoutMs);
  } catch (err) {
    await child.kill();
    throw new Error(`${(err as Error).message}; server log ${logPath}:\n${logTail(logPath)}`);
  }
  const ca = await readFile(join(dataDir, 'tls', 'cert.pem'));
  const { pid, stop } = child;
  return { pid, endpoint: new URL(`https://127.0.0.1:${port}`), ca, workDir, dataDir, logPath, stop };
}

// Throws Error when this node is too old to be the one the servers run on (see spawnLogged).
function requireServerNode(): void {
  if (Number(process.versions.node.split('.')[0]) >= serverNodeMajorMin) return;
  throw new Error(`the bench runs on Node ${process.version}; it needs ${serverNodeMajorMin} or newer, the node its servers run on. ` +
    'Run it with `make bench`, or start it with node_modules/.bin/node (the pinned Node 24) or another Node >= 22.');
}

/** A child process started by spawnLogged. */
export interface LoggedChild {
  pid: number;
  /** How it ended ("exit 0", "SIGKILL"), undefined while it runs. */
  exitedHow: () => string | undefined;
  /** SIGTERM, then SIGKILL after serverStopTimeoutMs; resolves with how it ended. Safe to call twice. */
  stop: () => Promise<string>;
  /** SIGKILL now; resolves with how it ended. */
  kill: () => Promise<string>;
}

/**
 * Spawns `node <binPath> ...args` (this process's node) with `env` added to this process's environment,
 * its stdout and stderr appended to `logPath`. The log goes straight to a file the child owns, so
 * per-request log lines cost the bench process nothing. Throws Error when the process cannot be
 * spawned, or when this node is older than 22: bin/s3d would then run the server under the pinned
 * Node 24 as its own child, and the pid the bench samples would be that wrapper's, not the server's.
 */
export function spawnLogged(binPath: string, args: readonly string[], env: Record<string, string>, logPath: string): LoggedChild {
  requireServerNode();
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [binPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`could not spawn ${binPath}`);
  let how: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => {
      how = signal ?? `exit ${code}`;
      resolve(how);
    });
  });
  const stop = async (): Promise<string> => {
    if (how !== undefined) return how;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), serverStopTimeoutMs);
    const result = await exited;
    clearTimeout(timer);
    return result;
  };
  const kill = (): Promise<string> => {
    if (how === undefined) child.kill('SIGKILL');
    return exited;
  };
  return { pid: child.pid, exitedHow: () => how, stop, kill };
}

/**
 * Polls `logPath` until a JSON line whose msg is `readyMessage` (s3d's "s3d ready" by default);
 * throws Error when the process exits first or after `timeoutMs`.
 */
export async function waitForReady(logPath: string, exitedHow: () => string | undefined, timeoutMs: number, readyMessage = 's3d ready'): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(logPath, 'utf8');
    if (text.split('\n').some((line) => isReadyLine(line, readyMessage))) return;
    const how = exitedHow();
    if (how !== undefined) throw new Error(`server exited before ready (${how})`);
    if (Date.now() > deadlineMs) throw new Error(`no "${readyMessage}" within ${timeoutMs} ms`);
    await delay(readyPollIntervalMs);
  }
}

function isReadyLine(line: string, readyMessage: string): boolean {
  if (!line.includes(readyMessage)) return false;
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === readyMessage;
  } catch {
    return false;
  }
}

/** The last 30 lines of the file at `path`, or "(no log)". */
export function logTail(path: string): string {
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

/** CPU counters at one instant: each readable process of a set, this process, and the whole machine. */
export interface CpuSnapshot {
  /** utime + stime since start, in seconds, of each process of the set readable now (by pid). */
  processSeconds: Map<number, number>;
  /** This process's process.cpuUsage(), in microseconds. */
  self: NodeJS.CpuUsage;
  /** machineBusyCpuSeconds(); undefined when /proc/stat is unreadable. */
  machineBusySeconds: number | undefined;
}

/**
 * `pids` and every process below them (a node's gateway workers), from the parent pids in
 * /proc/PID/stat. Linux only; elsewhere, or when /proc is unreadable, `pids` alone.
 */
export function withDescendants(pids: readonly number[]): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [...pids];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch { /* ended meanwhile */ }
  }
  const all = [...pids];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i] ?? 0) ?? []));
  return all;
}

/** Reads CpuSnapshot now for `pids` (the server processes; may be empty) and their descendants. Linux /proc; never throws. */
export function cpuSnapshot(pids: readonly number[]): CpuSnapshot {
  const processSeconds = new Map<number, number>();
  for (const pid of withDescendants(pids)) {
    const sample = sampleProcess(pid);
    if (sample !== undefined) processSeconds.set(pid, sample.cpuSeconds);
  }
  return { processSeconds, self: process.cpuUsage(), machineBusySeconds: machineBusyCpuSeconds() };
}

/** CPU seconds used between two snapshots, split by whose. */
export interface CpuBetween {
  /** Summed over the processes readable at both snapshots; undefined when none was. */
  processSeconds: number | undefined;
  /** This process (the client). */
  selfSeconds: number;
  /** The machine's busy CPU minus the two above (other processes, steal; >= 0); undefined when unknown. */
  otherSeconds: number | undefined;
  /** The machine's busy CPU seconds over all cores; undefined when unknown. */
  machineBusySeconds: number | undefined;
}

/** What `start` and `end` (taken later, over the same pids) say was used in between. */
export function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): CpuBetween {
  let processSeconds: number | undefined;
  for (const [pid, seconds] of end.processSeconds) {
    const before = start.processSeconds.get(pid);
    if (before !== undefined) processSeconds = (processSeconds ?? 0) + seconds - before;
  }
  const selfSeconds = (end.self.user - start.self.user + end.self.system - start.self.system) / 1e6;
  const otherSeconds =
    start.machineBusySeconds === undefined || end.machineBusySeconds === undefined
      ? undefined
      : Math.max(0, end.machineBusySeconds - start.machineBusySeconds - selfSeconds - (processSeconds ?? 0));
  const machineBusySeconds = start.machineBusySeconds === undefined || end.machineBusySeconds === undefined ? undefined : end.machineBusySeconds - start.machineBusySeconds;
  return { processSeconds, selfSeconds, otherSeconds, machineBusySeconds };
}

/** Resource use of a set of processes (one server, or every node of a cluster). */
export interface ProcessSetUsage {
  /** utime + stime summed over the processes, in seconds. */
  cpuSeconds: number;
  /** The largest single process's peak resident set, in bytes. */
  peakRssBytes: number;
  /** Peak of the processes' resident sets added up, in bytes (equals peakRssBytes for one process). */
  peakRssSumBytes: number;
}

/**
 * Since-start totals of `pids` from /proc: CPU summed, VmHWM max and sum (the sum of per-process peaks,
 * an upper bound on the set's simultaneous peak). Undefined when none is readable.
 */
export function sampleProcesses(pids: readonly number[]): ProcessSetUsage | undefined {
  const samples = pids.map(sampleProcess).filter((s): s is ProcessSample => s !== undefined);
  if (samples.length === 0) return undefined;
  return {
    cpuSeconds: samples.reduce((sum, s) => sum + s.cpuSeconds, 0),
    peakRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
    peakRssSumBytes: samples.reduce((sum, s) => sum + s.peakRssBytes, 0),
  };
}

/**
 * Polls VmRSS of one process or a set (a cluster's nodes) between start() and stop(), reporting the CPU
 * seconds used in between (summed over the set), the largest single VmRSS seen, and the largest sum of
 * VmRSS over the set seen at one poll.
 */
export class ProcessWatcher {
  private readonly pids: readonly number[];
  private timer: NodeJS.Timeout | undefined;
  private startCpuSeconds = new Map<number, number>();
  private peakRssBytes = 0;
  private peakRssSumBytes = 0;

  constructor(pids: number | readonly number[]) {
    this.pids = typeof pids === 'number' ? [pids] : pids;
  }

  /** Begins a window. */
  start(): void {
    this.startCpuSeconds = new Map();
    this.peakRssBytes = 0;
    this.peakRssSumBytes = 0;
    for (const [pid, sample] of this.samples()) this.startCpuSeconds.set(pid, sample.cpuSeconds);
    this.poll();
    this.timer = setInterval(() => this.poll(), rssPollIntervalMs);
  }

  /** Ends the window: server CPU seconds used and peak VmRSS bytes seen in it; undefined if no process is readable. */
  stop(): ProcessSetUsage | undefined {
    clearInterval(this.timer);
    this.timer = undefined;
    const samples = this.samples();
    if (samples.length === 0) return undefined;
    this.record(samples);
    // A process that was unreadable at start() counts from zero: its CPU since start is all it has.
    const cpuSeconds = samples.reduce((sum, [pid, s]) => sum + s.cpuSeconds - (this.startCpuSeconds.get(pid) ?? 0), 0);
    return { cpuSeconds, peakRssBytes: this.peakRssBytes, peakRssSumBytes: this.peakRssSumBytes };
  }

  private samples(): Array<[number, ProcessSample]> {
    const samples: Array<[number, ProcessSample]> = [];
    for (const pid of this.pids) {
      const sample = sampleProcess(pid);
      if (sample !== undefined) samples.push([pid, sample]);
    }
    return samples;
  }

  private poll(): void {
    this.record(this.samples());
  }

  private record(samples: Array<[number, ProcessSample]>): void {
    let sum = 0;
    for (const [, s] of samples) {
      this.peakRssBytes = Math.max(this.peakRssBytes, s.rssBytes);
      sum += s.rssBytes;
    }
    this.peakRssSumBytes = Math.max(this.peakRssSumBytes, sum);
  }
}

/** The directory holding package.json above the calling bench module (dist/bench/ or bench/). Throws Error when there is none. */
export function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error('bench: package.json not found above the bench modules');
    dir = parent;
  }
  return dir;
}
