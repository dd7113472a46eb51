// A scan that finds shards on a node that does not answer (a peer that just restarted) checks those
// records again after its walk, in rounds with doubling delays, only the ones still unreachable each
// round, and stops as soon as none is: a peer back after one round is not waited for any longer.
// Real LMDB for the records and the saved state; the shard checks are a scripted ScanSource.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LmdbMetaStore } from '../../../src/meta/lmdb-meta-store.js';
import type { ShardCheck } from '../../../src/object/object-layer.js';
import { Scanner, type ScanSource, type ScanState } from '../../../src/repair/scanner.js';
import { objectRecord, tempStore } from '../meta/helpers.js';

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

/** A source whose check of `key` answers `script[key][n]` on its n-th call (the last entry after that). */
function scriptedSource(script: Record<string, ShardCheck[]>, calls: Record<string, number>): ScanSource {
  return {
    records: (limit, after, scope) => store.scanObjects(limit, after, scope),
    responsible: () => true,
    check: async (record) => {
      const n = calls[record.key] ?? 0;
      calls[record.key] = n + 1;
      const answers = script[record.key] ?? [{ shards: 6, queued: 0, unreachable: 0 }];
      return answers[Math.min(n, answers.length - 1)]!;
    },
    loadState: () => store.workerState<ScanState>('scan'),
    saveState: (state) => store.saveWorkerState('scan', state),
  };
}

const unreachable: ShardCheck = { shards: 6, queued: 0, unreachable: 1 };
const missing: ShardCheck = { shards: 6, queued: 1, unreachable: 0 };

describe('Scanner rechecks unreachable shards', () => {
  it('rechecks only the records still unreachable, and stops once every one answered', async () => {
    for (const key of ['back-after-one', 'back-after-two', 'healthy']) await store.putObject(objectRecord('b', key));
    const calls: Record<string, number> = {};
    const scanner = new Scanner(scriptedSource({
      'back-after-one': [unreachable, missing],
      'back-after-two': [unreachable, unreachable, missing],
    }, calls), log, 0);
    const cycle = await scanner.runCycle();
    expect(cycle).toMatchObject({ objects: 3, checked: 3, queued: 2, unreachable: 0, failed: 0 });
    // The walk, then one recheck round for both and a second for the one still unreachable; no third round.
    expect(calls).toEqual({ 'back-after-one': 2, 'back-after-two': 3, healthy: 1 });
    await scanner.stop();
  });

  it('counts a node that never answers as unreachable once the recheck time is spent', async () => {
    await store.putObject(objectRecord('b', 'gone'));
    const calls: Record<string, number> = {};
    // 300 ms in all: a round after 250 ms, then one after the remaining 50 ms.
    const scanner = new Scanner(scriptedSource({ gone: [unreachable] }, calls), log, 0, 300);
    const cycle = await scanner.runCycle();
    expect(cycle).toMatchObject({ checked: 1, queued: 0, unreachable: 1 });
    expect(calls).toEqual({ gone: 3 });
    await scanner.stop();
  });

  it('does not count a shard queued in the walk again when a recheck finds it still missing', async () => {
    await store.putObject(objectRecord('b', 'half'));
    const calls: Record<string, number> = {};
    // One shard missing and one on a node that answers only at the second round.
    const partly: ShardCheck = { shards: 6, queued: 1, unreachable: 1 };
    const scanner = new Scanner(scriptedSource({ half: [partly, partly, { shards: 6, queued: 2, unreachable: 0 }] }, calls), log, 0);
    const cycle = await scanner.runCycle();
    expect(cycle).toMatchObject({ queued: 2, unreachable: 0 });
    expect(calls).toEqual({ half: 3 });
    await scanner.stop();
  });
});
