// The warm-up a bench cell gets: the configured one, but at least 3 s for large objects outside
// --quick (socket buffers along a 64 MiB transfer fill for seconds; see bench/cells.ts).
import { describe, expect, it } from 'vitest';
import { cellWarmupMs, largeObjectBytes, largeObjectWarmupMs } from '../../../bench/cells.js';

describe('cellWarmupMs', () => {
  it('keeps the configured warm-up below 16 MiB and with --quick, and raises it for large objects', () => {
    expect(cellWarmupMs({ warmupMs: 400, quick: false }, 1024 * 1024)).toBe(400);
    expect(cellWarmupMs({ warmupMs: 150, quick: true }, 64 * 1024 * 1024)).toBe(150);
    expect(cellWarmupMs({ warmupMs: 400, quick: false }, largeObjectBytes)).toBe(largeObjectWarmupMs);
    expect(cellWarmupMs({ warmupMs: 5_000, quick: false }, 64 * 1024 * 1024)).toBe(5_000);
  });
});
