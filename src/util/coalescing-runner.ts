// Runs one async job at a time for a background worker: kick() starts it, or, while it runs,
// asks for exactly one more run after it; however many kicks arrive, at most one run waits.
// The engine of BackgroundWorker (background-worker.ts).

/** Coalesces kicks of `job` into at most one running and one pending run. */
export class CoalescingRunner {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  /** `job` must not reject: a rejection would go unhandled (BackgroundWorker catches for it). */
  constructor(private readonly job: () => Promise<void>) {}

  /** Starts a run now, or one more after the current run; nothing once stopped. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.track(this.job());
  }

  /**
   * Runs `job` once the current run (and a run kicked during it) finished, in their place: kicks
   * meanwhile wait for it. Runs after stop() too (a test's explicit cycle); resolves or rejects as `job` does.
   */
  async runExclusive<T>(job: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    let settle: () => void = () => undefined;
    this.track(new Promise<void>((resolve) => (settle = resolve))); // before job(): a kick in its first step waits too
    try {
      return await job();
    } finally {
      settle();
    }
  }

  /** True while a run is in progress. */
  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** True once stop() was called: a long job checks it between steps. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** No more runs; resolves when the current one finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private track(run: Promise<void>): void {
    this.running = run.finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }
}
