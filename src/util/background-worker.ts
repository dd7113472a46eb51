// The skeleton every background worker shares (gc, completed-upload sweep, scan, scrub, repair,
// rebalance), after Garage's Worker and tranquilizer: one pass at a time (a kick during a pass asks
// for exactly one more), passes every idle interval or at a wake-up time, a fixed rest between
// items that stop() cuts short, and stop() that waits for the pass in progress, never cutting an item in half.
import type { Logger } from 'pino';
import { CoalescingRunner } from './coalescing-runner.js';
import { CycleTimer } from './cycle-timer.js';
import { WakeableSleeps } from './wakeable-sleeps.js';

/** How a worker paces itself and what it logs when a pass fails. */
export interface BackgroundWorkerOptions {
  /** Logged at error level with `{ err }` when work() rejects (a pass's own failures are its own to log). */
  failedMessage: string;
  /** Rest after each item of a pass, in ms (0: none): its pace next to client requests. */
  itemPauseMs?: number;
}

/**
 * A background worker: subclasses implement work() (one pass) and call kick() when there is work;
 * start()-like methods of subclasses arm the idle interval (runEvery) or a wake-up (wakeAt, wakeAfter).
 */
export abstract class BackgroundWorker {
  private readonly runner: CoalescingRunner;
  private readonly wake = new CycleTimer(() => this.due());
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly resting = new WakeableSleeps();
  private readonly itemPauseMs: number;

  protected constructor(protected readonly log: Logger, options: BackgroundWorkerOptions) {
    this.itemPauseMs = options.itemPauseMs ?? 0;
    this.runner = new CoalescingRunner(() => this.work().catch((err: unknown) => this.log.error({ err }, options.failedMessage)));
  }

  /** Runs a pass now, or one more after the current one; nothing once stopped. */
  kick(): void {
    this.runner.kick();
  }

  /** No more passes or wake-ups; resolves when the pass in progress finished (rests end at once). */
  async stop(): Promise<void> {
    const stopped = this.runner.stop();
    clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    this.wake.cancel();
    this.resting.wakeAll();
    await stopped;
  }

  /** True once stop() was called: a long pass checks it between items. */
  protected get isStopped(): boolean {
    return this.runner.isStopped;
  }

  /** True while a pass runs. */
  protected get isRunning(): boolean {
    return this.runner.isRunning;
  }

  /** One pass. A rejection is logged as options.failedMessage; the next kick runs a new pass. */
  protected abstract work(): Promise<void>;

  /** What a wake-up (wakeAt, wakeAfter) does: kick() unless a subclass says otherwise. */
  protected due(): void {
    this.kick();
  }

  /** Kicks every `intervalMs` until stop(); the timer never holds the process open. */
  protected runEvery(intervalMs: number): void {
    clearInterval(this.idleTimer);
    this.idleTimer = setInterval(() => this.kick(), intervalMs);
    this.idleTimer.unref();
  }

  /** Calls due() at `dueMs` (ms since the Unix epoch), replacing a pending wake-up; none once stopped. */
  protected wakeAt(dueMs: number): void {
    if (!this.isStopped) this.wake.schedule(dueMs);
  }

  /** Calls due() in `delayMs` unless a wake-up is pending already (a retry after a failed pass). */
  protected wakeAfter(delayMs: number): void {
    if (!this.wake.pending) this.wakeAt(Date.now() + delayMs);
  }

  /** Runs `job` in place of a pass, after the current one (a cycle a caller waits for). */
  protected runExclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.runner.runExclusive(job);
  }

  /** The rest after one item of a pass (options.itemPauseMs); stop() ends it at once. */
  protected pace(): Promise<void> {
    return this.itemPauseMs > 0 ? this.rest(this.itemPauseMs) : Promise.resolve();
  }

  /** Resolves after `ms`, or at once when stop() is called meanwhile. */
  protected rest(ms: number): Promise<void> {
    return this.isStopped ? Promise.resolve() : this.resting.sleep(ms);
  }
}
