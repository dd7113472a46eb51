// CoalescingRunner: one run at a time, kicks during a run coalesce into one more, none after stop().
import { describe, expect, it } from 'vitest';
import { CoalescingRunner } from '../../../src/util/coalescing-runner.js';

describe('CoalescingRunner', () => {
  it('runs once per kick when idle, and once more for any number of kicks during a run', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const runner = new CoalescingRunner(async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
    });
    runner.kick();
    runner.kick();
    runner.kick();
    expect(runs).toBe(1);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2); // the coalesced follow-up
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
    runner.kick();
    expect(runs).toBe(3);
    const stopping = runner.stop();
    expect(runner.isStopped).toBe(true);
    runner.kick();
    release();
    await stopping;
    expect(runs).toBe(3);
  });
});
