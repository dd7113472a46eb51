// The reconstructor's pace under RepairThrottle, with an in-memory repair queue and rebuilds that
// finish when the test says: up to repairConcurrencyMax at once while no client is served, one
// at a time (with rests) while clients are, and full speed again at high priority.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RepairEntry } from '../../../src/meta/types.js';
import { Reconstructor, type RepairOutcome, type RepairQueue } from '../../../src/repair/reconstructor.js';
import { RepairThrottle } from '../../../src/repair/repair-throttle.js';
import { repairConcurrencyMax } from '../../../src/util/limits.js';
import { waitFor } from '../../helpers/wait.js';

const log = pino({ level: 'silent' });

/** A RepairQueue in memory, in (dataId, shardIndex) order like the LMDB one. */
class MemoryQueue implements RepairQueue {
  entries: RepairEntry[] = [];
  listRepairs(limit: number, after?: Pick<RepairEntry, 'dataId' | 'shardIndex'>): RepairEntry[] {
    const later = after === undefined ? this.entries : this.entries.filter((e) => e.dataId > after.dataId || (e.dataId === after.dataId && e.shardIndex > after.shardIndex));
    return later.slice(0, limit);
  }
  async removeRepairs(entries: readonly Pick<RepairEntry, 'dataId' | 'shardIndex'>[]): Promise<void> {
    this.entries = this.entries.filter((e) => !entries.some((r) => r.dataId === e.dataId && r.shardIndex === e.shardIndex));
  }
}

/** Rebuilds that wait until released; counts how many run at once. */
class HeldRepairs {
  running = 0;
  peak = 0;
  done = 0;
  private readonly waiting: Array<() => void> = [];
  readonly repair = async (): Promise<RepairOutcome> => {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running--;
    this.done++;
    return { rebuilt: true, bytes: 1 };
  };
  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}

function entries(count: number): RepairEntry[] {
  return Array.from({ length: count }, (_, i) => ({ dataId: `d${String(i).padStart(3, '0')}`, shardIndex: 0, driveId: 'n1', reason: 'missing', bucket: 'b', key: `k${i}`, recordedMs: 0 }));
}

let reconstructor: Reconstructor | undefined;
afterEach(async () => {
  await reconstructor?.stop();
  reconstructor = undefined;
});

describe('RepairThrottle', () => {
  it('rebuilds repairConcurrencyMax shards at once while no client is served', async () => {
    const queue = new MemoryQueue();
    queue.entries = entries(10);
    const held = new HeldRepairs();
    reconstructor = new Reconstructor(queue, held.repair, log, new RepairThrottle(() => false));
    reconstructor.start();
    await waitFor(() => held.running === repairConcurrencyMax, 2_000, `${repairConcurrencyMax} rebuilds running`);
    while (queue.entries.length > 0) {
      held.releaseAll();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(held.peak).toBe(repairConcurrencyMax);
    expect(held.done).toBe(10);
  });

  it('rebuilds one at a time while clients are served, and at full width again at high priority', async () => {
    const queue = new MemoryQueue();
    queue.entries = entries(12);
    const held = new HeldRepairs();
    const throttle = new RepairThrottle(() => true);
    reconstructor = new Reconstructor(queue, held.repair, log, throttle, () => true);
    reconstructor.start();
    await waitFor(() => held.running === 1, 2_000, 'one rebuild running');
    await new Promise((resolve) => setTimeout(resolve, 300)); // slots past the first keep waiting
    expect(held.running).toBe(1);
    held.releaseAll();
    await waitFor(() => held.done === 1, 2_000, 'first rebuild done');
    expect(throttle.concurrency()).toBe(1);

    reconstructor.prioritize(60_000);
    expect(throttle.prioritized()).toBe(true);
    await waitFor(() => held.running === repairConcurrencyMax, 2_000, `${repairConcurrencyMax} rebuilds running at high priority`);
    while (queue.entries.length > 0) {
      held.releaseAll();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(held.done).toBe(12);
  });

  it('while clients are served, drains the whole queue one at a time and ends each pass (entries queued later are taken too)', async () => {
    const queue = new MemoryQueue();
    queue.entries = entries(3);
    let done = 0;
    const quick = async (): Promise<RepairOutcome> => {
      done++;
      return { rebuilt: true, bytes: 1 };
    };
    reconstructor = new Reconstructor(queue, quick, log, new RepairThrottle(() => true));
    reconstructor.start();
    await waitFor(() => queue.entries.length === 0, 5_000, 'the first three repaired');
    queue.entries = entries(2).map((e) => ({ ...e, dataId: `z${e.dataId}` }));
    reconstructor.kick(); // a new pass runs only if the last one ended
    await waitFor(() => queue.entries.length === 0, 5_000, 'the two queued later repaired');
    expect(done).toBe(5);
  });

  it('retryNow (an operator\'s heal) tries again at once an entry that failed, instead of after repairRetryDelayMs', async () => {
    const queue = new MemoryQueue();
    queue.entries = entries(1);
    let attempts = 0;
    const failsOnce = async (): Promise<RepairOutcome> => {
      attempts++;
      if (attempts === 1) throw new Error('node down');
      return { rebuilt: true, bytes: 1 };
    };
    reconstructor = new Reconstructor(queue, failsOnce, log, new RepairThrottle(() => false));
    reconstructor.start();
    await waitFor(() => attempts === 1, 2_000, 'the first attempt');
    await new Promise((resolve) => setTimeout(resolve, 200));
    reconstructor.kick();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(attempts).toBe(1); // waiting out its retry delay
    reconstructor.retryNow();
    await waitFor(() => queue.entries.length === 0, 2_000, 'the retried entry repaired');
    expect(attempts).toBe(2);
  });

  it('rests after each rebuild while clients are served, tranquility times as long as it took', async () => {
    const throttle = new RepairThrottle(() => true);
    const started = Date.now();
    await throttle.rest(50);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    const idle = new RepairThrottle(() => false);
    const idleStarted = Date.now();
    await idle.rest(500);
    expect(Date.now() - idleStarted).toBeLessThan(50);
  });
});
