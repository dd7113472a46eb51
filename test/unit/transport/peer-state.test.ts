// PeerState: call slots are never exceeded (a released slot goes straight to the first waiter),
// the wait queue is bounded, and health goes down after callFailuresToDown failures.
import { describe, expect, it } from 'vitest';
import { PeerState } from '../../../src/transport/peer-state.js';
import { callFailuresToDown } from '../../../src/util/limits.js';

const peer = { nodeId: 'node-2', host: '127.0.0.1', port: 1, publicKey: 'x'.repeat(43) };

describe('PeerState', () => {
  it('hands a released slot to the waiter: a new acquire in between waits too', async () => {
    const state = new PeerState(peer, 1, 4);
    const release = await state.acquire();
    const waiter = state.acquire();
    release();
    const late = state.acquire(); // arrives before the waiter runs
    const releaseWaiter = await waiter;
    expect(state.health().inFlight).toBe(1);
    releaseWaiter();
    (await late)();
    expect(state.health().inFlight).toBe(0);
  });

  it('refuses past the queue bound with PeerBusy and leaves on abort with CallAborted', async () => {
    const state = new PeerState(peer, 1, 1);
    const release = await state.acquire();
    const controller = new AbortController();
    const queued = state.acquire(controller.signal);
    await expect(state.acquire()).rejects.toMatchObject({ code: 'PeerBusy' });
    controller.abort();
    await expect(queued).rejects.toMatchObject({ code: 'CallAborted' });
    release();
    expect(state.health().inFlight).toBe(0);
  });

  it('counts as down after consecutive failures and up after a success', () => {
    const state = new PeerState(peer);
    for (let i = 0; i < callFailuresToDown; i++) state.failed('timeout');
    expect(state.health()).toMatchObject({ up: false, consecutiveFailures: callFailuresToDown, lastError: 'timeout' });
    expect(state.backoffMs()).toBeGreaterThan(0);
    state.succeeded();
    expect(state.health().up).toBe(true);
  });
});
