// How hard repair may run at each moment (Garage's tranquilizer, made adaptive): with no client
// request on this node for repairQuietMs, or while an operator asked for high priority, up to
// repairConcurrencyMax shards are rebuilt at once with no pause; while clients are served, one at
// a time, and after each rebuild repair rests repairTranquility times as long as it took, so it
// takes at most 1 / (1 + repairTranquility) of one rebuild slot.
import { repairConcurrencyMax, repairQuietMs, repairTranquility, repairThrottlePollMs } from '../util/limits.js';
import { WakeableSleeps } from '../util/wakeable-sleeps.js';

/** The repair pace: admit() before a rebuild, rest() after it. */
export class RepairThrottle {
  private highUntilMs = 0;
  private stopped = false;
  private readonly sleeps = new WakeableSleeps();

  /** `busy(quietMs)`: clients served now or within the last quietMs (RequestActivity.busy). */
  constructor(private readonly busy: (quietMs: number) => boolean = () => false) {}

  /** Rebuilds that may run at once now: repairConcurrencyMax when idle or prioritized, else 1. */
  concurrency(nowMs = Date.now()): number {
    return this.prioritized(nowMs) || !this.busy(repairQuietMs) ? repairConcurrencyMax : 1;
  }

  /** True while an operator's high priority holds (`s3d admin heal --priority high`). */
  prioritized(nowMs = Date.now()): boolean {
    return nowMs < this.highUntilMs;
  }

  /** Lifts the throttle for `durationMs` from now (0 ends it). */
  prioritize(durationMs: number): void {
    this.highUntilMs = durationMs > 0 ? Date.now() + durationMs : 0;
    this.sleeps.wakeAll();
  }

  /**
   * Resolves when rebuild slot `slot` (0-based) may start (at once when slot < concurrency()), or
   * as soon as `done()` says there is nothing left for it to take.
   */
  async admit(slot: number, done: () => boolean = () => false): Promise<void> {
    while (!this.stopped && !done() && slot >= this.concurrency()) await this.sleeps.sleep(repairThrottlePollMs);
  }

  /** After a rebuild that took `tookMs`: rests tookMs x repairTranquility while clients are served. */
  async rest(tookMs: number): Promise<void> {
    if (this.stopped || this.concurrency() === repairConcurrencyMax) return;
    await this.sleeps.sleep(tookMs * repairTranquility);
  }

  /** Ends every wait now and for good (the worker is stopping). */
  stop(): void {
    this.stopped = true;
    this.sleeps.wakeAll();
  }
}
