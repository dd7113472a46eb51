// Scrub: each node re-reads every shard file on its own drives at its own pace and verifies every
// block against its bitrot hash, so corruption nobody read yet is found and queued for the
// reconstructor before a second failure makes it unrecoverable. One shard at a time, with a pause
// between shards; a full cycle every config scrubIntervalHours after the last one finished. The
// walk is in shard id order and its position is saved in LMDB every scrubCheckpointShards shards,
// so a cycle cut by a restart resumes where it stopped instead of starting over. A save the
// metadata store cannot commit (a full disk) does not stop the cycle: it is logged once per streak.
import type { Logger } from 'pino';
import { MetaOutage } from '../meta/meta-outage.js';
import type { ShardStore } from '../store/shard-store.js';
import { scrubCheckpointShards, scrubShardPauseMs } from '../util/limits.js';
import { CycleTimer } from './cycle-timer.js';

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
export class Scrubber {
  private readonly timer = new CycleTimer(() => this.kick());
  private intervalMs = 0;
  private lastFinishedMs = Date.now();
  private resume: ScrubState['running'];
  private running: Promise<void> | undefined;
  private current: ScrubCycle | undefined;
  private last: ScrubCycle | undefined;
  private stopped = false;
  /** While saves fail because the metadata store cannot commit (one warning per streak). */
  private readonly saving: MetaOutage;

  constructor(private readonly source: ScrubSource, private readonly log: Logger, private readonly pauseMs = scrubShardPauseMs) {
    this.saving = new MetaOutage(log, {
      paused: 'scrub progress not saved: the metadata store cannot commit; the scrub goes on',
      resumed: 'scrub progress saved again',
    });
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
      this.timer.schedule(this.lastFinishedMs + this.intervalMs);
    }
  }

  /** The cycle in progress (counts so far), if any. */
  progress(): ScrubCycle | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  /** The last finished cycle in this process, if any. */
  lastCycle(): ScrubCycle | undefined {
    return this.last;
  }

  /** Runs one full cycle now (after a running one) and resolves with its counts. */
  async runCycle(): Promise<ScrubCycle> {
    while (this.running !== undefined) await this.running;
    const done = this.cycle();
    this.running = done.then(() => undefined, () => undefined);
    try {
      return await done;
    } finally {
      this.running = undefined;
    }
  }

  /** No more cycles; resolves when the shard being read is done (the saved state resumes the cycle). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer.cancel();
    await this.running;
  }

  private kick(): void {
    if (this.running !== undefined || this.stopped) return;
    this.running = this.cycle()
      .then(() => undefined, (err: unknown) => this.log.error({ err }, 'scrub cycle failed'))
      .finally(() => {
        this.running = undefined;
        if (this.intervalMs > 0 && !this.stopped) this.timer.schedule(this.lastFinishedMs + this.intervalMs);
      });
  }

  /**
   * Saves `state`; a metadata store that cannot commit is logged (once per streak), not thrown:
   * the cycle goes on, and a restart before the next save repeats some of it.
   */
  private async save(state: ScrubState): Promise<void> {
    try {
      await this.source.saveState(state);
    } catch (err) {
      if (this.saving.failed(err) === undefined) throw err;
      return;
    }
    this.saving.succeeded();
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
          if (this.stopped) return { ...counts };
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
          if (this.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
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
