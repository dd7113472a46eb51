// Per-peer bookkeeping shared by both transports: a bounded call slot semaphore with a bounded
// wait queue (callsPerPeerMax, callQueuePerPeerMax) and the health counters behind
// Transport.health(). Connection management stays in each transport.
import { callFailuresToDown, callQueuePerPeerMax, callsPerPeerMax, reconnectBackoffMaxMs, reconnectBackoffMinMs } from '../util/limits.js';
import { TesseraError } from '../util/errors.js';
import type { PeerAddress, PeerHealth } from './transport.js';

/** Slots, queue and health of one peer. */
export class PeerState {
  readonly peer: PeerAddress;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private consecutiveFailures = 0;
  private lastOkMs = 0;
  private lastError: string | undefined;

  constructor(peer: PeerAddress, private readonly slots = callsPerPeerMax, private readonly queueMax = callQueuePerPeerMax) {
    this.peer = peer;
  }

  /**
   * Waits for a call slot; returns the release function (call it exactly once). Throws PeerBusy
   * when queueMax calls already wait, CallAborted when `signal` fires while waiting.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inFlight < this.slots) {
      this.inFlight++;
      return this.releaser();
    }
    if (this.waiting.length >= this.queueMax) {
      throw new TesseraError('PeerBusy', `${this.waiting.length} calls already wait for node ${this.peer.nodeId}`);
    }
    // A released slot is handed straight to the first waiter (inFlight stays counted), so a new
    // acquire() between the release and the waiter's wake-up cannot take it too.
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new TesseraError('CallAborted', `call to node ${this.peer.nodeId} aborted while waiting for a slot`));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    };
  }

  /** A call or connection to the peer succeeded. */
  succeeded(): void {
    this.consecutiveFailures = 0;
    this.lastOkMs = Date.now();
  }

  /** A connection failed, broke or a call timed out (not handler errors, which prove the peer is up). */
  failed(reason: string): void {
    this.consecutiveFailures++;
    this.lastError = reason;
  }

  /** Wait before the next reconnection attempt, in ms: doubling from the minimum, capped. */
  backoffMs(): number {
    if (this.consecutiveFailures === 0) return 0;
    return Math.min(reconnectBackoffMaxMs, reconnectBackoffMinMs * 2 ** Math.min(this.consecutiveFailures - 1, 16));
  }

  health(): PeerHealth {
    return {
      nodeId: this.peer.nodeId,
      up: this.consecutiveFailures < callFailuresToDown,
      consecutiveFailures: this.consecutiveFailures,
      lastOkMs: this.lastOkMs,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      inFlight: this.inFlight,
    };
  }
}
