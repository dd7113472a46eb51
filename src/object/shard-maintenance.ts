// The object layer's hooks for background work on shards: rebuild a queued shard (reconstructor),
// verify one shard file (scrubber), check that a record's shards exist (scanner), copy a shard to
// its new place (rebalancer), discard moved shards, and queue shards for repair (reads and writes
// too). Each hook pins the data it touches, so gc cannot delete it meanwhile.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/meta-store.js';
import { MetaOutage } from '../meta/meta-outage.js';
import type { DataLayout, DataPart, DataRef, ObjectRecord, RepairEntry, RepairReason } from '../meta/types.js';
import type { RepairOutcome } from '../repair/reconstructor.js';
import type { ShardStore, ShardStoreSet } from '../store/shard-store.js';
import { shardFileBytes } from '../erasure/stripe.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { repairUnreferencedKeepMs } from '../util/limits.js';
import type { DataPins, GarbageCollector } from './garbage-collector.js';
import { parseShardId, shardIdOf } from './layout.js';
import { copyShard, rebuildShard, verifyShard } from './shard-rebuild.js';
import type { StripeSource } from './stripe-reader.js';

/** What ObjectLayer.checkShards found in one record (counts of shards). */
export interface ShardCheck {
  /** Shards the record's striped parts name (k + m per part). */
  shards: number;
  /** Absent or wrongly sized: queued for repair. */
  queued: number;
  /** On a drive or node that is offline or did not answer: not queued. */
  unreachable: number;
}

/** The object a shard's data belongs to (repair entries name it, so the reconstructor finds the part). */
export interface ShardOwner {
  bucket: string;
  key: string;
}

/** What the hooks work with: the object layer's metadata, drives, pins, gc and stripe source. */
export interface ShardMaintenanceOptions {
  meta: MetaStore;
  drives: ShardStoreSet;
  pins: DataPins;
  gc: GarbageCollector;
  /** Reads stripes for rebuilds and copies. */
  source: StripeSource;
  log: Logger;
  /** Called after a shard was queued for repair (the node kicks its reconstructor). */
  onRepairQueued?: () => void;
}

/** The object layer's shard hooks; ObjectLayer exposes them under the same names. */
export class ShardMaintenance {
  private readonly repairQueueing: MetaOutage;

  constructor(private readonly options: ShardMaintenanceOptions) {
    // Repairs not queued are not lost for good: the scanner (missing shards), scrub and reads (corrupt ones) find them again.
    this.repairQueueing = new MetaOutage(options.log, {
      paused: 'could not queue shard repairs: the metadata store cannot commit; scan and scrub find them again later',
      resumed: 'shard repairs are queued again: the metadata store commits again',
    });
  }

  /**
   * Rebuilds the shard a repair entry names (RepairShard of repair/reconstructor.ts), with its
   * data pinned so gc cannot delete it meanwhile. A shard a read met belongs to data its object
   * referenced then: when the object no longer does, the data was replaced or deleted ('gone').
   * A write-failed shard may belong to a part of an upload still in progress: unreferenced, it
   * throws RepairDeferred until repairUnreferencedKeepMs after it was queued. A shard found missing
   * that is in place at its full size by now is not rebuilt again ('present'). Throws rebuildShard's errors.
   */
  async repairShard(entry: RepairEntry): Promise<RepairOutcome> {
    const release = this.options.pins.pin([entry.dataId]);
    try {
      const found = entry.bucket === '' ? undefined : await this.currentPart(entry, entry.dataId);
      if (!found) {
        const mayComplete = entry.reason === 'write-failed' && Date.now() - entry.recordedMs < repairUnreferencedKeepMs;
        if (mayComplete) throw new TesseraError('RepairDeferred', `no object references ${entry.dataId} (yet)`);
        return { rebuilt: false, reason: 'data-gone' };
      }
      if (entry.reason !== 'corrupt' && await this.presentInFull(found.part, found.layout, entry.shardIndex)) return { rebuilt: false, reason: 'present' };
      return { rebuilt: true, bytes: await rebuildShard(this.options.source, found.part, found.layout, entry.shardIndex) };
    } finally {
      release();
    }
  }

  /**
   * Scrub of one shard file of a local drive: reads and verifies every block against its bitrot
   * hash. A bad block (or a short file) queues the shard for repair under its object. Shards of
   * data no current record on this node references are 'unowned' (an upload's part, or garbage
   * gc has not reached yet). Throws StorageIOError when the drive fails.
   */
  async scrubShard(store: ShardStore, shardId: string): Promise<'ok' | 'repair-queued' | 'unowned'> {
    const id = parseShardId(shardId);
    const owner = id && this.options.meta.objectOfData(id.dataId);
    if (!id || !owner) return 'unowned';
    const release = this.options.pins.pin([id.dataId]);
    try {
      const found = await this.currentPart(owner, id.dataId);
      if (!found || found.part.inline !== undefined) return 'unowned';
      try {
        await verifyShard(store, found.part, found.layout, id.shardIndex);
        return 'ok';
      } catch (err) {
        if (!isTesseraError(err, 'BitrotDetected', 'ShardTruncated', 'ShardNotFound')) throw err;
        this.queueRepair(found.part, id.shardIndex, 'corrupt', owner);
        return 'repair-queued';
      }
    } finally {
      release();
    }
  }

  /**
   * The scanner's check of one object record: every shard of every striped part must exist on
   * the drive or node its part names, with the size its layout gives (shardFileBytes). Absent
   * shards are queued for repair as 'missing', wrongly sized ones as 'corrupt' (their blocks are
   * scrub's to verify). A drive or node that cannot answer is counted, not queued: the shard may
   * be fine, and a rebuild could not write there anyway. The k + m stats of a part run at once.
   */
  async checkShards(record: ObjectRecord): Promise<ShardCheck> {
    const check: ShardCheck = { shards: 0, queued: 0, unreachable: 0 };
    for (const part of record.parts) {
      if (part.inline !== undefined) continue;
      const expectedBytes = shardFileBytes(record.layout, part.sizeBytes);
      const states = await Promise.all(part.drives.map(async (driveId, shardIndex): Promise<'ok' | 'unreachable' | RepairReason> => {
        const store = this.options.drives.store(driveId);
        if (!store) return 'unreachable';
        try {
          const stat = await store.stat(shardIdOf(part.dataId, shardIndex));
          if (stat === undefined) return 'missing';
          return stat.sizeBytes === expectedBytes ? 'ok' : 'corrupt';
        } catch (err) {
          if (isTesseraError(err, 'StorageIOError')) return 'unreachable';
          throw err;
        }
      }));
      states.forEach((state, shardIndex) => {
        check.shards++;
        if (state === 'unreachable') check.unreachable++;
        else if (state !== 'ok') {
          check.queued++;
          this.queueRepair(part, shardIndex, state, record);
        }
      });
    }
    return check;
  }

  /**
   * The rebalancer's copy of shard `shardIndex` of `part` to node (or drive) `targetId`: streamed
   * from where the part has it and verified, or rebuilt from k other shards when that copy is bad
   * or unreachable. Throws StorageIOError (target offline) and what copyShard throws.
   */
  async copyShardTo(part: DataPart, layout: DataLayout, shardIndex: number, targetId: string): Promise<{ bytes: number; rebuilt: boolean }> {
    const target = this.options.drives.store(targetId);
    if (!target) throw new TesseraError('StorageIOError', `${targetId} is offline`, { driveId: targetId });
    const release = this.options.pins.pin([part.dataId]);
    try {
      return await copyShard(this.options.source, part, layout, shardIndex, target);
    } finally {
      release();
    }
  }

  /** Queues shard files for deletion by this node's gc (the old copies of moved shards): durable when resolved. */
  async discardShards(ref: DataRef): Promise<void> {
    if (ref.shardIds.length === 0) return;
    await this.options.meta.addPending(ref);
    await this.options.meta.abandonPending(ref.dataId);
    this.options.gc.kick();
  }

  /**
   * Queues shard `shardIndex` of `part` for repair under `owner` (none: the reconstructor cannot
   * find its part and drops it once unreferenced), without waiting for the commit; a commit the
   * metadata store refuses is logged once per outage (the scanner, scrub and reads find it again).
   */
  queueRepair(part: DataPart, shardIndex: number, reason: RepairReason, owner?: ShardOwner): void {
    const entry = {
      dataId: part.dataId, shardIndex, driveId: part.drives[shardIndex] ?? '', reason,
      bucket: owner?.bucket ?? '', key: owner?.key ?? '', recordedMs: Date.now(),
    };
    const { log, meta } = this.options;
    log.debug({ dataId: part.dataId, shardIndex, driveId: entry.driveId, reason }, 'shard queued for repair');
    meta.addRepairs([entry]).then(() => {
      this.repairQueueing.succeeded();
      this.options.onRepairQueued?.();
    }, (err: unknown) => {
      if (this.repairQueueing.failed(err) === undefined) log.error({ err }, 'could not queue a repair');
    });
  }

  /** The part with `dataId` in the current record of `object`, with the record's layout; undefined when none. */
  /**
   * True when the shard is in place at its full size: a read that found it missing met a node that
   * was down for a moment, or another node (whose scan or read queued it too) rebuilt it already.
   */
  private async presentInFull(part: DataPart, layout: DataLayout, shardIndex: number): Promise<boolean> {
    const store = this.options.source.store(part.drives[shardIndex] ?? '');
    const found = await store?.stat(shardIdOf(part.dataId, shardIndex)).catch(() => undefined);
    return found !== undefined && found.sizeBytes === shardFileBytes(layout, part.sizeBytes);
  }

  private async currentPart(object: ShardOwner, dataId: string): Promise<{ part: DataPart; layout: DataLayout } | undefined> {
    const record = await this.options.meta.getObject(object.bucket, object.key).catch((err: unknown) => {
      if (isTesseraError(err, 'NoSuchBucket')) return undefined;
      throw err;
    });
    const part = record?.parts.find((p) => p.dataId === dataId);
    return record && part ? { part, layout: record.layout } : undefined;
  }
}
