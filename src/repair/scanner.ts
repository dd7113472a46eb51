// The scanner: walks this node's object records and checks that every shard of every object is
// present, with its full size, where the record's placement says. It finds what scrub cannot see
// because there is no file left to read: a drive or node that lost its contents, a shard a write
// never delivered. What it finds goes to the repair queue. In a cluster every record lives on
// k + m nodes; only the first of them that is up scans it, so a healthy cluster checks each
// object once per cycle. A full cycle runs every config scanIntervalHours after the last one
// finished, and a cycle over any scope on `s3d admin heal`. Progress is saved in LMDB after every
// page of records, so a cycle cut by a restart resumes where it stopped. A save the metadata store
// cannot commit (a full disk) does not stop the cycle: it is logged once and the next save catches up.
import type { Logger } from 'pino';
import type { DataOwner, ObjectRecord, ScanScope } from '../meta/types.js';
import type { ShardCheck } from '../object/object-layer.js';
import { scanChecksInFlightMax, scanObjectPauseMs, scanPageObjects, scanRecheckDelayMs, scanRecheckFirstDelayMs, scanRecheckMax, scanWaitingMax } from '../util/limits.js';
import { CycleWorker } from './cycle-worker.js';

/** One cycle's counts; objects = records walked, checked = those this node was responsible for. */
export interface ScanCycle {
  /** Absent: every bucket. */
  scope?: ScanScope;
  objects: number;
  checked: number;
  shards: number;
  /** Shards found absent or short and queued for repair. */
  queued: number;
  /** Shards on drives or nodes that did not answer (not queued). */
  unreachable: number;
  /** Records whose check failed for another reason (logged; next cycle retries). */
  failed: number;
  startedMs: number;
  /** 0 while the cycle runs. */
  finishedMs: number;
}

/** What the scanner keeps in LMDB (MetaStore worker state 'scan'). */
export interface ScanState {
  /** When the last full (unscoped) cycle finished, or the node first started: the schedule's anchor. */
  lastFinishedMs: number;
  /** The cycle in progress: its counts so far and the last record it finished. */
  running?: { cycle: ScanCycle; after?: DataOwner };
  /** Heal requests waiting behind it, in order ({} = every bucket). */
  waiting?: Array<{ scope?: ScanScope }>;
}

/** What the scanner needs from the node. */
export interface ScanSource {
  /** This node's records after `after`, in key order, at most `limit` (LmdbMetaStore.scanObjects). */
  records(limit: number, after: DataOwner | undefined, scope: ScanScope | undefined): ObjectRecord[];
  /** True when this node is the one to check `record` (single node: always). */
  responsible(record: ObjectRecord): boolean;
  /** Checks and queues one record's shards (ObjectLayer.checkShards). */
  check(record: ObjectRecord): Promise<ShardCheck>;
  loadState(): ScanState | undefined;
  /** Durable when resolved. */
  saveState(state: ScanState): Promise<void>;
}

/** A cycle to run: new over `scope`, or the saved one resumed. */
type ScanRequest = { scope: ScanScope | undefined; resume?: NonNullable<ScanState['running']> };

const sameScope = (a: ScanScope | undefined, b: ScanScope | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.bucket === b.bucket && (a.prefix ?? '') === (b.prefix ?? '');

/**
 * Background scanner: start() once, heal() for a cycle now, stop() before closing. Throttled:
 * scanObjectPauseMs after each checked record, scanChecksInFlightMax records checked at once, records read scanPageObjects at a time (one LMDB
 * read snapshot per page). The running cycle's position and the waiting heal requests are saved,
 * so both survive a restart.
 */
export class Scanner extends CycleWorker<ScanCycle> {
  /** The running cycle as of its last finished page: what a restart resumes (saved). */
  private checkpoint: ScanState['running'];
  private readonly waiting: ScanRequest[] = [];
  /** Records of the running cycle with shards on nodes that did not answer: checked once more at its end. */
  private unreachable: Array<{ record: ObjectRecord; first: ShardCheck }> = [];

  constructor(private readonly source: ScanSource, log: Logger, pauseMs = scanObjectPauseMs, private readonly recheckDelayMs = scanRecheckDelayMs) {
    super('scan', log, pauseMs);
  }

  /**
   * Resumes a cycle a restart cut short, and schedules a full cycle every `intervalMs` (config
   * scanIntervalHours; 0: none) after the last full one finished (first start: one interval from now).
   */
  async start(intervalMs: number): Promise<void> {
    this.intervalMs = intervalMs > 0 ? intervalMs : 0;
    const state = this.source.loadState();
    if (state === undefined) await this.checkpointSave();
    else this.lastFinishedMs = state.lastFinishedMs;
    if (state?.running) {
      this.log.info({ scope: state.running.cycle.scope, after: state.running.after, objects: state.running.cycle.objects }, 'resuming the scan cycle a restart interrupted');
      this.waiting.push({ scope: state.running.cycle.scope, resume: state.running });
    }
    for (const request of state?.waiting ?? []) this.waiting.push({ scope: request.scope });
    this.kick();
    this.scheduleNext();
  }

  /**
   * Asks for a cycle over `scope` (absent: everything); resolves once the request is saved (it
   * survives a restart from then on), before the cycle runs. While a cycle runs, the request
   * waits; a request equal to one already waiting is dropped, and a full cycle replaces waiting
   * scoped ones. At most one full or scanWaitingMax scoped requests wait.
   */
  heal(scope?: ScanScope): Promise<void> {
    if (this.isStopped) return Promise.resolve();
    if (!this.waiting.some((r) => r.scope === undefined || sameScope(r.scope, scope))) {
      if (scope === undefined || this.waiting.length >= scanWaitingMax) {
        const resumed = this.waiting.filter((r) => r.resume !== undefined);
        this.waiting.splice(0, this.waiting.length, ...resumed, { scope: undefined });
      } else {
        this.waiting.push({ scope });
      }
    }
    const saved = this.save();
    this.kick();
    return saved;
  }

  /** True while a cycle runs or a requested one waits. */
  busy(): boolean {
    return this.isRunning || this.waiting.length > 0;
  }

  /** Runs one cycle over `scope` now (after any running one) and resolves with its counts. */
  runCycle(scope?: ScanScope): Promise<ScanCycle> {
    return this.runExclusive(() => this.cycle({ scope }));
  }

  /** No more cycles; resolves when the record being checked is done (the saved state resumes it). */
  override async stop(): Promise<void> {
    const stopped = super.stop();
    this.waiting.length = 0;
    await stopped;
  }

  /** The timer's full cycle: requested like an operator's heal. */
  protected override due(): void {
    this.heal().catch((err: unknown) => this.log.error({ err }, 'could not save the scan request'));
  }

  /** Runs the waiting requests in order; a failed cycle is logged and the next one runs. */
  protected async work(): Promise<void> {
    for (;;) {
      const next = this.isStopped ? undefined : this.waiting.shift();
      if (next === undefined) return;
      await this.cycle(next).catch((err: unknown) => this.log.error({ err }, 'scan cycle failed'));
    }
  }

  private async cycle(request: ScanRequest): Promise<ScanCycle> {
    const { scope } = request;
    const counts: ScanCycle = request.resume?.cycle ?? {
      ...(scope !== undefined ? { scope } : {}), objects: 0, checked: 0, shards: 0, queued: 0, unreachable: 0, failed: 0, startedMs: Date.now(), finishedMs: 0,
    };
    let after = request.resume?.after;
    this.unreachable = [];
    this.current = counts;
    this.checkpoint = { cycle: { ...counts }, ...(after !== undefined ? { after } : {}) };
    try {
      await this.checkpointSave();
      for (;;) {
        const page = this.source.records(scanPageObjects, after, scope);
        // Up to scanChecksInFlightMax records of the page are checked at once (a check waits on
        // stat calls to every node of the record); the checkpoint is saved at page ends only.
        let next = 0;
        const checker = async (): Promise<void> => {
          while (next < page.length && !this.isStopped) {
            const record = page[next++]!;
            counts.objects++;
            if (!this.source.responsible(record)) continue;
            counts.checked++;
            await this.checkOne(record, counts);
            await this.pace();
          }
        };
        await Promise.all(Array.from({ length: scanChecksInFlightMax }, checker));
        if (this.isStopped) return { ...counts };
        if (page.length < scanPageObjects) break;
        const last = page[page.length - 1]!;
        after = { bucket: last.bucket, key: last.key };
        this.checkpoint = { cycle: { ...counts }, after };
        await this.checkpointSave();
      }
      await this.recheckUnreachable(counts);
      counts.finishedMs = Date.now();
      if (scope === undefined) this.lastFinishedMs = counts.finishedMs;
      this.current = undefined;
      this.checkpoint = undefined;
      await this.checkpointSave();
      if (scope === undefined) this.scheduleNext();
      this.last = { ...counts };
      this.log.info(counts, 'scan cycle finished');
      return { ...counts };
    } finally {
      this.current = undefined;
      this.checkpoint = undefined;
    }
  }

  /** Checks one record and adds what it found to `counts`; a failed check is counted and logged. */
  private async checkOne(record: ObjectRecord, counts: ScanCycle): Promise<void> {
    try {
      const check = await this.source.check(record);
      counts.shards += check.shards;
      counts.queued += check.queued;
      counts.unreachable += check.unreachable;
      if (check.unreachable > 0 && this.unreachable.length < scanRecheckMax) this.unreachable.push({ record, first: check });
    } catch (err) {
      counts.failed++;
      this.log.warn({ err, bucket: record.bucket, key: record.key }, 'scan could not check an object');
    }
  }

  /**
   * A node that just restarted can miss the first calls of a cycle (its peers' connections to the
   * old process time out first), so records with unreachable shards are checked again after the
   * walk: first scanRecheckFirstDelayMs later, then after doubling delays until recheckDelayMs in
   * all has passed, each round only those still unreachable. A peer back within a fraction of a
   * second costs the cycle that fraction, not the whole delay. The cycle's unreachable count is
   * what is still unreachable at the last round.
   */
  private async recheckUnreachable(counts: ScanCycle): Promise<void> {
    let pending = this.unreachable;
    this.unreachable = [];
    let waitedMs = 0;
    let delayMs = Math.min(scanRecheckFirstDelayMs, this.recheckDelayMs);
    while (pending.length > 0 && !this.isStopped && waitedMs < this.recheckDelayMs) {
      const wait = Math.min(delayMs, this.recheckDelayMs - waitedMs);
      await this.rest(wait);
      waitedMs += wait;
      delayMs *= 2;
      const still: typeof pending = [];
      for (const item of pending) {
        if (this.isStopped) return;
        const { record, first } = item;
        try {
          const check = await this.source.check(record);
          counts.queued += Math.max(0, check.queued - first.queued); // shards first unreachable, found missing now
          counts.unreachable -= first.unreachable - check.unreachable;
          if (check.unreachable > 0) still.push({ record, first: check });
        } catch (err) {
          this.log.warn({ err, bucket: record.bucket, key: record.key }, 'scan could not check an object');
        }
      }
      pending = still;
    }
  }

  /** save(), tolerating a metadata store that cannot commit (CycleWorker.saveProgress). */
  private checkpointSave(): Promise<void> {
    return this.saveProgress(() => this.save());
  }

  /** Saves the schedule anchor, the running cycle's position and the waiting requests. */
  private save(): Promise<void> {
    const state: ScanState = { lastFinishedMs: this.lastFinishedMs };
    if (this.checkpoint !== undefined) state.running = this.checkpoint;
    const waiting = this.waiting.filter((r) => r.resume === undefined).map((r) => (r.scope !== undefined ? { scope: r.scope } : {}));
    if (waiting.length > 0) state.waiting = waiting;
    return this.source.saveState(state);
  }
}
