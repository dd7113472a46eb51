// Deletes shard files of data items that nothing references any more (the meta gc queue), at
// its own pace, never while a reader has the data item pinned. Runs at start-up (crash
// recovery) and after every write that replaced or dropped data.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/meta-store.js';
import type { ShardStoreSet } from '../store/shard-store.js';
import { CoalescingRunner } from '../util/coalescing-runner.js';
import { gcConcurrencyMax } from '../util/limits.js';

/** gc entries fetched per pass. */
export const gcBatchMax = 256;
/** Pause between passes while pinned entries remain, in ms. */
export const gcRetryDelayMs = 1000;

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
export class GarbageCollector {
  private readonly runner = new CoalescingRunner(() => this.run());
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly meta: MetaStore,
    private readonly drives: ShardStoreSet,
    private readonly pins: DataPins,
    private readonly log: Logger,
  ) {}

  kick(): void {
    this.runner.kick();
  }

  private async run(): Promise<void> {
    let skipped = 0;
    try {
      while (!this.runner.isStopped) {
        const queued = this.meta.listGc(gcBatchMax);
        const batch = queued.filter((ref) => !this.pins.has(ref.dataId));
        skipped = queued.length - batch.length;
        if (batch.length === 0) break;
        // Shards on an offline drive stay behind as orphans; a scan of that drive finds them later.
        const deletions = batch.flatMap((ref) => ref.shardIds.map((id, i) => ({ id, store: this.drives.store(ref.drives[i] ?? '') })));
        for (let i = 0; i < deletions.length; i += gcConcurrencyMax) {
          await Promise.all(deletions.slice(i, i + gcConcurrencyMax).map(({ id, store }) => store?.delete(id).catch(() => undefined)));
        }
        await this.meta.removeGc(batch.map((ref) => ref.dataId));
        this.log.debug({ dataItems: batch.length, shards: deletions.length }, 'gc deleted shards');
        if (queued.length < gcBatchMax) break;
      }
    } catch (err) {
      this.log.error({ err }, 'gc pass failed; will retry');
      skipped = 1;
    }
    if (skipped > 0 && !this.runner.isStopped && !this.retryTimer) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.kick();
      }, gcRetryDelayMs);
      this.retryTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.runner.stop();
  }
}
