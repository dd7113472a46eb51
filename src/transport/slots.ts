// The call semaphore both transports use, for calls to one peer (PeerState) and for inbound calls
// of a whole listener: at most `max` slots held, at most `queueMax` callers waiting, and a released
// slot passes straight to the first waiter, so an acquire() between a release and that waiter's
// wake-up can never push the count past `max`.
import { TesseraError } from '../util/errors.js';

export interface CallSlotsOptions {
  /** Slots held at once, >= 1. */
  max: number;
  /** Callers waiting at once; one more fails with PeerBusy. Default: unbounded (the caller bounds it). */
  queueMax?: number;
  /** What the PeerBusy message names, e.g. "node 3" or "inbound calls". */
  what: string;
  /** The rejection of a wait whose signal aborts; default: the signal's reason. */
  abortedError?: () => Error;
}

/** A bounded counting semaphore with a bounded FIFO wait queue and direct hand-off. */
export class CallSlots {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly options: CallSlotsOptions) {}

  /** Slots held right now. */
  get inUse(): number {
    return this.held;
  }

  /** Callers waiting right now. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a slot; returns its release function (idempotent). Throws PeerBusy when queueMax
   * callers already wait, and rejects a wait whose `signal` aborts (see abortedError).
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.held < this.options.max && this.waiting.length === 0) {
      this.held++;
      return this.releaser();
    }
    if (signal?.aborted) throw this.aborted(signal);
    const queueMax = this.options.queueMax ?? Number.POSITIVE_INFINITY;
    if (this.waiting.length >= queueMax) throw new TesseraError('PeerBusy', `${this.waiting.length} calls already wait for ${this.options.what}`);
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(this.aborted(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
    return this.releaser(); // the releasing holder handed its slot over: `held` already counts it
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.held--;
    };
  }

  private aborted(signal: AbortSignal): Error {
    return this.options.abortedError?.() ?? (signal.reason as Error);
  }
}
