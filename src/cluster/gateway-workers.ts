// The node's side of its gateway workers (config `workers` > 1). This process binds the S3 ports
// and accepts every connection (paused, unread), hands each to the next ready worker in turn over
// the IPC channel and keeps its own copy until the worker says it took it: a connection handed to
// a worker that dies first goes to another worker instead of hanging (node:cluster's round-robin
// loses it). It starts a worker again when one exits unexpectedly (with backoff), relays what they
// report (activity for the repair throttle, queued repairs; layout changes the other way), and
// writes every gateway process's counters to DATA/gateway-workers.json each second.
import { fork, type ChildProcess } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { LayoutState } from '../placement/layout-state.js';
import { TesseraError } from '../util/errors.js';
import {
  gatewayPendingConnectionsMax, gatewayWorkerRestartDelayMaxMs, gatewayWorkerRestartDelayMs, gatewayWorkerStableMs,
  gatewayWorkerStartTimeoutMs, gatewayWorkerStatsIntervalMs, shutdownGraceMs,
} from '../util/limits.js';
import type { RequestActivity } from '../util/request-activity.js';
import { listenFailed, type GatewayProtocol } from './gateway.js';
import { gatewayStats, PinQueries, type GatewayWorkerMessage, type GatewayWorkerStart, type GatewayWorkerStats, type NodeMessage } from './gateway-worker.js';

/** The compiled entry a gateway worker runs (src/cli/gateway-worker-main.ts). */
const workerEntry = fileURLToPath(new URL('../cli/gateway-worker-main.js', import.meta.url));
/** How long a stopping worker may take beyond the gateway's own shutdown grace, in ms. */
const workerStopSlackMs = 5_000;

/** What DATA/gateway-workers.json holds: the node's process (index 0) and each gateway worker. */
export interface GatewayWorkersFile {
  atMs: number;
  processes: Array<GatewayWorkerStats & { role: 'node' | 'gateway' }>;
}

/** A port this process binds for the workers. */
export interface SharedListener {
  protocol: GatewayProtocol;
  address: string;
  /** 0: any free port (the bound one is in the endpoints). */
  port: number;
}

export interface GatewayWorkersOptions {
  /** Worker processes; 0: none (only the counters file, for the node's own gateway). */
  count: number;
  /** Bound here and served by the workers; empty with count 0. */
  listeners: SharedListener[];
  /** The start message of each worker, less its index. */
  start: Omit<GatewayWorkerStart, 'index'>;
  /** The node process's activity: workers' reports mark it busy. */
  activity: RequestActivity;
  onRepairQueued: () => void;
  /** Where the counters go each second (DATA/gateway-workers.json). */
  statsFile: string;
  /** Told the pids of the live workers after each fork and exit (the data dir lock lists them). */
  onPids: (pids: number[]) => Promise<void>;
  /** Which of these data ids readers in the node's own process pin (its object layer). */
  pinnedHere: (dataIds: readonly string[]) => string[];
  log: Logger;
}

/** One worker slot: the process in it now and how its restarts go. */
interface Slot {
  index: number;
  child: ChildProcess | undefined;
  ready: boolean;
  startedMs: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | undefined;
  stats: GatewayWorkerStats | undefined;
  /** Connections sent to this worker that it has not confirmed yet, by id. */
  handedOver: Map<number, { protocol: GatewayProtocol; socket: Socket }>;
}

/** The running gateway workers of this node; construct through GatewayWorkers.start. */
export class GatewayWorkers {
  private readonly slots: Slot[] = [];
  private readonly servers: Server[] = [];
  /** Connections accepted while no worker was ready (all restarting), oldest first. */
  private readonly pending: Array<{ protocol: GatewayProtocol; socket: Socket }> = [];
  private readonly pinQueries = new PinQueries();
  private nextSlot = 0;
  private nextConnectionId = 0;
  private stopping = false;
  private statsTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: GatewayWorkersOptions) {}

  /**
   * Binds the listeners, forks `count` workers and resolves with the endpoints' ports once every
   * worker is ready. Throws ListenFailed (port taken, no permission), the code a worker failed with
   * (InvalidConfig, ...) or NodeStartFailed (exit, or gatewayWorkerStartTimeoutMs); what was
   * started is stopped first.
   */
  static async start(options: GatewayWorkersOptions): Promise<{ workers: GatewayWorkers; ports: number[] }> {
    const workers = new GatewayWorkers(options);
    for (let index = 1; index <= options.count; index++) {
      workers.slots.push({ index, child: undefined, ready: false, startedMs: 0, restartDelayMs: gatewayWorkerRestartDelayMs, restartTimer: undefined, stats: undefined, handedOver: new Map() });
    }
    try {
      const ports: number[] = [];
      for (const listener of options.listeners) ports.push(await workers.bind(listener));
      await Promise.all(workers.slots.map((slot) => workers.fork(slot)));
      workers.statsTimer = setInterval(() => void workers.writeStats(), gatewayWorkerStatsIntervalMs);
      workers.statsTimer.unref();
      return { workers, ports };
    } catch (err) {
      await workers.stop();
      throw err;
    }
  }

  /**
   * Which of `dataIds` a reader pins anywhere in this node: its own process and every ready worker
   * but `except` (the asker); a worker that does not answer in time counts as pinning them all.
   */
  async pinnedAnywhere(dataIds: string[], except?: Slot): Promise<Set<string>> {
    const pinned = new Set(this.options.pinnedHere(dataIds));
    const asked = this.slots.filter((slot) => slot !== except && slot.ready);
    const answers = await Promise.all(asked.map((slot) => this.pinQueries.ask(dataIds, (id) => this.post(slot, { type: 'pins-query', id, dataIds }))));
    for (const answer of answers) for (const dataId of answer) pinned.add(dataId);
    return pinned;
  }

  /** Sends a newer layout to every worker (each adopts it if newer than its own). */
  broadcastLayout(state: LayoutState): void {
    for (const slot of this.slots) this.post(slot, { type: 'layout', state });
  }

  /**
   * Stops accepting, asks every worker to finish its requests and exit, and SIGKILLs those still
   * running after the gateway's shutdown grace.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    await Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const { socket } of this.pending.splice(0)) socket.destroy();
    await Promise.all(this.slots.map(async (slot) => {
      clearTimeout(slot.restartTimer);
      const child = slot.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      this.post(slot, { type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), shutdownGraceMs + workerStopSlackMs);
      await exited;
      clearTimeout(timer);
    }));
  }

  /** Binds one shared port; resolves with the bound port. Throws ListenFailed. */
  private async bind(listener: SharedListener): Promise<number> {
    const server = createServer({ pauseOnConnect: true }, (socket) => this.dispatch(listener.protocol, socket));
    server.on('error', (err) => this.options.log.error({ err }, 'S3 listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listener.port, listener.address, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw listenFailed(err, listener.address, listener.port);
    });
    this.servers.push(server);
    const address = server.address();
    return typeof address === 'object' && address ? address.port : listener.port;
  }

  /** Hands `socket` to the next ready worker, or queues it (bounded) while none is ready. */
  private dispatch(protocol: GatewayProtocol, socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const ready = this.slots.filter((slot) => slot.ready);
    if (ready.length === 0) {
      if (this.pending.length >= gatewayPendingConnectionsMax) socket.destroy();
      else this.pending.push({ protocol, socket });
      return;
    }
    const slot = ready[this.nextSlot++ % ready.length]!;
    const id = this.nextConnectionId++;
    slot.handedOver.set(id, { protocol, socket });
    const message: NodeMessage = { type: 'connection', protocol, id };
    slot.child?.send(message, socket, { keepOpen: true }, (err) => {
      if (!err) return;
      slot.ready = false; // the channel is gone; the exit handler may not have run yet
      if (slot.handedOver.delete(id)) this.dispatch(protocol, socket);
    });
  }

  /** Sends `message` to the slot's worker; false when it has no live channel. */
  private post(slot: Slot, message: NodeMessage): boolean {
    const child = slot.child;
    if (!child?.connected) return false;
    child.send(message);
    return true;
  }

  /** Forks the slot's worker; resolves once it is ready to serve connections. */
  private fork(slot: Slot): Promise<void> {
    const { log } = this.options;
    const child = fork(workerEntry, [], { stdio: 'inherit', serialization: 'json' });
    slot.child = child;
    slot.ready = false;
    slot.startedMs = Date.now();
    void this.reportPids();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        settle(new TesseraError('NodeStartFailed', `gateway worker ${slot.index} was not ready within ${gatewayWorkerStartTimeoutMs} ms`));
        child.kill('SIGKILL');
      }, gatewayWorkerStartTimeoutMs);
      child.on('message', (message: GatewayWorkerMessage) => {
        if (message.type === 'waiting') {
          this.post(slot, { type: 'start', start: { ...this.options.start, index: slot.index } });
        } else if (message.type === 'ready') {
          log.info({ worker: slot.index, pid: child.pid }, 'gateway worker ready');
          slot.ready = true;
          settle();
          for (const { protocol, socket } of this.pending.splice(0)) this.dispatch(protocol, socket);
        } else if (message.type === 'failed') {
          settle(new TesseraError(message.code === 'InvalidConfig' ? message.code : 'NodeStartFailed', `gateway worker ${slot.index}: ${message.message}`));
        } else {
          this.onMessage(slot, message);
        }
      });
      child.once('exit', (code, signal) => {
        settle(new TesseraError('NodeStartFailed', `gateway worker ${slot.index} exited (${signal ?? `code ${code}`}) before it was ready`));
        this.onExit(slot, child, code, signal);
      });
    });
  }

  private onMessage(slot: Slot, message: GatewayWorkerMessage): void {
    if (message.type === 'accepted') {
      slot.handedOver.get(message.id)?.socket.destroy(); // the worker holds its own descriptor now
      slot.handedOver.delete(message.id);
    } else if (message.type === 'activity') {
      this.options.activity.busyElsewhere(message.untilMs);
    } else if (message.type === 'repair-queued') {
      this.options.onRepairQueued();
    } else if (message.type === 'stats') {
      slot.stats = message.stats;
    } else if (message.type === 'pins-query') {
      const { id, dataIds } = message;
      void this.pinnedAnywhere(dataIds, slot).then((pinned) => this.post(slot, { type: 'pins-answer', id, dataIds: [...pinned] }));
    } else if (message.type === 'pins-answer') {
      this.pinQueries.answer(message.id, message.dataIds);
    }
  }

  /** A worker exited: its unconfirmed connections go to the others; while the node runs, it starts again after its backoff. */
  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: string | null): void {
    if (slot.child !== child) return;
    slot.child = undefined;
    slot.ready = false;
    slot.stats = undefined;
    const orphans = [...slot.handedOver.values()];
    slot.handedOver.clear();
    for (const { protocol, socket } of orphans) this.dispatch(protocol, socket);
    void this.reportPids();
    if (this.stopping) return;
    const ranMs = Date.now() - slot.startedMs;
    slot.restartDelayMs = ranMs >= gatewayWorkerStableMs ? gatewayWorkerRestartDelayMs : Math.min(slot.restartDelayMs * 2, gatewayWorkerRestartDelayMaxMs);
    this.options.log.error({ worker: slot.index, pid: child.pid, code, signal, restartInMs: slot.restartDelayMs, connectionsMoved: orphans.length }, 'gateway worker exited; starting it again');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      this.fork(slot).catch((err: unknown) => this.options.log.error({ worker: slot.index, err }, 'gateway worker did not start again'));
    }, slot.restartDelayMs);
  }

  private async reportPids(): Promise<void> {
    const pids = this.slots.flatMap((slot) => (slot.child?.pid !== undefined ? [slot.child.pid] : []));
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
