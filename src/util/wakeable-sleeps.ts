// Sleeps that can be ended early, all at once: the rests of background work, which stop() (or an
// operator's change of pace) must not wait out.

/** The pending sleeps of one worker or throttle; wakeAll() resolves every one of them now. */
export class WakeableSleeps {
  private readonly wakers = new Set<() => void>();

  /** Resolves after `ms`, or at the next wakeAll(), whichever comes first; never rejects. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** Ends every pending sleep now (sleeps started later wait as usual). */
  wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
