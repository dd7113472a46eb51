// Scrub: each node re-reads every shard file on its own drives at its own pace and verifies every
// block against its bitrot hash, so corruption nobody read yet is found and queued for the
// reconstructor before a second failure makes it unrecoverable. One shard at a time, with a pause
// between shards; a full cycle every config scrubIntervalHours after the last one finished. The
// walk is in shard id order and its position is saved in LMDB every scrubCheckpointShards shards,
// so a cycle cut by a restart resumes where it stopped instead of starting over. A save the
// metadata store cannot commit (a full disk) does not stop the cycle: it is logged once per streak.
import type { Logger } from 'pino';
import type { ShardStore } from '../store/shard-store.js';
import { scrubCheckpointShards, scrubShardPauseMs } from '../util/limits.js';
import { CycleWorker } from './cycle-worker.js';

/** One cycle's counts. */
export interface ScrubCycle {
  shards: number;
  ok: number;
  repairQueued: number;
  unowned: number;
  /** Shards whose read failed for another reason (a failing drive); they are tried next cycle. */
  failed: number;
  startedMs: number;
  /** 0 while the cycle runs. */
  finishedMs: number;
}

/** What scrub keeps in LMDB (MetaStore worker state 'scrub'). */
export interface ScrubState {
  /** When the last cycle finished, or the node first started: the schedule's anchor. */
  lastFinishedMs: number;
  /** The cycle in progress: counts so far, and the drive and shard id it finished last. */
  running?: { cycle: ScrubCycle; driveId?: string; after?: string };
}

/** What scrub needs from the node: its local drives, the check of one shard (ObjectLayer.scrubShard), its saved state. */
export interface ScrubSource {
  /** This node's online drives. */
  stores(): Array<{ driveId: string; store: ShardStore }>;
  scrub(store: ShardStore, shardId: string): Promise<'ok' | 'repair-queued' | 'unowned'>;
  loadState(): ScrubState | undefined;
  /** Durable when resolved. */
  saveState(state: ScrubState): Promise<void>;
}

/** Background scrub worker: start() once, stop() before closing; runCycle() for tests. */
export class Scrubber extends CycleWorker<ScrubCycle> {
  private resume: ScrubState['running'];

  constructor(private readonly source: ScrubSource, log: Logger, pauseMs = scrubShardPauseMs) {
    super('scrub', log, pauseMs);
  }

  /**
   * Resumes a cycle a restart cut short, and runs a cycle every `intervalMs` (config
   * scrubIntervalHours; 0: never) after the last one finished (first start: one interval from now).
   */
  async start(intervalMs: number): Promise<void> {
    this.intervalMs = intervalMs > 0 ? intervalMs : 0;
    if (this.intervalMs === 0) return;
    const state = this.source.loadState();
    if (state === undefined) await this.save({ lastFinishedMs: this.lastFinishedMs });
    else this.lastFinishedMs = state.lastFinishedMs;
    this.resume = state?.running;
    if (this.resume) {
      this.log.info({ driveId: this.resume.driveId, after: this.resume.after, shards: this.resume.cycle.shards }, 'resuming the scrub cycle a restart interrupted');
      this.kick();
    } else {
      this.scheduleNext();
    }
  }

  /** Runs one full cycle now (after a running one) and resolves with its counts. */
  runCycle(): Promise<ScrubCycle> {
    return this.runExclusive(() => this.cycle());
  }

  /** A timed or resumed cycle; the next one is scheduled however it ended. */
  protected async work(): Promise<void> {
    try {
      await this.cycle();
    } finally {
      this.scheduleNext();
    }
  }

  private save(state: ScrubState): Promise<void> {
    return this.saveProgress(() => this.source.saveState(state));
  }

  private async cycle(): Promise<ScrubCycle> {
    const resume = this.resume;
    this.resume = undefined;
    const counts: ScrubCycle = resume?.cycle ?? { shards: 0, ok: 0, repairQueued: 0, unowned: 0, failed: 0, startedMs: Date.now(), finishedMs: 0 };
    this.current = counts;
    try {
      const stores = this.source.stores().sort((a, b) => (a.driveId < b.driveId ? -1 : a.driveId > b.driveId ? 1 : 0));
      for (const { driveId, store } of stores) {
        if (resume?.driveId !== undefined && driveId < resume.driveId) continue;
        let sinceSave = 0;
        for await (const shardId of store.list(resume?.driveId === driveId ? resume.after : undefined)) {
          if (this.isStopped) return { ...counts };
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
          if (++sinceSave >= scrubCheckpointShards) {
            sinceSave = 0;
            await this.save({ lastFinishedMs: this.lastFinishedMs, running: { cycle: { ...counts }, driveId, after: shardId } });
          }
          await this.pace();
        }
      }
      counts.finishedMs = Date.now();
      this.lastFinishedMs = counts.finishedMs;
      await this.save({ lastFinishedMs: this.lastFinishedMs });
      this.last = { ...counts };
      this.log.info(counts, 'scrub cycle finished');
      return { ...counts };
    } finally {
      this.current = undefined;
    }
  }
}
