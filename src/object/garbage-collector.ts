// Deletes shard files of data items that nothing references any more (the meta gc queue), at
// its own pace, never while a reader has the data item pinned. Runs at start-up (crash
// recovery) and after every write that replaced or dropped data. While the metadata store cannot
// commit (a full disk) it backs off, and it also moves to its queue the pending data items whose
// failed writes could not do so themselves.
import type { Logger } from 'pino';
import { isMetaStoreUnavailable } from '../meta/meta-health.js';
import { MetaOutage } from '../meta/meta-outage.js';
import type { MetaStore } from '../meta/meta-store.js';
import type { DataRef } from '../meta/types.js';
import type { ShardStoreSet } from '../store/shard-store.js';
import { BackgroundWorker } from '../util/background-worker.js';
import { gcConcurrencyMax } from '../util/limits.js';

/** gc entries fetched per pass. */
export const gcBatchMax = 256;
/** Pause between passes while pinned or failed entries remain, in ms. */
export const gcRetryDelayMs = 1000;
/** An entry whose shards could not all be deleted is tried again after this long, in ms. */
export const gcFailedRetryMs = 30_000;
/** ...for this long after its first failure, in ms; then it is dropped (orphans stay). */
export const gcFailedKeepMs = 24 * 3_600_000;
/** Failing entries whose first failure time is tracked. */
export const gcFailedTrackedMax = 100_000;

/** Counts readers per data id so its shards outlive every GET that started before a replace. */
export class DataPins {
  private readonly counts = new Map<string, number>();

  pin(dataIds: string[]): () => void {
    for (const id of dataIds) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of dataIds) {
        const left = (this.counts.get(id) ?? 1) - 1;
        if (left <= 0) this.counts.delete(id);
        else this.counts.set(id, left);
      }
    };
  }

  has(dataId: string): boolean {
    return this.counts.has(dataId);
  }
}

/** The gc worker: call kick() after any commit that queued garbage; stop() before closing. */
export class GarbageCollector extends BackgroundWorker {
  /** Where the next batch starts (dataId), so entries that keep failing never starve the rest. */
  private cursor: string | undefined;
  /** dataId -> when its deletion may be tried again (failed before). */
  private readonly retryAt = new Map<string, number>();
  /** dataId -> when its deletion first failed (at most gcFailedTrackedMax tracked). */
  private readonly failedSince = new Map<string, number>();
  /** Pending data items of failed writes still to move to the gc queue (abandonPending failed). */
  private readonly abandoned = new Set<string>();
  /** While metadata commits fail. */
  private readonly outage: MetaOutage;

  /**
   * `pinnedElsewhere`: which of the given data ids readers in this node's other processes have
   * pinned (config `workers` > 1); their shards wait like locally pinned ones. Absent: none.
   */
  constructor(
    private readonly meta: MetaStore,
    private readonly drives: ShardStoreSet,
    private readonly pins: DataPins,
    log: Logger,
    private readonly pinnedElsewhere?: (dataIds: string[]) => Promise<ReadonlySet<string>>,
  ) {
    super(log, { failedMessage: 'gc pass failed; will retry' });
    this.outage = new MetaOutage(log, {
      paused: 'gc paused: the metadata store cannot commit; retrying with backoff',
      resumed: 'gc resumed: the metadata store commits again',
    });
  }

  /**
   * Moves pending data item `dataId` (a write that failed) to the gc queue now, or, when the
   * metadata store cannot commit, in a later run (a restart does it too: pending items are garbage).
   */
  async abandon(dataId: string): Promise<void> {
    try {
      await this.meta.abandonPending(dataId);
    } catch (err) {
      this.abandoned.add(dataId);
      if (!isMetaStoreUnavailable(err)) this.log.error({ err, dataId }, 'could not queue the data of a failed write for deletion; will retry');
      this.kick();
    }
  }

  /**
   * One run: batches of gc entries from the cursor on (wrapping once). An entry leaves the queue
   * when every one of its shards is deleted or already absent. When a drive or node cannot delete
   * (offline, down), the entry stays and is tried again after gcFailedRetryMs, for up to
   * gcFailedKeepMs since its first failure in this process; then it is dropped with a warning and
   * its shards stay behind as orphans. Entries pinned by a reader wait for the reader.
   */
  protected async work(): Promise<void> {
    let waiting = false; // pinned entries: soon
    let failing = false; // entries whose drives did not delete: after gcFailedRetryMs
    const pausedMs = this.outage.waitMs();
    if (pausedMs > 0) return this.wakeAfter(pausedMs);
    try {
      for (const dataId of [...this.abandoned]) {
        await this.meta.abandonPending(dataId);
        this.abandoned.delete(dataId);
      }
      let wrapped = this.cursor === undefined;
      while (!this.isStopped) {
        const queued = this.meta.listGc(gcBatchMax, this.cursor);
        if (queued.length === 0) {
          if (wrapped) break;
          this.cursor = undefined;
          wrapped = true;
          continue;
        }
        this.cursor = queued.length === gcBatchMax ? queued[queued.length - 1]!.dataId : undefined;
        const now = Date.now();
        if (queued.some((ref) => this.pins.has(ref.dataId))) waiting = true;
        if (queued.some((ref) => (this.retryAt.get(ref.dataId) ?? 0) > now)) failing = true;
        const candidates = queued.filter((ref) => !this.pins.has(ref.dataId) && (this.retryAt.get(ref.dataId) ?? 0) <= now);
        const elsewhere = candidates.length > 0 && this.pinnedElsewhere ? await this.pinnedElsewhere(candidates.map((ref) => ref.dataId)) : new Set<string>();
        if (elsewhere.size > 0) waiting = true;
        const batch = candidates.filter((ref) => !elsewhere.has(ref.dataId));
        const done: string[] = [];
        for (let i = 0; i < batch.length; i += gcConcurrencyMax) {
          await Promise.all(batch.slice(i, i + gcConcurrencyMax).map(async (ref) => {
            if (await this.deleteShards(ref)) done.push(ref.dataId);
          }));
        }
        for (const dataId of done) {
          this.retryAt.delete(dataId);
          this.failedSince.delete(dataId);
        }
        const given = this.giveUp(batch.filter((ref) => !done.includes(ref.dataId)));
        if (given.length < batch.length - done.length) failing = true;
        await this.meta.removeGc([...done, ...given]);
        if (done.length > 0) this.log.debug({ dataItems: done.length }, 'gc deleted shards');
        if (this.cursor === undefined) {
          if (wrapped) break;
          wrapped = true;
        }
      }
      this.outage.succeeded();
    } catch (err) {
      const pausedMs = this.outage.failed(err);
      if (pausedMs !== undefined) return this.wakeAfter(pausedMs);
      this.log.error({ err }, 'gc pass failed; will retry');
      waiting = true;
    }
    if (waiting || failing) this.wakeAfter(waiting ? gcRetryDelayMs : gcFailedRetryMs);
  }

  /** Deletes every shard of `ref`; true when all are gone (absent counts as gone). */
  private async deleteShards(ref: DataRef): Promise<boolean> {
    const results = await Promise.all(ref.shardIds.map(async (id, i) => {
      const store = this.drives.store(ref.drives[i] ?? '');
      if (!store) return false;
      return store.delete(id).then(() => true, () => false);
    }));
    return results.every(Boolean);
  }

  /** Of entries whose deletion failed: schedules a retry, or returns those failing longer than gcFailedKeepMs. */
  private giveUp(failed: readonly DataRef[]): string[] {
    const now = Date.now();
    const given: string[] = [];
    for (const ref of failed) {
      const since = this.failedSince.get(ref.dataId) ?? now;
      if (now - since > gcFailedKeepMs) {
        this.log.warn({ dataId: ref.dataId, drives: ref.drives }, 'gc gives up deleting shards on drives or nodes that stayed unreachable; they remain as orphans');
        this.failedSince.delete(ref.dataId);
        this.retryAt.delete(ref.dataId);
        given.push(ref.dataId);
        continue;
      }
      if (this.failedSince.size < gcFailedTrackedMax || this.failedSince.has(ref.dataId)) this.failedSince.set(ref.dataId, since);
      this.retryAt.set(ref.dataId, now + gcFailedRetryMs);
    }
    return given;
  }
}
