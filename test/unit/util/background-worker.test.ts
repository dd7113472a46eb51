// BackgroundWorker: one pass at a time with coalescing kicks, idle interval and wake-ups, a pace
// that stop() cuts short, exclusive runs that kicks queue behind, and rejected passes logged.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BackgroundWorker } from '../../../src/util/background-worker.js';
import { waitFor } from '../../helpers/wait.js';

/** A worker whose pass counts itself, then waits for release() (or rests `restMs` when set). */
class TestWorker extends BackgroundWorker {
  passes = 0;
  /** Log lines at error level, parsed. */
  readonly logged: Array<{ msg: string; err?: { message: string } }>;
  failNext = false;
  restMs = 0;
  private releases: Array<() => void> = [];

  constructor(itemPauseMs = 0) {
    const logged: TestWorker['logged'] = [];
    super(pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) }), { failedMessage: 'test pass failed', itemPauseMs });
    this.logged = logged;
  }

  /** Ends the pass waiting for it, once there is one. */
  async release(): Promise<void> {
    await waitFor(() => this.releases.length > 0, 2_000, 'a pass to wait for release');
    for (const release of this.releases.splice(0)) release();
  }

  every(intervalMs: number): void {
    this.runEvery(intervalMs);
  }

  at(dueMs: number): void {
    this.wakeAt(dueMs);
  }

  after(delayMs: number): void {
    this.wakeAfter(delayMs);
  }

  exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.runExclusive(job);
  }

  running(): boolean {
    return this.isRunning;
  }

  protected async work(): Promise<void> {
    this.passes++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('boom');
    }
    if (this.restMs > 0) return this.rest(this.restMs);
    await this.pace();
    await new Promise<void>((resolve) => this.releases.push(resolve));
  }
}

describe('BackgroundWorker', () => {
  it('runs one pass per kick when idle and one more for any kicks during a pass; none after stop()', async () => {
    const worker = new TestWorker();
    worker.kick();
    worker.kick();
    worker.kick();
    expect(worker.passes).toBe(1);
    expect(worker.running()).toBe(true);
    await worker.release();
    await waitFor(() => worker.passes === 2, 2_000, 'the coalesced pass');
    await worker.release();
    await waitFor(() => !worker.running(), 2_000, 'the worker to go idle');
    expect(worker.passes).toBe(2);
    worker.kick();
    const stopping = worker.stop();
    worker.kick();
    await worker.release();
    await stopping;
    expect(worker.passes).toBe(3);
  });

  it('kicks every idle interval until stopped', async () => {
    const worker = new TestWorker();
    worker.every(20);
    await waitFor(() => worker.passes === 1, 2_000, 'the first idle pass');
    await worker.release();
    await waitFor(() => worker.passes === 2, 2_000, 'the second idle pass');
    const stopping = worker.stop();
    await worker.release();
    await stopping;
    const passes = worker.passes;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(worker.passes).toBe(passes);
  });

  it('wakeAfter keeps a pending wake-up, wakeAt replaces it, and stop() cancels it', async () => {
    const worker = new TestWorker();
    worker.at(Date.now() + 60_000);
    worker.after(10); // a wake-up is pending: kept
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(worker.passes).toBe(0);
    worker.at(Date.now()); // replaces it: due now
    await waitFor(() => worker.passes === 1, 2_000, 'the wake-up pass');
    await worker.release();
    await waitFor(() => !worker.running(), 2_000, 'the worker to go idle');
    worker.after(20);
    await worker.stop();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(worker.passes).toBe(1);
  });

  it('stop() ends a rest and an item pace at once, and waits for the pass', async () => {
    const resting = new TestWorker();
    resting.restMs = 60_000;
    resting.kick();
    const restStarted = Date.now();
    await resting.stop();
    expect(Date.now() - restStarted).toBeLessThan(1_000);

    const paced = new TestWorker(60_000);
    paced.kick();
    const stopping = paced.stop();
    await paced.release(); // the pace ended at once; the pass goes on to its end

    await stopping;
    expect(paced.passes).toBe(1);
  });

  it('runs an exclusive job after the running pass, and a kick during it after the job', async () => {
    const worker = new TestWorker();
    worker.kick();
    const order: string[] = [];
    const job = worker.exclusive(async () => {
      order.push(`job after ${worker.passes} pass`);
      worker.kick(); // waits for the job
      order.push(`passes during job: ${worker.passes}`);
      return 42;
    });
    await worker.release();
    expect(await job).toBe(42);
    await waitFor(() => worker.passes === 2, 2_000, 'the pass kicked during the job');
    expect(order).toEqual(['job after 1 pass', 'passes during job: 1']);
    await worker.release();
    await worker.stop();
  });

  it('logs a pass that rejects, and the next kick runs a new pass', async () => {
    const worker = new TestWorker();
    worker.failNext = true;
    worker.kick();
    await waitFor(() => worker.logged.length === 1, 2_000, 'the failed pass to be logged');
    expect(worker.logged[0]).toMatchObject({ msg: 'test pass failed', err: { message: 'boom' } });
    await waitFor(() => !worker.running(), 2_000, 'the worker to go idle');
    worker.kick();
    expect(worker.passes).toBe(2);
    await worker.release();
    await worker.stop();
  });
});
