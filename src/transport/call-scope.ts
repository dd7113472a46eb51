// One call's cancellation, shared by the QUIC and TCP transports on both sides of a call: a
// deadline timer, the caller's signal and transport close, as one AbortSignal.
import { TesseraError } from '../util/errors.js';

/** Abort reason of a call's leftovers once the call is over; never reaches a caller. */
export const callEnded = new TesseraError('CallEnded', 'call is over');

/** One call's cancellation: a deadline timer, the caller's signal, transport close. */
export class CallScope {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private readonly onExternalAbort: (() => void) | undefined;

  constructor(private readonly scopes: Set<CallScope>, timeoutMs: number, timeoutError: () => TesseraError, private readonly external?: AbortSignal, abortedError?: () => TesseraError) {
    scopes.add(this);
    this.rearm(timeoutMs, timeoutError);
    if (external !== undefined && abortedError !== undefined) {
      this.onExternalAbort = () => this.abort(abortedError());
      if (external.aborted) this.onExternalAbort();
      else external.addEventListener('abort', this.onExternalAbort, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Restarts the deadline: `timeoutMs` from now. */
  rearm(timeoutMs: number, timeoutError: () => TesseraError): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort(timeoutError()), Math.max(0, timeoutMs));
  }

  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
    this.dispose();
  }

  /** Ends the call: pending waits of its leftovers (e.g. a request body still being sent) stop. */
  end(): void {
    this.abort(callEnded);
  }

  /** Stops the timer and forgets the listeners; idempotent. */
  dispose(): void {
    clearTimeout(this.timer);
    if (this.onExternalAbort !== undefined) this.external?.removeEventListener('abort', this.onExternalAbort);
    this.scopes.delete(this);
  }
}

