// RateWindow: a per-second rate over the last minute from a fixed ring of one-second buckets.
import { describe, expect, it } from 'vitest';
import { RateWindow, rateWindowSeconds } from '../../../src/util/rate-window.js';

describe('RateWindow', () => {
  it('averages what arrived in the last minute and forgets older amounts', () => {
    const window = new RateWindow();
    const t0 = 1_700_000_000_000;
    window.add(600, t0);
    window.add(600, t0 + 500);
    window.add(1200, t0 + 30_000);
    expect(window.perSecond(t0 + 30_000)).toBe(2400 / rateWindowSeconds);
    expect(window.perSecond(t0 + 65_000)).toBe(1200 / rateWindowSeconds); // the first two aged out
    expect(window.perSecond(t0 + 200_000)).toBe(0);
    expect(window.sum).toBe(2400);
  });

  it('reuses a bucket a minute later without keeping its old sum', () => {
    const window = new RateWindow();
    const t0 = 1_700_000_000_000;
    window.add(1000, t0);
    window.add(60, t0 + rateWindowSeconds * 1000); // the same slot of the ring
    expect(window.perSecond(t0 + rateWindowSeconds * 1000)).toBe(1);
  });
});
