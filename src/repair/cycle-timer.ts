// When a periodic worker (scan, scrub) runs next. Its schedule is anchored to the durable time its
// last full cycle finished, not to process start, so a node restarted more often than the
// interval still runs every cycle on time.

/** Longest single timer step, in ms: setTimeout fires at once for delays of 2^31 ms or more. */
const timerStepMaxMs = 24 * 3_600_000;

/** One pending wake-up at an absolute time; schedule() replaces it. Timers never hold the process open. */
export class CycleTimer {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly fire: () => void) {}

  /** Calls fire() at `dueMs` (ms since the Unix epoch), at once when it has passed. */
  schedule(dueMs: number): void {
    this.cancel();
    const waitMs = Math.max(0, dueMs - Date.now());
    this.timer = waitMs > timerStepMaxMs ? setTimeout(() => this.schedule(dueMs), timerStepMaxMs) : setTimeout(this.fire, waitMs);
    this.timer.unref();
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
