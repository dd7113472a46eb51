// The rebalancer: while a layout transition runs (a node was added, removed or re-weighted), each
// node walks its object records and moves every object the new layout places elsewhere. For one
// object, the first up node of its previous home nodes copies each shard whose node left the
// object's node set to a node that joined it (streamed and verified, or rebuilt from k others when
// the old copy is gone), stores the record with its new placement on the new home nodes at the
// write quorum, drops it from old home nodes that are no longer homes, and only then queues the
// old shard copies for deletion. Shards on nodes that stay in the set stay where they are, so
// adding a 7th node to 6 moves about one shard in seven. Reads and writes go on meanwhile:
// metadata is read and written on the home nodes of both versions (ClusterMetaStore), and shards
// are found through each record's own placement. When a node's walk finds nothing left, it records
// that it is done with the version; when every member is done, the transition ends. While this
// node's metadata store cannot commit (a full disk), passes stop at the first such failure and
// pause with backoff.
import type { Logger } from 'pino';
import { isMetaStoreUnavailable } from '../meta/meta-health.js';
import { MetaOutage } from '../meta/meta-outage.js';
import { compareVersions, type VersionStamp } from '../meta/meta-store.js';
import type { DataLayout, DataOwner, DataPart, DataRef, ObjectRecord, ObjectVersion } from '../meta/types.js';
import type { LayoutState } from '../placement/layout-state.js';
import { shardFileBytes } from '../erasure/stripe.js';
import { shardIdOf } from '../object/layout.js';
import { BackgroundWorker } from '../util/background-worker.js';
import { rebalanceIdleIntervalMs, rebalanceIntentsPerPass, rebalanceObjectPauseMs, scanPageObjects } from '../util/limits.js';
import { RateWindow } from '../util/rate-window.js';

/** What the rebalancer needs from the node (wired in node.ts). */
export interface RebalanceSource {
  selfId: string;
  /** The layout in use (LiveLayout). */
  layout: {
    snapshot(): LayoutState;
    place(placementKey: string): string[];
    homeSets(placementKey: string): string[][];
  };
  /** This node's records after `after`, in key order (LmdbMetaStore.scanObjects). */
  records(limit: number, after: DataOwner | undefined): ObjectRecord[];
  isUp(nodeId: string): boolean;
  /** The newest version of the key on its home nodes of both versions (ClusterMetaStore.getObject). */
  newest(bucket: string, key: string): Promise<ObjectRecord | undefined>;
  /** The newest version among `nodes` at their read quorum (ClusterMetaStore.versionOn). */
  versionOn(nodes: string[], bucket: string, key: string): Promise<ObjectVersion | undefined>;
  /** Stores a version in this node's own replica (LmdbMetaStore.applyObject: kept only when newer). */
  applyHere(record: ObjectRecord): Promise<void>;
  /** Stores a moved version on `nodes` at the write quorum (ClusterMetaStore.placeOn). */
  placeOn(nodes: string[], record: ObjectRecord): Promise<void>;
  /** Drops the key's record from `nodes` (ClusterMetaStore.dropFrom); returns the nodes that failed. */
  dropFrom(nodes: string[], bucket: string, key: string, upTo: VersionStamp): Promise<string[]>;
  /** Copies one shard to a node (ObjectLayer.copyShardTo). */
  copyShard(part: DataPart, layout: DataLayout, shardIndex: number, targetId: string): Promise<{ bytes: number; rebuilt: boolean }>;
  /** Queues old shard copies for deletion (ObjectLayer.discardShards). */
  discardShards(ref: DataRef): Promise<void>;
  /** Saves (or with undefined removes) the intent of a part's move, durably (worker state `move:<dataId>`). */
  saveIntent(dataId: string, intent: MoveIntent | undefined): Promise<void>;
  /** Saved intents, at most `limit`. */
  intents(limit: number): MoveIntent[];
  /** The version this node finished moving data to (worker state 'rebalance'). */
  doneVersion(): number;
  saveDoneVersion(version: number): Promise<void>;
  /** The version node `nodeId` finished moving data to (its layout.progress answer). */
  memberDoneVersion(nodeId: string): Promise<number>;
  /** Ends the transition on this node (LiveLayout.adopt of finishTransition); peers pull it. */
  finishTransition(): Promise<void>;
}

/**
 * A part's move, saved before its shards are copied and removed once its old copies are queued
 * for deletion. After a crash in between, the next pass settles it from the object's newest
 * record: moved, the old copies go; not moved, the move is simply done again; gone, both go.
 */
export interface MoveIntent {
  bucket: string;
  key: string;
  dataId: string;
  moves: Array<{ shardIndex: number; from: string; to: string }>;
}

/** Progress of the current (or last) pass, for `s3d admin status`. */
export interface RebalanceProgress {
  /** The layout version data moves to; 0 when no transition ran in this process. */
  toVersion: number;
  /** True once this node's walk found nothing left to move for toVersion. */
  done: boolean;
  /** Shard bytes this node still has to move (counted at the start of each pass). */
  bytesToMove: number;
  /** Objects this node still has to move (same count). */
  objectsToMove: number;
  objectsMoved: number;
  shardsMoved: number;
  bytesMoved: number;
  /** Shards that had to be rebuilt because their old copy was gone. */
  shardsRebuilt: number;
  /** Records dropped here because this node no longer homes them. */
  recordsDropped: number;
  /** Objects whose move failed in the last pass (retried next pass). */
  failed: number;
  /** Bytes moved per second over the last minute. */
  bytesPerSecond: number;
}

/** A part's shards to move: index -> new node, in the order of the new layout's node set. */
function plannedMoves(part: DataPart, targets: readonly string[]): Map<number, string> {
  const set = new Set(targets);
  const free = targets.filter((nodeId) => !part.drives.includes(nodeId));
  const moves = new Map<number, string>();
  part.drives.forEach((nodeId, i) => {
    if (!set.has(nodeId)) moves.set(i, free.shift()!);
  });
  return moves;
}

/** True when every striped part's shards are on exactly the nodes of `targets`. */
function isPlaced(record: ObjectRecord, targets: readonly string[]): boolean {
  return record.parts.every((p) => p.inline !== undefined || (p.drives.length === targets.length && p.drives.every((d) => targets.includes(d))));
}

/** Background worker: start() once, kick() when the layout changes, stop() before closing. */
export class Rebalancer extends BackgroundWorker {
  /** While this node's metadata store cannot commit: passes wait (one warning per streak). */
  private readonly outage: MetaOutage;
  private readonly rate = new RateWindow();
  private progressState: RebalanceProgress = {
    toVersion: 0, done: true, bytesToMove: 0, objectsToMove: 0, objectsMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsRebuilt: 0, recordsDropped: 0, failed: 0, bytesPerSecond: 0,
  };

  constructor(private readonly source: RebalanceSource, log: Logger, pauseMs = rebalanceObjectPauseMs) {
    super(log, { failedMessage: 'rebalance pass failed; retrying', itemPauseMs: pauseMs });
    this.outage = new MetaOutage(log, {
      paused: 'rebalance paused: the metadata store cannot commit; retrying with backoff',
      resumed: 'rebalance resumed: the metadata store commits again',
    });
  }

  /** Passes every rebalanceIdleIntervalMs while a transition runs, and one now. */
  start(): void {
    this.runEvery(rebalanceIdleIntervalMs);
    this.kick();
  }

  progress(): RebalanceProgress {
    return { ...this.progressState, bytesPerSecond: this.rate.perSecond() };
  }

  /** One pass over this node's records while a layout transition runs; stop() waits for the object being moved. */
  protected async work(): Promise<void> {
    const state = this.source.layout.snapshot();
    if (!state.previous || this.outage.waitMs() > 0) return;
    const version = state.current.version;
    if (this.source.doneVersion() >= version) {
      await this.finishWhenAllDone(state).catch((err: unknown) => this.log.warn({ err }, 'could not check whether every node finished moving data'));
      return;
    }
    if (this.progressState.toVersion !== version) {
      this.progressState = { ...this.progressState, toVersion: version, done: false, objectsMoved: 0, shardsMoved: 0, bytesMoved: 0, shardsRebuilt: 0, recordsDropped: 0 };
    }
    try {
      await this.settleIntents();
      await this.countWork();
      let left = 0;
      let failed = 0;
      for (const record of this.localRecords()) {
        if (this.isStopped) return;
        try {
          const outcome = await this.visit(record);
          if (outcome === 'waiting') left++;
        } catch (err) {
          if (isMetaStoreUnavailable(err)) throw err; // every other object would fail the same way
          failed++;
          this.log.warn({ err, bucket: record.bucket, key: record.key }, 'could not move an object; retrying next pass');
        }
        await this.pace();
      }
      this.progressState.failed = failed;
      if (left === 0 && failed === 0 && this.source.layout.snapshot().current.version === version) {
        await this.source.saveDoneVersion(version);
        this.progressState = { ...this.progressState, done: true, bytesToMove: 0, objectsToMove: 0 };
        this.log.info({ version, ...this.progress() }, 'this node finished moving data to the new layout');
        await this.finishWhenAllDone(state);
      }
      this.outage.succeeded();
    } catch (err) {
      if (this.outage.failed(err) === undefined) this.log.error({ err }, 'rebalance pass failed; retrying');
    }
  }

  /**
   * Ends the transition once every node that may hold records of the previous version finished:
   * the members holding data now, and members of the previous version that are up (a removed node
   * that is gone for good holds nothing anyone needs: its shards were rebuilt elsewhere).
   */
  private async finishWhenAllDone(state: LayoutState): Promise<void> {
    const version = state.current.version;
    const holding = state.current.members.filter((m) => m.weight > 0).map((m) => m.id);
    const leaving = (state.previous?.members ?? []).map((m) => m.id).filter((id) => !holding.includes(id) && (id === this.source.selfId || this.source.isUp(id)));
    const required = [...new Set([...holding, ...leaving])];
    const done = await Promise.all(required.map(async (nodeId) => (nodeId === this.source.selfId ? this.source.doneVersion() : this.source.memberDoneVersion(nodeId).catch(() => 0))));
    const waiting = required.filter((_, i) => done[i]! < version);
    if (waiting.length > 0) {
      this.log.debug({ version, waiting }, 'waiting for nodes to finish moving data');
      return;
    }
    await this.source.finishTransition();
    this.log.info({ version }, 'every node finished moving data: the previous layout is retired');
  }

  /** Settles the moves a crash interrupted (see MoveIntent). */
  private async settleIntents(): Promise<void> {
    for (const intent of this.source.intents(rebalanceIntentsPerPass)) {
      const newest = await this.source.newest(intent.bucket, intent.key);
      const part = newest?.parts.find((p) => p.dataId === intent.dataId);
      const shardIds = intent.moves.map((m) => shardIdOf(intent.dataId, m.shardIndex));
      const from: DataRef = { dataId: intent.dataId, shardIds, drives: intent.moves.map((m) => m.from) };
      if (!part) { // replaced or deleted meanwhile: both copies are garbage (one gc entry per data id)
        await this.source.discardShards({ dataId: intent.dataId, shardIds: [...shardIds, ...shardIds], drives: [...from.drives, ...intent.moves.map((m) => m.to)] });
      } else if (intent.moves.every((m) => part.drives[m.shardIndex] === m.to)) {
        await this.source.discardShards(from);
      } // else not moved: the pass moves it again, onto the same nodes
      await this.source.saveIntent(intent.dataId, undefined);
    }
  }

  /** Counts what this node is responsible for moving (metadata only), for the progress figures. */
  private async countWork(): Promise<void> {
    let objects = 0;
    let bytes = 0;
    for (const record of this.localRecords()) {
      const targets = this.source.layout.place(`${record.bucket}/${record.key}`);
      if (isPlaced(record, targets) || !this.responsibleFor(record)) continue;
      objects++;
      for (const part of record.parts) {
        if (part.inline === undefined) bytes += plannedMoves(part, targets).size * shardFileBytes(record.layout, part.sizeBytes);
      }
    }
    this.progressState.objectsToMove = objects;
    this.progressState.bytesToMove = bytes;
  }

  /** This node's records in key order, read scanPageObjects at a time (one LMDB snapshot per page). */
  private *localRecords(): Generator<ObjectRecord> {
    let after: DataOwner | undefined;
    for (;;) {
      const page = this.source.records(scanPageObjects, after);
      yield* page;
      if (page.length < scanPageObjects) return;
      const last = page[page.length - 1]!;
      after = { bucket: last.bucket, key: last.key };
    }
  }

  /** The node that moves `record`: the first up node of its previous home nodes (they hold the record). */
  private responsibleFor(record: ObjectRecord): boolean {
    const sets = this.source.layout.homeSets(`${record.bucket}/${record.key}`);
    const holders = sets[sets.length - 1]!;
    return holders.find((nodeId) => nodeId === this.source.selfId || this.source.isUp(nodeId)) === this.source.selfId;
  }

  /**
   * One local record: 'done' when it is placed and homed here, or was dropped or moved now;
   * 'waiting' when another node is to move it (or confirm it) first.
   */
  private async visit(local: ObjectRecord): Promise<'done' | 'waiting'> {
    const placementKey = `${local.bucket}/${local.key}`;
    const targets = this.source.layout.place(placementKey);
    const homedHere = targets.includes(this.source.selfId);
    const version = this.source.layout.snapshot().current.version;
    const homesUnchanged = this.source.layout.homeSets(placementKey).length === 1;
    if (isPlaced(local, targets) && (homesUnchanged || (local.layoutVersion ?? 0) >= version)) {
      if (homedHere) return 'done';
      return (await this.dropIfHomed(local, targets)) ? 'done' : 'waiting';
    }
    if (!this.responsibleFor(local)) return (await this.catchUp(local, targets, homedHere)) ? 'done' : 'waiting';
    const newest = await this.source.newest(local.bucket, local.key);
    if (!newest) return 'done'; // deleted meanwhile: the delete reached every home set, read repair tidies the rest
    await this.move(newest, targets, version);
    return 'done';
  }

  /**
   * A copy another node is to move: when that node already moved the object (it may have done
   * so while this node was down and missed the update), this copy is replaced by the moved
   * version (a new home) or dropped (an old one). False while the move has not happened yet.
   */
  private async catchUp(local: ObjectRecord, targets: string[], homedHere: boolean): Promise<boolean> {
    const there = (await this.source.versionOn(targets, local.bucket, local.key))?.record;
    if (!there || !isPlaced(there, targets) || compareVersions({ ...there, layoutVersion: 0 }, { ...local, layoutVersion: 0 }) < 0) return false;
    if (homedHere) {
      await this.source.applyHere(there);
      return true;
    }
    return this.dropIfHomed(local, targets);
  }

  /** Drops a leftover copy once the key's new home nodes hold a version at least as new. */
  private async dropIfHomed(local: ObjectRecord, targets: string[]): Promise<boolean> {
    const there = await this.source.versionOn(targets, local.bucket, local.key);
    const held = there?.record ?? there?.tombstone;
    if (!held || compareVersions({ ...held, layoutVersion: 0 }, { ...local, layoutVersion: 0 }) < 0) return false;
    const failed = await this.source.dropFrom([this.source.selfId], local.bucket, local.key, local);
    if (failed.length === 0) this.progressState.recordsDropped++;
    return failed.length === 0;
  }

  private async move(record: ObjectRecord, targets: string[], version: number): Promise<void> {
    const placementKey = `${record.bucket}/${record.key}`;
    const parts: DataPart[] = [];
    const discards: DataRef[] = [];
    let shards = 0;
    let bytes = 0;
    for (const part of record.parts) {
      if (part.inline !== undefined) {
        parts.push(part);
        continue;
      }
      const moves = plannedMoves(part, targets);
      const drives = [...part.drives];
      if (moves.size > 0) {
        await this.source.saveIntent(part.dataId, {
          bucket: record.bucket, key: record.key, dataId: part.dataId,
          moves: [...moves].map(([shardIndex, to]) => ({ shardIndex, from: part.drives[shardIndex]!, to })),
        });
      }
      for (const [shardIndex, targetId] of moves) {
        const copied = await this.source.copyShard(part, record.layout, shardIndex, targetId);
        if (copied.rebuilt) this.progressState.shardsRebuilt++;
        drives[shardIndex] = targetId;
        shards++;
        bytes += copied.bytes;
      }
      parts.push({ ...part, drives });
      const moved = [...moves.keys()];
      discards.push({ dataId: part.dataId, shardIds: moved.map((i) => shardIdOf(part.dataId, i)), drives: moved.map((i) => part.drives[i]!) });
    }
    const placed: ObjectRecord = { ...record, parts, layoutVersion: version };
    await this.source.placeOn(targets, placed);
    const oldHomes = this.source.layout.homeSets(placementKey).slice(1).flat().filter((nodeId) => !targets.includes(nodeId));
    const unreached = await this.source.dropFrom(oldHomes, record.bucket, record.key, placed);
    if (unreached.length > 0) this.log.info({ bucket: record.bucket, key: record.key, unreached }, 'old home nodes keep a copy of a moved record until they drop it themselves');
    for (const ref of discards) {
      await this.source.discardShards(ref);
      if (ref.shardIds.length > 0) await this.source.saveIntent(ref.dataId, undefined);
    }
    this.progressState.objectsMoved++;
    this.progressState.shardsMoved += shards;
    this.progressState.bytesMoved += bytes;
    this.progressState.bytesToMove = Math.max(0, this.progressState.bytesToMove - bytes);
    this.progressState.objectsToMove = Math.max(0, this.progressState.objectsToMove - 1);
    this.rate.add(bytes);
    this.log.debug({ bucket: record.bucket, key: record.key, shards, bytes, version }, 'object moved to its new nodes');
  }
}
