// MetaWriteGuard with commits that fail the ways lmdb-js reports them (a rejected transaction with
// a `commitError` promise, an Error with a numeric errno `code`) or never settle: the typed error,
// the health it reports, one warning when a failure streak starts and one when it clears, the
// probe that clears it without client writes, and the bound on a stalled commit.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isMetaStoreUnavailable, MetaWriteGuard } from '../../../src/meta/meta-health.js';
import { TesseraError } from '../../../src/util/errors.js';
import { metaStoreLowFreeBytes, metaStoreProbeIntervalMs, metaStoreRecoveryQuietMs } from '../../../src/util/limits.js';
import { rejectionCodeOf } from '../../helpers/error-code.js';
import { captureLog } from '../../helpers/log-capture.js';

/** What lmdb-js rejects a queued transaction with when its commit fails with errno `code`. */
function commitFailure(code: number): Error {
  const cause = Object.assign(new Error(code === 28 ? 'No space left on device' : 'Input/output error'), { code });
  const commitError = Promise.reject(cause);
  return Object.assign(new Error('Commit failed (see commitError for details)'), { commitError });
}

/** What an LMDB write throws inside a transaction (mdb_put, mdb_page_spill). */
function writeFailure(code: number): Error {
  return Object.assign(new Error('Input/output error'), { code });
}

function guard(options: { freeBytes?: number; stallMs?: number; probe?: () => Promise<void> } = {}) {
  const { log, messages } = captureLog();
  let probes = 0;
  const holder: { guard?: MetaWriteGuard } = {};
  const g = new MetaWriteGuard({
    path: '/nowhere', log,
    probe: options.probe ?? (async () => {
      probes++;
      await holder.guard!.run(async () => undefined);
    }),
    freeBytes: async () => options.freeBytes,
    ...(options.stallMs !== undefined ? { stallMs: options.stallMs } : {}),
  });
  holder.guard = g;
  return { g, warnings: () => messages(40), probes: () => probes };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MetaWriteGuard', () => {
  it('turns a commit failing with ENOSPC into MetadataStoreFull, and handles lmdb-js commitError', async () => {
    const { g, warnings } = guard({ freeBytes: 0 });
    const err = await g.run(() => Promise.reject(commitFailure(28))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(isMetaStoreUnavailable(err)).toBe(true);
    expect((err as TesseraError).code).toBe('MetadataStoreFull');
    expect(g.health()).toMatchObject({ state: 'full', failedWrites: 1, error: 'ENOSPC', freeBytes: 0 });
    expect(warnings()).toEqual(['metadata store full: writes fail (MetadataStoreFull) until space is freed on its filesystem; reads go on']);
    g.close();
  });

  it('reads EIO (LMDB short write) as full only while the filesystem is low on space, else as failing', async () => {
    const low = guard({ freeBytes: metaStoreLowFreeBytes - 1 });
    expect(await rejectionCodeOf(low.g.run(() => Promise.reject(writeFailure(5))))).toBe('MetadataStoreFull');
    expect(low.g.health()).toMatchObject({ state: 'full', error: 'EIO' });
    const roomy = guard({ freeBytes: 100 * metaStoreLowFreeBytes });
    expect(await rejectionCodeOf(roomy.g.run(() => Promise.reject(commitFailure(5))))).toBe('MetadataStoreFailed');
    expect(roomy.g.health()).toMatchObject({ state: 'failing', error: 'EIO' });
    expect(await rejectionCodeOf(roomy.g.run(() => Promise.reject(writeFailure(-30792))))).toBe('MetadataStoreFull'); // MDB_MAP_FULL
    expect(roomy.warnings()).toHaveLength(2); // failing, then full: one line per change of state
    low.g.close();
    roomy.g.close();
  });

  it('passes the action\'s own errors through unchanged and leaves health alone', async () => {
    const { g, warnings } = guard({ freeBytes: 0 });
    const noBucket = new TesseraError('NoSuchBucket', 'bucket does not exist');
    expect(await g.run(() => Promise.reject(noBucket)).catch((e: unknown) => e)).toBe(noBucket);
    const bug = new Error('not an LMDB error');
    expect(await g.run(() => Promise.reject(bug)).catch((e: unknown) => e)).toBe(bug);
    expect(await g.run(async () => 42)).toBe(42);
    expect(g.health()).toEqual({ state: 'ok' });
    expect(warnings()).toEqual([]);
    g.close();
  });

  it('warns once per episode, and clears after a quiet period through its probe, with no client write', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const { g, warnings, probes } = guard({ freeBytes: 0 });
    for (let i = 0; i < 20; i++) expect(await rejectionCodeOf(g.run(() => Promise.reject(commitFailure(28))))).toBe('MetadataStoreFull');
    expect(g.health()).toMatchObject({ state: 'full', failedWrites: 20 });
    // A small write that fits right after a failure does not end the episode yet (no flapping).
    expect(await g.run(async () => 'fits')).toBe('fits');
    expect(g.health().state).toBe('full');
    await vi.advanceTimersByTimeAsync(metaStoreProbeIntervalMs);
    expect(probes()).toBe(1);
    expect(g.health().state).toBe(metaStoreProbeIntervalMs >= metaStoreRecoveryQuietMs ? 'ok' : 'full');
    await vi.advanceTimersByTimeAsync(metaStoreRecoveryQuietMs + metaStoreProbeIntervalMs);
    expect(g.health()).toEqual({ state: 'ok' });
    expect(warnings()).toEqual([
      'metadata store full: writes fail (MetadataStoreFull) until space is freed on its filesystem; reads go on',
      'metadata store commits again: writes are accepted',
    ]);
    const probed = probes();
    await vi.advanceTimersByTimeAsync(10 * metaStoreProbeIntervalMs);
    expect(probes()).toBe(probed); // no probing while ok
    g.close();
  });

  it('fails a commit that does not settle within the stall bound, refuses writes at once until it does, then recovers', async () => {
    const { g } = guard({ freeBytes: 0, stallMs: 50 });
    let settle: (value: string) => void = () => undefined;
    const stuck = new Promise<string>((resolve) => {
      settle = resolve;
    });
    const started = Date.now();
    const err = await g.run(() => stuck).catch((e: unknown) => e);
    expect((err as TesseraError).code).toBe('MetadataStoreFailed');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(g.health()).toMatchObject({ state: 'failing', error: 'commit stalled for 50 ms' });
    let called = false;
    expect(await rejectionCodeOf(g.run(async () => {
      called = true;
    }))).toBe('MetadataStoreFailed');
    expect(called).toBe(false); // refused without queueing behind the stalled commit
    settle('late');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await g.run(async () => 'next')).toBe('next');
    // A commit known to be long (the index backfill at open) is not bounded.
    expect(await g.run(() => new Promise((resolve) => setTimeout(resolve, 150, 'slow')), { unbounded: true })).toBe('slow');
    g.close();
  });
});
