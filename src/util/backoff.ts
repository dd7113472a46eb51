// A background worker's pause while something it depends on keeps failing (the metadata store on
// a full disk, see meta/meta-outage.ts): the delay doubles from a floor to a ceiling, and fail() and
// succeed() say when a streak of failures starts and ends, so the worker logs those, not each failure.
import { metaBackoffMaxMs, metaBackoffMinMs } from './limits.js';

/** Doubling backoff between `minMs` and `maxMs` (default metaBackoffMinMs..metaBackoffMaxMs). */
export class Backoff {
  private delayMs = 0;
  private nextTryMs = 0;

  constructor(private readonly minMs = metaBackoffMinMs, private readonly maxMs = metaBackoffMaxMs) {}

  /** Records a failure; returns the pause (ms) before the next try and whether it began a streak. */
  fail(nowMs = Date.now()): { delayMs: number; first: boolean } {
    const first = this.delayMs === 0;
    this.delayMs = first ? this.minMs : Math.min(this.delayMs * 2, this.maxMs);
    this.nextTryMs = nowMs + this.delayMs;
    return { delayMs: this.delayMs, first };
  }

  /** Records a success; true when it ended a streak of failures. */
  succeed(): boolean {
    const ended = this.delayMs > 0;
    this.delayMs = 0;
    this.nextTryMs = 0;
    return ended;
  }

  /** Milliseconds left of the pause after the last failure (0: try now). */
  waitMs(nowMs = Date.now()): number {
    return Math.max(0, this.nextTryMs - nowMs);
  }
}
