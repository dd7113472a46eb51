// What scan and scrub share on top of BackgroundWorker: cycles over all this node holds, the next
// one intervalMs after the last full one finished (the anchor each saves in LMDB), the running
// cycle's counts and the last finished one's for `s3d admin status`, and progress saves that a
// metadata store unable to commit (a full disk) does not stop: logged once per streak, not thrown.
import type { Logger } from 'pino';
import { MetaOutage } from '../meta/meta-outage.js';
import { BackgroundWorker } from '../util/background-worker.js';

/** The times every cycle's counts carry. */
export interface CycleTimes {
  startedMs: number;
  /** 0 while the cycle runs. */
  finishedMs: number;
}

/** A worker that runs cycles of counts `C` ('scan' or 'scrub' names it in its log lines). */
export abstract class CycleWorker<C extends CycleTimes> extends BackgroundWorker {
  /** Between full cycles, in ms (0: none scheduled); set by start(). */
  protected intervalMs = 0;
  /** When the last full cycle finished, or the node first started: the schedule's anchor. */
  protected lastFinishedMs = Date.now();
  /** The running cycle's counts, updated in place while it runs. */
  protected current: C | undefined;
  /** The last cycle finished in this process. */
  protected last: C | undefined;
  /** While saves fail because the metadata store cannot commit (one warning per streak). */
  private readonly saving: MetaOutage;

  protected constructor(name: 'scan' | 'scrub', log: Logger, itemPauseMs: number) {
    super(log, { failedMessage: `${name} cycle failed`, itemPauseMs });
    this.saving = new MetaOutage(log, {
      paused: `${name} progress not saved: the metadata store cannot commit; the ${name} goes on`,
      resumed: `${name} progress saved again`,
    });
  }

  /** The cycle in progress (counts so far), if any. */
  progress(): C | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  /** The last finished cycle in this process, if any. */
  lastCycle(): C | undefined {
    return this.last;
  }

  /** Schedules the next full cycle at lastFinishedMs + intervalMs (none when intervalMs is 0 or stopped). */
  protected scheduleNext(): void {
    if (this.intervalMs > 0) this.wakeAt(this.lastFinishedMs + this.intervalMs);
  }

  /**
   * Runs `save`; a metadata store that cannot commit is logged (once per streak) rather than
   * thrown: the cycle goes on, and a restart before the next save repeats some of it. Other errors throw.
   */
  protected async saveProgress(save: () => Promise<void>): Promise<void> {
    try {
      await save();
    } catch (err) {
      if (this.saving.failed(err) === undefined) throw err;
      return;
    }
    this.saving.succeeded();
  }
}
