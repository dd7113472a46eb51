// Runs one async job at a time for a background worker: kick() starts it, or, while it runs,
// asks for exactly one more run after it; however many kicks arrive, at most one run waits.
// Used by the gc and the reconstructor.

/** Coalesces kicks of `job` into at most one running and one pending run. */
export class CoalescingRunner {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly job: () => Promise<void>) {}

  /** Starts a run now, or one more after the current run; nothing once stopped. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.job().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
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
}
