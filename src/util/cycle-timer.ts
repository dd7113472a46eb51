// When a background worker wakes next: one pending wake-up at an absolute time. Periodic workers
// (scan, scrub) anchor it to the durable time their last full cycle finished, not to process
// start, so a node restarted more often than the interval still runs every cycle on time.

/** Longest single timer step, in ms: setTimeout fires at once for delays of 2^31 ms or more. */
const timerStepMaxMs = 24 * 3_600_000;

/** One pending wake-up at an absolute time; schedule() replaces it. Timers never hold the process open. */
export class CycleTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly fire: () => void) {}

  /** True while a wake-up is scheduled and has not fired yet. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** Calls fire() at `dueMs` (ms since the Unix epoch), at once when it has passed. */
  schedule(dueMs: number): void {
    this.cancel();
    const waitMs = Math.max(0, dueMs - Date.now());
    this.timer = waitMs > timerStepMaxMs
      ? setTimeout(() => this.schedule(dueMs), timerStepMaxMs)
      : setTimeout(() => {
        this.timer = undefined;
        this.fire();
      }, waitMs);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
