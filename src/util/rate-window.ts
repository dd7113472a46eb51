// A moving rate over the last minute, for progress figures (`s3d admin status`): amounts are
// summed into one-second buckets in a fixed ring, so memory is constant however fast they arrive.

/** Seconds the rate is averaged over (and buckets in the ring). */
export const rateWindowSeconds = 60;

/** Sum of amounts over the last rateWindowSeconds, as a per-second rate. */
export class RateWindow {
  private readonly sums = new Float64Array(rateWindowSeconds);
  /** The second (Date.now() / 1000, floored) each bucket holds; -1 = empty. */
  private readonly seconds = new Float64Array(rateWindowSeconds).fill(-1);
  private total = 0;

  /** Adds `amount` (bytes, shards, ...) at `nowMs` (ms since the epoch). */
  add(amount: number, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % rateWindowSeconds;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.sums[slot] = 0;
    }
    this.sums[slot]! += amount;
    this.total += amount;
  }

  /** Amount per second over the last rateWindowSeconds before `nowMs` (the current second included). */
  perSecond(nowMs = Date.now()): number {
    const second = Math.floor(nowMs / 1000);
    let sum = 0;
    for (let slot = 0; slot < rateWindowSeconds; slot++) {
      const at = this.seconds[slot]!;
      if (at > second - rateWindowSeconds && at <= second) sum += this.sums[slot]!;
    }
    return sum / rateWindowSeconds;
  }

  /** Everything ever added. */
  get sum(): number {
    return this.total;
  }
}
