// Per-peer bookkeeping shared by the transports: a bounded call slot semaphore with a bounded
// wait queue (callsPerPeerMax, callQueuePerPeerMax) and the health counters behind
// Transport.health(). Connection attempts and backoff are peer-link.ts's.
import { callFailuresToDown, callQueuePerPeerMax, callsPerPeerMax, reconnectBackoffMaxMs, reconnectBackoffMinMs } from '../util/limits.js';
import { TesseraError } from '../util/errors.js';
import { CallSlots } from './slots.js';
import type { PeerAddress, PeerHealth } from './transport.js';

/** Slots, queue and health of one peer. */
export class PeerState {
  readonly peer: PeerAddress;
  private readonly slots: CallSlots;
  private consecutiveFailures = 0;
  private lastOkMs = 0;
  private lastError: string | undefined;

  constructor(peer: PeerAddress, slots = callsPerPeerMax, queueMax = callQueuePerPeerMax) {
    this.peer = peer;
    this.slots = new CallSlots({
      max: slots,
      queueMax,
      what: `node ${peer.nodeId}`,
      abortedError: () => new TesseraError('CallAborted', `call to node ${peer.nodeId} aborted while waiting for a slot`),
    });
  }

  /**
   * Waits for a call slot; returns the release function (call it exactly once). Throws PeerBusy
   * when queueMax calls already wait, CallAborted when `signal` fires while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    return this.slots.acquire(signal);
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
      inFlight: this.slots.inUse,
    };
  }
}
