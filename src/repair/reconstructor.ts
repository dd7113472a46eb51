// The reconstructor: drains this node's durable repair queue (shards that reads found missing or
// corrupt, and that writes missed), up to repairConcurrencyMax shards at once while no client is
// served here, one at a time with rests while clients are (RepairThrottle). An entry leaves the queue only when
// its shard was rebuilt and verified, or its data is gone (overwritten or deleted); a failed
// repair stays queued and is retried after repairRetryDelayMs, across restarts too. While the
// metadata store cannot commit (a full disk), passes pause with backoff and rebuilt shards wait
// in memory to leave the queue, so nothing is rebuilt twice for it.
import type { Logger } from 'pino';
import { MetaOutage } from '../meta/meta-outage.js';
import type { RepairEntry } from '../meta/types.js';
import { BackgroundWorker } from '../util/background-worker.js';
import { RateWindow } from '../util/rate-window.js';
import { isTesseraError } from '../util/errors.js';
import { repairBatchMax, repairConcurrencyMax, repairIdleIntervalMs, repairRetryDelayMs } from '../util/limits.js';
import { RepairThrottle } from './repair-throttle.js';

/** The repair queue as the reconstructor uses it (MetaStore's repair methods). */
export interface RepairQueue {
  listRepairs(limit: number, after?: Pick<RepairEntry, 'dataId' | 'shardIndex'>): RepairEntry[];
  removeRepairs(entries: readonly Pick<RepairEntry, 'dataId' | 'shardIndex'>[]): Promise<void>;
}

/** What one repair did: rebuilt the shard, found its data no longer referenced, or found the shard in place in full already. */
export type RepairOutcome = { rebuilt: true; bytes: number } | { rebuilt: false; reason: 'data-gone' | 'present' };

/**
 * Rebuilds the shard of one entry; throws when it cannot yet (drive offline, too few shards), or
 * RepairDeferred when its data is not referenced yet (a part of an upload in progress).
 */
export type RepairShard = (entry: RepairEntry) => Promise<RepairOutcome>;

/** Counters for status and tests. */
export interface ReconstructorStats {
  rebuilt: number;
  rebuiltBytes: number;
  dropped: number;
  failed: number;
}

/** Background worker over a RepairQueue: start() once, kick() after queueing, stop() before closing. */
export class Reconstructor extends BackgroundWorker {
  private readonly stats: ReconstructorStats = { rebuilt: 0, rebuiltBytes: 0, dropped: 0, failed: 0 };
  private readonly rebuiltBytesRate = new RateWindow();
  private readonly rebuiltShardsRate = new RateWindow();
  /** `${dataId}/${shardIndex}` -> earliest next attempt (ms), for entries that failed in this process. */
  private readonly retryAt = new Map<string, number>();
  private cursor: Pick<RepairEntry, 'dataId' | 'shardIndex'> | undefined;
  private started = false;
  /** Entries settled (rebuilt or dropped) whose removal from the queue failed: removed first next pass. */
  private unremoved: RepairEntry[] = [];
  /** While removals fail because the metadata store cannot commit. */
  private readonly outage: MetaOutage;

  /**
   * `throttle` sets the pace (default: never busy, full speed); `scanning()` says whether a scan
   * may still queue entries, so a high priority lasts until the queue is empty and no scan runs.
   */
  constructor(
    private readonly queue: RepairQueue,
    private readonly repair: RepairShard,
    log: Logger,
    private readonly throttle = new RepairThrottle(),
    private readonly scanning: () => boolean = () => false,
  ) {
    super(log, { failedMessage: 'repair pass failed' });
    this.outage = new MetaOutage(log, {
      paused: 'repairs paused: the metadata store cannot commit; retrying with backoff',
      resumed: 'repairs resumed: the metadata store commits again',
    });
  }

  /** Starts the periodic pass (every repairIdleIntervalMs) and runs one now. */
  start(): void {
    this.started = true;
    this.runEvery(repairIdleIntervalMs);
    this.kick();
  }

  /** Runs a pass soon (now, or after the current one); nothing before start(). */
  override kick(): void {
    if (this.started) super.kick();
  }

  counters(): ReconstructorStats {
    return { ...this.stats };
  }

  /** Rebuild rates over the last minute: bytes (shard file bytes written) and shards per second. */
  rates(): { bytesPerSecond: number; shardsPerSecond: number } {
    return { bytesPerSecond: this.rebuiltBytesRate.perSecond(), shardsPerSecond: this.rebuiltShardsRate.perSecond() };
  }

  /**
   * An operator asked for a heal: entries waiting out repairRetryDelayMs after a failure (their node
   * was down then) are tried again in the next pass, which starts now.
   */
  retryNow(): void {
    this.retryAt.clear();
    this.kick();
  }

  /** Lifts the throttle until the queue is empty with no scan running, for repairPriorityHighMaxMs at most. */
  prioritize(durationMs: number): void {
    this.throttle.prioritize(durationMs);
    this.kick();
  }

  /** Stops the timer and waits for the shards being repaired (a repair is never cut in half). */
  override async stop(): Promise<void> {
    this.throttle.stop();
    await super.stop();
  }

  /**
   * One pass: up to repairBatchMax entries from where the last pass stopped (wrapping to the
   * start), rebuilt by up to repairConcurrencyMax slots as the throttle admits; entries waiting for
   * a retry are skipped without any I/O. The cursor keeps entries deferred at the head of the
   * queue from starving the rest.
   */
  protected async work(): Promise<void> {
    if (this.outage.waitMs() > 0 || !(await this.removeSettled())) return;
    let entries = this.queue.listRepairs(repairBatchMax, this.cursor);
    if (entries.length === 0 && this.cursor !== undefined) entries = this.queue.listRepairs(repairBatchMax);
    this.cursor = entries.length === repairBatchMax ? entries[entries.length - 1] : undefined;
    if (entries.length === 0 && !this.scanning()) this.throttle.prioritize(0);
    const tally = { settled: 0, waiting: 0, removalFailed: false };
    let next = 0;
    const slot = async (index: number): Promise<void> => {
      for (;;) {
        const over = (): boolean => this.isStopped || tally.removalFailed || next >= entries.length;
        await this.throttle.admit(index, over); // a slot the throttle holds back leaves once the batch is taken
        if (over()) return;
        const entry = entries[next++]!;
        if ((this.retryAt.get(idOf(entry)) ?? 0) > Date.now()) continue;
        const startedMs = Date.now();
        await this.repairOne(entry, tally);
        await this.throttle.rest(Date.now() - startedMs);
      }
    };
    await Promise.all(Array.from({ length: repairConcurrencyMax }, (_, index) => slot(index)));
    if (this.isStopped || tally.removalFailed) return;
    if (this.cursor !== undefined && tally.settled > 0) this.kick(); // more queued behind this batch: one more pass after this
    if (tally.waiting > 0) this.log.info({ waiting: tally.waiting }, 'shard repairs wait for drives or nodes that are down; retrying');
    const now = Date.now();
    for (const [id, at] of this.retryAt) if (at <= now) this.retryAt.delete(id); // due again: the queue still holds them
  }

  /** Rebuilds one entry and removes it from the queue once settled; failures wait repairRetryDelayMs. */
  private async repairOne(entry: RepairEntry, tally: { settled: number; waiting: number; removalFailed: boolean }): Promise<void> {
    const id = idOf(entry);
    try {
      const outcome = await this.repair(entry);
      this.retryAt.delete(id);
      tally.settled++;
      this.unremoved.push(entry);
      if (outcome.rebuilt) {
        this.stats.rebuilt++;
        this.stats.rebuiltBytes += outcome.bytes;
        this.rebuiltBytesRate.add(outcome.bytes);
        this.rebuiltShardsRate.add(1);
        this.log.info({ dataId: entry.dataId, shardIndex: entry.shardIndex, driveId: entry.driveId, reason: entry.reason, bytes: outcome.bytes }, 'shard rebuilt');
      } else {
        this.stats.dropped++;
        this.log.debug({ dataId: entry.dataId, shardIndex: entry.shardIndex }, 'repair dropped: data no longer referenced');
      }
      if (!(await this.removeSettled())) tally.removalFailed = true;
    } catch (err) {
      this.retryAt.set(id, Date.now() + repairRetryDelayMs);
      if (isTesseraError(err, 'RepairDeferred')) return; // e.g. a part of a multipart upload not completed yet
      this.stats.failed++;
      if (isTesseraError(err, 'StorageIOError')) tally.waiting++; // its drive or node is down: expected, summarised after the pass
      else this.log.warn({ err, dataId: entry.dataId, shardIndex: entry.shardIndex, driveId: entry.driveId }, 'shard repair failed; will retry');
    }
  }

  /**
   * Removes settled entries from the queue; false when that failed (they are tried again first
   * next pass; while the metadata store cannot commit, passes pause with backoff).
   */
  private async removeSettled(): Promise<boolean> {
    if (this.unremoved.length === 0) return true;
    // Slots settle entries while a removal runs: each removal takes what is there when it starts.
    const batch = this.unremoved;
    this.unremoved = [];
    try {
      await this.queue.removeRepairs(batch);
    } catch (err) {
      this.unremoved = [...batch, ...this.unremoved];
      if (this.outage.failed(err, { settled: this.unremoved.length }) === undefined) {
        this.log.warn({ err, settled: this.unremoved.length }, 'could not remove repaired shards from the repair queue; will retry');
      }
      return false;
    }
    this.outage.succeeded();
    return true;
  }
}

function idOf(entry: Pick<RepairEntry, 'dataId' | 'shardIndex'>): string {
  return `${entry.dataId}/${entry.shardIndex}`;
}
