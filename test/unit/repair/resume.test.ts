// Scan and scrub survive restarts: each saves its position in real LMDB, a new worker on the same
// store resumes the cycle a stop cut short (no record or shard is walked twice, none is skipped),
// and the schedule is anchored to the saved time of the last finished cycle, not to process start.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LmdbMetaStore } from '../../../src/meta/lmdb-meta-store.js';
import { Scanner, type ScanSource, type ScanState } from '../../../src/repair/scanner.js';
import { Scrubber, type ScrubState } from '../../../src/repair/scrubber.js';
import { LocalShardStore } from '../../../src/store/local-shard-store.js';
import { scanPageObjects, scrubCheckpointShards } from '../../../src/util/limits.js';
import { objectRecord, tempStore } from '../meta/helpers.js';
import { waitFor } from '../../helpers/wait.js';

const log = pino({ level: 'silent' });
let store: LmdbMetaStore;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, cleanup } = await tempStore());
  await store.createBucket({ name: 'b', createdMs: 1, location: '' });
});
afterEach(async () => {
  await cleanup();
});

const keyOf = (i: number): string => `k${String(i).padStart(4, '0')}`;

function scanSource(checked: string[], onCheck: () => void = () => undefined): ScanSource {
  return {
    records: (limit, after, scope) => store.scanObjects(limit, after, scope),
    responsible: () => true,
    check: async (record) => {
      checked.push(record.key);
      onCheck();
      return { shards: 6, queued: 0, unreachable: 0 };
    },
    loadState: () => store.workerState<ScanState>('scan'),
    saveState: (state) => store.saveWorkerState('scan', state),
  };
}

describe('Scanner across a restart', () => {
  it('resumes the interrupted cycle after its last saved page and finishes it', async () => {
    const total = scanPageObjects * 2 + 50;
    await Promise.all(Array.from({ length: total }, (_, i) => store.putObject(objectRecord('b', keyOf(i)))));
    const before: string[] = [];
    let stopping: Promise<void> | undefined;
    const first: Scanner = new Scanner(scanSource(before, () => {
      if (before.length === scanPageObjects + 10) stopping = first.stop();
    }), log, 0);
    await first.start(0);
    first.heal();
    await waitFor(() => stopping !== undefined, 10_000, 'the first scanner to stop');
    await stopping;
    expect(store.workerState<ScanState>('scan')?.running).toMatchObject({ after: { bucket: 'b', key: keyOf(scanPageObjects - 1) }, cycle: { objects: scanPageObjects } });

    const after: string[] = [];
    const second = new Scanner(scanSource(after), log, 0);
    await second.start(0);
    await waitFor(() => second.lastCycle() !== undefined, 10_000, 'the resumed cycle');
    expect(after[0]).toBe(keyOf(scanPageObjects)); // the page after the saved position, not the start
    expect(after).toHaveLength(total - scanPageObjects);
    expect(second.lastCycle()).toMatchObject({ objects: total, checked: total, shards: total * 6 });
    expect(store.workerState<ScanState>('scan')?.running).toBeUndefined();
    await second.stop();
  });

  it('keeps heal requests waiting behind a running cycle across a restart, and runs them after the resumed one', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.putObject(objectRecord('b', keyOf(i)))));
    let checked = 0;
    let stopping: Promise<void> | undefined;
    const first: Scanner = new Scanner({
      ...scanSource([]),
      check: async () => {
        if (++checked === 3) { // a heal arrives while the full cycle runs, then the node stops
          await first.heal({ bucket: 'b', prefix: 'k001' });
          stopping = first.stop();
        }
        return { shards: 6, queued: 0, unreachable: 0 };
      },
    }, log, 0);
    await first.start(0);
    await first.heal();
    await waitFor(() => stopping !== undefined, 10_000, 'the first scanner to stop');
    await stopping;
    expect(store.workerState<ScanState>('scan')).toMatchObject({ running: { cycle: { objects: 0 } }, waiting: [{ scope: { bucket: 'b', prefix: 'k001' } }] });

    const cycles: Array<string | undefined> = [];
    const second = new Scanner(scanSource([], () => undefined), log, 0);
    await second.start(0);
    await waitFor(() => second.lastCycle()?.scope !== undefined, 10_000, 'the waiting scoped cycle');
    cycles.push(second.lastCycle()?.scope?.prefix);
    expect(cycles).toEqual(['k001']);
    expect(second.lastCycle()).toMatchObject({ objects: 10 }); // k0010..k0019
    expect(store.workerState<ScanState>('scan')).toEqual({ lastFinishedMs: expect.any(Number) });
    await second.stop();
  });

  it('runs a cycle at once when the saved last cycle is older than the interval, and not when it is recent', async () => {
    await store.putObject(objectRecord('b', 'one'));
    await store.saveWorkerState('scan', { lastFinishedMs: Date.now() - 120_000 });
    const overdue = new Scanner(scanSource([]), log, 0);
    await overdue.start(60_000);
    await waitFor(() => overdue.lastCycle() !== undefined, 5_000, 'the overdue cycle');
    await overdue.stop();
    const savedMs = store.workerState<ScanState>('scan')!.lastFinishedMs;
    expect(savedMs).toBeGreaterThan(Date.now() - 5_000);

    const recent = new Scanner(scanSource([]), log, 0);
    await recent.start(60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recent.lastCycle()).toBeUndefined();
    expect(store.workerState<ScanState>('scan')!.lastFinishedMs).toBe(savedMs);
    await recent.stop();
  });
});

describe('Scrubber across a restart', () => {
  it('walks shards in id order and resumes after the last saved shard', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-scrub-'));
    try {
      const shards = await LocalShardStore.open(dir);
      const total = scrubCheckpointShards + 40;
      const ids = Array.from({ length: total }, (_, i) => `${(i * 7919 % 4096).toString(16).padStart(3, '0')}data${i}.0`);
      for (const id of ids) {
        const writer = await shards.createWriter(id);
        await writer.write(Buffer.from('x'));
        await writer.commit();
      }
      const sorted = [...ids].sort();
      const seen: string[] = [];
      let stopping: Promise<void> | undefined;
      const source = (onScrub: () => void) => ({
        stores: () => [{ driveId: 'drive-a', store: shards }],
        scrub: async (_store: unknown, shardId: string) => {
          seen.push(shardId);
          onScrub();
          return 'ok' as const;
        },
        loadState: () => store.workerState<ScrubState>('scrub'),
        saveState: (state: ScrubState) => store.saveWorkerState('scrub', state),
      });
      await store.saveWorkerState('scrub', { lastFinishedMs: 0 }); // overdue: start() runs a cycle
      const first: Scrubber = new Scrubber(source(() => {
        if (seen.length === scrubCheckpointShards + 5) stopping = first.stop();
      }), log, 0);
      await first.start(3_600_000);
      await waitFor(() => stopping !== undefined, 10_000, 'the first scrubber to stop');
      await stopping;
      expect(seen).toEqual(sorted.slice(0, scrubCheckpointShards + 5));
      expect(store.workerState<ScrubState>('scrub')?.running).toMatchObject({ driveId: 'drive-a', after: sorted[scrubCheckpointShards - 1] });

      seen.length = 0;
      const second = new Scrubber(source(() => undefined), log, 0);
      await second.start(3_600_000);
      await waitFor(() => second.lastCycle() !== undefined, 10_000, 'the resumed cycle');
      expect(seen).toEqual(sorted.slice(scrubCheckpointShards));
      expect(second.lastCycle()).toMatchObject({ shards: total, ok: total });
      await second.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
