// The node's side of its gateway workers (config `workers` > 1): forks them through node:cluster,
// which keeps each listening socket in this process and hands connections to the workers in turn
// (round-robin), starts one again when it exits unexpectedly (with backoff), relays what they
// report (activity for the repair throttle, queued repairs, layout changes the other way), and
// writes every gateway process's counters to DATA/gateway-workers.json each second.
import cluster, { type Worker } from 'node:cluster';
import { rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { LayoutState } from '../placement/layout-state.js';
import { TesseraError } from '../util/errors.js';
import {
  gatewayWorkerRestartDelayMaxMs, gatewayWorkerRestartDelayMs, gatewayWorkerStableMs, gatewayWorkerStartTimeoutMs,
  gatewayWorkerStatsIntervalMs, shutdownGraceMs,
} from '../util/limits.js';
import type { RequestActivity } from '../util/request-activity.js';
import { gatewayStats, type GatewayWorkerMessage, type GatewayWorkerStart, type GatewayWorkerStats, type NodeMessage } from './gateway-worker.js';

/** The compiled entry a gateway worker runs (src/cli/gateway-worker-main.ts). */
const workerEntry = fileURLToPath(new URL('../cli/gateway-worker-main.js', import.meta.url));
/** How long a stopping worker may take beyond the gateway's own shutdown grace, in ms. */
const workerStopSlackMs = 5_000;

/** What DATA/gateway-workers.json holds: the node's process (index 0) and each gateway worker. */
export interface GatewayWorkersFile {
  atMs: number;
  processes: Array<GatewayWorkerStats & { role: 'node' | 'gateway' }>;
}

export interface GatewayWorkersOptions {
  count: number;
  /** The start message of each worker, less its index. */
  start: Omit<GatewayWorkerStart, 'index'>;
  /** The node process's activity: workers' reports mark it busy. */
  activity: RequestActivity;
  onRepairQueued: () => void;
  /** Where the counters go each second (DATA/gateway-workers.json). */
  statsFile: string;
  /** Told the pids of the live workers after each fork and exit (the data dir lock lists them). */
  onPids: (pids: number[]) => Promise<void>;
  log: Logger;
}

/** One worker slot: the process in it now and how its restarts go. */
interface Slot {
  index: number;
  worker: Worker | undefined;
  startedMs: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  stats: GatewayWorkerStats | undefined;
}

/** The running gateway workers of this node; construct through GatewayWorkers.start. */
export class GatewayWorkers {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private statsTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: GatewayWorkersOptions) {}

  /**
   * Forks `count` workers and resolves with their endpoints once every one listens. Throws the
   * code a worker failed with (ListenFailed, InvalidConfig, ...) or NodeStartFailed (exit or
   * gatewayWorkerStartTimeoutMs); the workers already started are stopped first.
   */
  static async start(options: GatewayWorkersOptions): Promise<{ workers: GatewayWorkers; endpoints: string[] }> {
    cluster.setupPrimary({ exec: workerEntry, args: [], silent: false });
    const workers = new GatewayWorkers(options);
    for (let index = 1; index <= options.count; index++) {
      workers.slots.push({ index, worker: undefined, startedMs: 0, restartDelayMs: gatewayWorkerRestartDelayMs, restartTimer: undefined, stats: undefined });
    }
    try {
      const endpoints = await Promise.all(workers.slots.map((slot) => workers.fork(slot)));
      workers.statsTimer = setInterval(() => void workers.writeStats(), gatewayWorkerStatsIntervalMs);
      workers.statsTimer.unref();
      return { workers, endpoints: endpoints[0] ?? [] };
    } catch (err) {
      await workers.stop();
      throw err;
    }
  }

  /** Sends a newer layout to every worker (each adopts it if newer than its own). */
  broadcastLayout(state: LayoutState): void {
    for (const slot of this.slots) this.post(slot, { type: 'layout', state });
  }

  /** Asks every worker to finish its requests and exit; SIGKILLs those still running after the grace. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    const exits = this.slots.map(async (slot) => {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      if (!worker || worker.isDead()) return;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      this.post(slot, { type: 'stop' });
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), shutdownGraceMs + workerStopSlackMs);
      await exited;
      clearTimeout(timer);
    });
    await Promise.all(exits);
  }

  private post(slot: Slot, message: NodeMessage): void {
    const worker = slot.worker;
    if (worker && worker.isConnected()) worker.send(message);
  }

  /** Forks the slot's worker; resolves with its endpoints once it listens. */
  private fork(slot: Slot): Promise<string[]> {
    const { log } = this.options;
    const worker = cluster.fork();
    slot.worker = worker;
    slot.startedMs = Date.now();
    void this.reportPids();
    return new Promise<string[]>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | undefined, endpoints: string[] = []): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(endpoints);
      };
      const timer = setTimeout(() => {
        settle(new TesseraError('NodeStartFailed', `gateway worker ${slot.index} did not listen within ${gatewayWorkerStartTimeoutMs} ms`));
        worker.process.kill('SIGKILL');
      }, gatewayWorkerStartTimeoutMs);
      worker.on('message', (message: GatewayWorkerMessage) => {
        if (message.type === 'waiting') {
          this.post(slot, { type: 'start', start: { ...this.options.start, index: slot.index } });
        } else if (message.type === 'ready') {
          log.info({ worker: slot.index, pid: worker.process.pid }, 'gateway worker listening');
          settle(undefined, message.endpoints);
        } else if (message.type === 'failed') {
          settle(new TesseraError(message.code === 'ListenFailed' || message.code === 'InvalidConfig' ? message.code : 'NodeStartFailed', `gateway worker ${slot.index}: ${message.message}`));
        } else {
          this.onMessage(slot, message);
        }
      });
      worker.once('exit', (code, signal) => {
        settle(new TesseraError('NodeStartFailed', `gateway worker ${slot.index} exited (${signal ?? `code ${code}`}) before it listened`));
        this.onExit(slot, worker, code, signal);
      });
    });
  }

  private onMessage(slot: Slot, message: GatewayWorkerMessage): void {
    if (message.type === 'activity') this.options.activity.busyElsewhere(message.untilMs);
    else if (message.type === 'repair-queued') this.options.onRepairQueued();
    else if (message.type === 'stats') slot.stats = message.stats;
  }

  /** An exit while the node runs: start the slot again after its backoff delay. */
  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.stats = undefined;
    void this.reportPids();
    if (this.stopping) return;
    const ranMs = Date.now() - slot.startedMs;
    slot.restartDelayMs = ranMs >= gatewayWorkerStableMs ? gatewayWorkerRestartDelayMs : Math.min(slot.restartDelayMs * 2, gatewayWorkerRestartDelayMaxMs);
    this.options.log.error({ worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: slot.restartDelayMs }, 'gateway worker exited; starting it again');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.fork(slot).catch((err: unknown) => this.options.log.error({ worker: slot.index, err }, 'gateway worker did not start again'));
    }, slot.restartDelayMs);
  }

  private async reportPids(): Promise<void> {
    const pids = this.slots.flatMap((slot) => (slot.worker?.process.pid !== undefined ? [slot.worker.process.pid] : []));
    await this.options.onPids(pids).catch((err: unknown) => this.options.log.warn({ err }, 'could not record the gateway worker pids in the data dir lock'));
  }

  /**
   * Writes DATA/gateway-workers.json by rename, so readers never see half a file; not fsynced (it
   * is a gauge, rewritten every second). A failure (full disk) is logged at debug and retried next time.
   */
  private async writeStats(): Promise<void> {
    const processes: GatewayWorkersFile['processes'] = [{ ...gatewayStats(0, this.options.activity), role: 'node' }];
    for (const slot of this.slots) if (slot.stats) processes.push({ ...slot.stats, role: 'gateway' });
    const file: GatewayWorkersFile = { atMs: Date.now(), processes };
    const temp = `${this.options.statsFile}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(file)}\n`);
      await rename(temp, this.options.statsFile);
    } catch (err) {
      this.options.log.debug({ err }, 'could not write gateway worker stats');
    }
  }
}
