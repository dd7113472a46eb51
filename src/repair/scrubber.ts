// Scrub: each node re-reads every shard file on its own drives at its own pace and verifies every
// block against its bitrot hash, so corruption nobody read yet is found and queued for the
// reconstructor before a second failure makes it unrecoverable. One shard at a time, with a pause
// between shards; a full cycle every config scrubIntervalHours.
import type { Logger } from 'pino';
import type { ShardStore } from '../store/shard-store.js';
import { CoalescingRunner } from '../util/coalescing-runner.js';
import { scrubShardPauseMs } from '../util/limits.js';

/** What scrub needs from the node: its local drives, and the check of one shard (ObjectLayer.scrubShard). */
export interface ScrubSource {
  stores(): ShardStore[];
  scrub(store: ShardStore, shardId: string): Promise<'ok' | 'repair-queued' | 'unowned'>;
}

/** One cycle's counts. */
export interface ScrubCycle {
  shards: number;
  ok: number;
  repairQueued: number;
  unowned: number;
  /** Shards whose read failed for another reason (a failing drive); they are tried next cycle. */
  failed: number;
  startedMs: number;
  finishedMs: number;
}

/** Background scrub worker: start() once, stop() before closing; runCycle() for tests and `heal`. */
export class Scrubber {
  private readonly runner = new CoalescingRunner(async () => {
    this.last = await this.cycle();
  });
  private timer: NodeJS.Timeout | undefined;
  private last: ScrubCycle | undefined;

  constructor(private readonly source: ScrubSource, private readonly log: Logger, private readonly pauseMs = scrubShardPauseMs) {}

  /** A cycle every `intervalMs` (config scrubIntervalHours), the first one interval after start; 0: never. */
  start(intervalMs: number): void {
    if (!(intervalMs > 0)) return;
    this.timer = setInterval(() => this.runner.kick(), intervalMs);
    this.timer.unref();
  }

  /** The last finished cycle, if any. */
  lastCycle(): ScrubCycle | undefined {
    return this.last;
  }

  /** Runs one full cycle now and resolves with its counts. */
  async runCycle(): Promise<ScrubCycle> {
    this.last = await this.cycle();
    return this.last;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.runner.stop();
  }

  private async cycle(): Promise<ScrubCycle> {
    const counts: ScrubCycle = { shards: 0, ok: 0, repairQueued: 0, unowned: 0, failed: 0, startedMs: Date.now(), finishedMs: 0 };
    for (const store of this.source.stores()) {
      for await (const shardId of store.list()) {
        if (this.runner.isStopped) return { ...counts, finishedMs: Date.now() };
        counts.shards++;
        try {
          const outcome = await this.source.scrub(store, shardId);
          if (outcome === 'ok') counts.ok++;
          else if (outcome === 'repair-queued') counts.repairQueued++;
          else counts.unowned++;
        } catch (err) {
          counts.failed++;
          this.log.warn({ err, shardId }, 'scrub could not read a shard');
        }
        if (this.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
      }
    }
    counts.finishedMs = Date.now();
    this.log.info(counts, 'scrub cycle finished');
    return counts;
  }
}
