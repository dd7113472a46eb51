// CallSlots, the semaphore behind per-peer calls (PeerState) and each transport's inbound calls:
// bound, FIFO hand-off, queue bound, abort while waiting.
import { describe, expect, it } from 'vitest';
import { CallSlots } from '../../../src/transport/slots.js';

describe('CallSlots', () => {
  it('holds at most max, wakes waiters in order, and counts each release once', async () => {
    const slots = new CallSlots({ max: 2, what: 'the test' });
    const first = await slots.acquire();
    const second = await slots.acquire();
    const woken: number[] = [];
    const waiters = [1, 2, 3].map((n) => slots.acquire().then((release) => { woken.push(n); return release; }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(slots.inUse).toBe(2);
    expect(slots.queued).toBe(3);
    first();
    first(); // idempotent: frees nothing more
    await new Promise((resolve) => setImmediate(resolve));
    expect(woken).toEqual([1]);
    expect(slots.inUse).toBe(2);
    second();
    const [r1, r2] = await Promise.all([waiters[0]!, waiters[1]!]);
    expect(woken).toEqual([1, 2]);
    r1();
    r2();
    (await waiters[2]!)();
    expect(slots.inUse).toBe(0);
    expect(slots.queued).toBe(0);
  });

  it('refuses past queueMax with PeerBusy naming what is waited for', async () => {
    const slots = new CallSlots({ max: 1, queueMax: 1, what: 'an inbound call slot' });
    await slots.acquire();
    void slots.acquire();
    await expect(slots.acquire()).rejects.toMatchObject({ code: 'PeerBusy', message: expect.stringContaining('an inbound call slot') });
  });

  it('rejects a wait whose signal aborts with the signal reason, or with abortedError, and forgets it', async () => {
    const plain = new CallSlots({ max: 1, what: 'x' });
    const release = await plain.acquire();
    const controller = new AbortController();
    const waiting = plain.acquire(controller.signal);
    controller.abort(new Error('deadline'));
    await expect(waiting).rejects.toThrow('deadline');
    expect(plain.queued).toBe(0);
    release();
    expect(plain.inUse).toBe(0);

    const typed = new CallSlots({ max: 1, what: 'y', abortedError: () => Object.assign(new Error('aborted'), { code: 'CallAborted' }) });
    await typed.acquire();
    await expect(typed.acquire(AbortSignal.abort())).rejects.toMatchObject({ code: 'CallAborted' });
  });
});
