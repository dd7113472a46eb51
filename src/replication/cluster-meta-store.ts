// Cluster metadata: a MetaStore whose records live on the nodes that hold the object's shards
// (as MinIO keeps xl.meta beside each shard). Object and upload records go to the key's k + m
// home nodes with a write quorum and are read from a read quorum, newest version winning
// (last writer wins on (lastModifiedMs, writer node)); bucket records go to every node; listings
// merge every node's sorted LMDB page. Queues (pending, gc, repair) stay local to this node.
import type { Logger } from 'pino';
import { compareVersions, type MetaReplica, type MetaStore, type VersionStamp } from '../meta/meta-store.js';
import { compareUtf8 } from '../meta/keys.js';
import type {
  BucketRecord, CompletedUpload, DataRef, ListObjectsPage, ListObjectsQuery, ListPartsPage, ListUploadsPage, ListUploadsQuery,
  DataOwner, ObjectRecord, ObjectVersion, PartRecord, RepairEntry, Tombstone, UploadRecord, WriteConditions,
} from '../meta/types.js';
import { checkConditions, dataRefOf } from '../meta/write-rules.js';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { replicaReadGraceMs, replicaWriteGraceMs } from '../util/limits.js';
import { gather, metaReadQuorum, quorumsMet, successes, unanimousError, type Quorum, type ReplicaResult } from './quorum.js';
import type { ReplicaArgs, ReplicaInvoker, ReplicaMethod, ReplicaReply } from './replica-methods.js';

export interface ClusterMetaOptions {
  local: MetaReplica;
  selfId: string;
  /** Every member of the cluster (of both layout versions while a transition runs). */
  nodeIds: () => readonly string[];
  /**
   * Home node sets of `${bucket}/${key}` (each k + m nodes): the current layout's, then, while a
   * transition runs and it differs, the previous one's. Reads and writes need their quorum in each.
   */
  homeSets: (placementKey: string) => string[][];
  /** The current layout version (stamped on new records). */
  layoutVersion: () => number;
  /** Replicas that must store a version before it is acknowledged. */
  writeQuorum: number;
  invoke: ReplicaInvoker;
  log: Logger;
}

const notFoundCodes = ['NoSuchBucket', 'NoSuchUpload'];
/** Replica methods that only read: they answer at their quorum (replicaReadGraceMs). */
const readMethods: ReadonlySet<ReplicaMethod> = new Set<ReplicaMethod>([
  'getBucket', 'listBuckets', 'getObjectVersion', 'listObjects', 'getUpload', 'getParts', 'listUploads', 'getCompletedUpload',
]);

/** Metadata over the cluster. Errors as MetaStore, plus WriteQuorumNotMet and ReadQuorumNotMet (503). */
export class ClusterMetaStore implements MetaStore {
  private readonly local: MetaReplica;

  constructor(private readonly options: ClusterMetaOptions) {
    this.local = options.local;
  }

  async close(): Promise<void> {
    // The node closes its local store.
  }

  // ---- buckets: on every node ----

  async getBucket(name: string): Promise<BucketRecord | undefined> {
    const local = await this.local.getBucket(name);
    if (local) return local;
    // Bucket writes reach a majority, so a majority of answers includes one that has it (a node
    // that missed the create, or joined later, learns it here).
    const answers = successes(await this.onAll('getBucket', [name], this.majority()));
    const found = answers.find((b) => b !== undefined);
    if (found) await this.local.applyBucket(found).catch(() => undefined);
    else if (answers.length < this.majority()) {
      throw new TesseraError('ReadQuorumNotMet', `bucket ${name}: ${answers.length} of ${this.options.nodeIds().length} nodes answered, need ${this.majority()}`);
    }
    return found;
  }

  async listBuckets(): Promise<BucketRecord[]> {
    const results = await this.onAll('listBuckets', [], this.listQuorum());
    const byName = new Map<string, BucketRecord>();
    for (const list of successes(results)) for (const bucket of list) if (!byName.has(bucket.name)) byName.set(bucket.name, bucket);
    return [...byName.values()].sort((a, b) => compareUtf8(a.name, b.name));
  }

  async createBucket(record: BucketRecord): Promise<void> {
    if (await this.getBucket(record.name)) throw new TesseraError('BucketAlreadyOwnedByYou', 'bucket already exists', { bucket: record.name });
    const results = await this.onAll('applyBucket', [record], this.majority());
    this.requireWrites(results, [{ nodes: this.options.nodeIds(), need: this.majority() }], `bucket ${record.name}`);
  }

  async deleteBucket(name: string): Promise<void> {
    if (!(await this.getBucket(name))) throw new TesseraError('NoSuchBucket', 'bucket does not exist', { bucket: name });
    const page = await this.listObjects(name, { prefix: '', delimiter: '', startAfter: '', maxKeys: 1 });
    if (page.objects.length > 0) throw new TesseraError('BucketNotEmpty', 'bucket is not empty', { bucket: name });
    const results = await this.onAll('deleteBucket', [name], this.majority());
    const done = results.filter((r) => r.ok || errorCodeOf(r.error) === 'NoSuchBucket').length;
    if (done < this.majority()) throw new TesseraError('WriteQuorumNotMet', `bucket ${name} deleted on ${done} nodes, need ${this.majority()}`);
  }

  // ---- objects: on the key's home nodes ----

  async getObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const sets = this.homeSets(bucket, key);
    const results = await this.onSets(sets, 'getObjectVersion', [bucket, key], 'read');
    const versions = successes(results);
    if (!quorumsMet(results, this.quorums(sets, 'read'))) {
      throw new TesseraError('ReadQuorumNotMet', `metadata of ${bucket}/${key}: ${versions.length} of ${results.length} replicas answered, need ${this.describeQuorums(sets, 'read')}`);
    }
    const newest = newestVersion(versions);
    this.readRepair(results, newest);
    return newest?.record;
  }

  async putObject(record: ObjectRecord, conditions?: WriteConditions): Promise<ObjectRecord | undefined> {
    if (conditions && (conditions.ifMatch || conditions.ifNoneMatch)) checkConditions(await this.getObject(record.bucket, record.key), conditions, record);
    const versioned = this.stamp(record);
    return this.publish(versioned, 'applyObject', [versioned]);
  }

  async deleteObject(bucket: string, key: string): Promise<ObjectRecord | undefined> {
    const tombstone: Tombstone = { bucket, key, lastModifiedMs: Date.now(), writer: this.options.selfId };
    const sets = this.homeSets(bucket, key);
    const results = await this.onSets(sets, 'applyDelete', [tombstone], 'write');
    this.requireWrites(results, this.quorums(sets, 'write'), `delete of ${bucket}/${key}`);
    return newestRecord(successes(results));
  }

  /**
   * One page merged from every node's page for the same query. Each node returns up to maxKeys
   * entries; entries up to the smallest last entry of a truncated node are complete, and there
   * are at least maxKeys distinct ones, so one round yields a full page.
   */
  async listObjects(bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    if (!(await this.getBucket(bucket))) throw new TesseraError('NoSuchBucket', 'bucket does not exist', { bucket });
    if (query.maxKeys === 0) return { objects: [], commonPrefixes: [], isTruncated: false };
    const results = await this.onAll('listObjects', [bucket, query], this.listQuorum());
    const pages = results.flatMap((r) => (r.ok ? [r.value] : notFoundCodes.includes(errorCodeOf(r.error) ?? '') ? [emptyPage] : []));
    if (pages.length < this.listQuorum()) {
      throw new TesseraError('ReadQuorumNotMet', `listing of ${bucket}: ${pages.length} of ${this.options.nodeIds().length} nodes answered, need ${this.listQuorum()}`);
    }
    return mergeObjectPages(pages, query.maxKeys);
  }

  // ---- multipart uploads: on the key's home nodes ----

  async createUpload(record: UploadRecord): Promise<void> {
    const sets = this.homeSets(record.bucket, record.key);
    const results = await this.onSets(sets, 'createUpload', [record], 'write');
    this.requireWrites(results, this.quorums(sets, 'write'), `upload ${record.uploadId}`);
  }

  async getUpload(bucket: string, key: string, uploadId: string): Promise<UploadRecord | undefined> {
    const results = await this.onSets(this.homeSets(bucket, key), 'getUpload', [bucket, key, uploadId], 'read');
    return successes(results).find((u) => u !== undefined);
  }

  async putPart(bucket: string, key: string, uploadId: string, part: PartRecord): Promise<void> {
    const sets = this.homeSets(bucket, key);
    await this.local.removePending([part.dataId]);
    const results = await this.onSets(sets, 'putPart', [bucket, key, uploadId, part], 'write');
    const missing = unanimousError(results, ['NoSuchUpload']);
    if (missing) {
      await this.collect([dataRefOf(part)]);
      throw missing;
    }
    this.requireWrites(results, this.quorums(sets, 'write'), `part ${part.partNumber} of upload ${uploadId}`);
  }

  async listParts(bucket: string, key: string, uploadId: string, partNumberMarker: number, maxParts: number): Promise<ListPartsPage> {
    const parts = (await this.getParts(bucket, key, uploadId)).filter((p) => p.partNumber > partNumberMarker);
    const page = parts.slice(0, maxParts);
    const isTruncated = parts.length > maxParts;
    return { parts: page, isTruncated, ...(isTruncated && page.length > 0 ? { nextPartNumberMarker: page[page.length - 1]!.partNumber } : {}) };
  }

  async getParts(bucket: string, key: string, uploadId: string): Promise<PartRecord[]> {
    const results = await this.onSets(this.homeSets(bucket, key), 'getParts', [bucket, key, uploadId], 'read');
    const missing = unanimousError(results, ['NoSuchUpload']);
    if (missing) throw missing;
    const byNumber = new Map<number, PartRecord>();
    for (const list of successes(results)) {
      for (const part of list) {
        const seen = byNumber.get(part.partNumber);
        if (!seen || part.lastModifiedMs > seen.lastModifiedMs) byNumber.set(part.partNumber, part);
      }
    }
    if (successes(results).length === 0) throw new TesseraError('ReadQuorumNotMet', `parts of upload ${uploadId}: no replica answered`);
    return [...byNumber.values()].sort((a, b) => a.partNumber - b.partNumber);
  }

  async listUploads(bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage> {
    if (!(await this.getBucket(bucket))) throw new TesseraError('NoSuchBucket', 'bucket does not exist', { bucket });
    const results = await this.onAll('listUploads', [bucket, query], this.listQuorum());
    const pages = successes(results);
    return mergeUploadPages(pages, query.maxUploads);
  }

  /** The completion record travels with the object record: each replica stores both in one transaction. */
  async completeUpload(uploadId: string, record: ObjectRecord, partsDigest: Uint8Array, conditions?: WriteConditions): Promise<ObjectRecord | undefined> {
    if (conditions && (conditions.ifMatch || conditions.ifNoneMatch)) checkConditions(await this.getObject(record.bucket, record.key), conditions, record);
    const versioned = this.stamp(record);
    return this.publish(versioned, 'applyCompleteUpload', [uploadId, versioned, partsDigest]);
  }

  /**
   * Read at the home sets' read quorum, which overlaps every write quorum that stored a
   * completion; any replica's record answers (all replicas store the same one). Throws ReadQuorumNotMet.
   */
  async getCompletedUpload(bucket: string, key: string, uploadId: string): Promise<CompletedUpload | undefined> {
    const sets = this.homeSets(bucket, key);
    const results = await this.onSets(sets, 'getCompletedUpload', [bucket, key, uploadId], 'read');
    if (!quorumsMet(results, this.quorums(sets, 'read'))) {
      throw new TesseraError('ReadQuorumNotMet', `completion of upload ${uploadId}: need ${this.describeQuorums(sets, 'read')}`);
    }
    return successes(results).find((c) => c !== undefined);
  }

  /** This node's own records (each node sweeps its replica). */
  expireCompletedUploads(olderThanMs: number, keepMax: number, batchMax: number): Promise<number> {
    return this.local.expireCompletedUploads(olderThanMs, keepMax, batchMax);
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const results = await this.onSets(this.homeSets(bucket, key), 'abortUpload', [bucket, key, uploadId], 'write');
    const missing = unanimousError(results, ['NoSuchUpload']);
    if (missing) throw missing;
    if (!results.some((r) => r.ok)) throw new TesseraError('WriteQuorumNotMet', `abort of upload ${uploadId} reached no replica`);
  }

  // ---- the rebalancer's moves (layout transitions) ----

  /** The newest version of the key among `nodes`, read at their quorum. Throws ReadQuorumNotMet. */
  async versionOn(nodes: string[], bucket: string, key: string): Promise<ObjectVersion | undefined> {
    const results = await this.onSets([nodes], 'getObjectVersion', [bucket, key], 'read');
    if (!quorumsMet(results, this.quorums([nodes], 'read'))) {
      throw new TesseraError('ReadQuorumNotMet', `metadata of ${bucket}/${key}: need ${this.describeQuorums([nodes], 'read')}`);
    }
    return newestVersion(successes(results));
  }

  /** Stores a moved version (same time and writer, new placement) on `nodes` at the write quorum. Throws WriteQuorumNotMet. */
  async placeOn(nodes: string[], record: ObjectRecord): Promise<void> {
    const results = await this.onSets([nodes], 'applyObject', [record], 'write');
    this.requireWrites(results, this.quorums([nodes], 'write'), `move of ${record.bucket}/${record.key}`);
  }

  /** Drops the key's record (when not newer than `upTo`) from `nodes`, which no longer home it; returns the nodes that did not answer. */
  async dropFrom(nodes: string[], bucket: string, key: string, upTo: VersionStamp): Promise<string[]> {
    const results = await Promise.allSettled(nodes.map((nodeId) => this.options.invoke(nodeId, 'dropObject', [bucket, key, upTo])));
    return nodes.filter((_, i) => results[i]!.status === 'rejected');
  }

  // ---- this node's queues ----

  addPending(ref: DataRef): Promise<void> {
    return this.local.addPending(ref);
  }

  abandonPending(dataId: string): Promise<void> {
    return this.local.abandonPending(dataId);
  }

  listPending(): DataRef[] {
    return this.local.listPending();
  }

  listGc(limit: number, afterDataId?: string): DataRef[] {
    return this.local.listGc(limit, afterDataId);
  }

  removeGc(dataIds: string[]): Promise<void> {
    return this.local.removeGc(dataIds);
  }

  addRepairs(entries: readonly RepairEntry[]): Promise<void> {
    return this.local.addRepairs(entries);
  }

  /** This node's index: its replicas hold the records of the objects whose shards it holds. */
  objectOfData(dataId: string): DataOwner | undefined {
    return this.local.objectOfData(dataId);
  }

  listRepairs(limit: number, after?: Pick<RepairEntry, 'dataId' | 'shardIndex'>): RepairEntry[] {
    return this.local.listRepairs(limit, after);
  }

  removeRepairs(entries: readonly Pick<RepairEntry, 'dataId' | 'shardIndex'>[]): Promise<void> {
    return this.local.removeRepairs(entries);
  }

  // ---- internals ----

  private homeSets(bucket: string, key: string): string[][] {
    return this.options.homeSets(`${bucket}/${key}`);
  }

  /** The quorum each home set needs for a read (width - writeQuorum + 1) or a write (writeQuorum). */
  private quorums(sets: readonly string[][], kind: 'read' | 'write'): Quorum[] {
    return sets.map((nodes) => ({ nodes, need: kind === 'write' ? this.options.writeQuorum : Math.max(1, metaReadQuorum(nodes.length, this.options.writeQuorum)) }));
  }

  private describeQuorums(sets: readonly string[][], kind: 'read' | 'write'): string {
    return this.quorums(sets, kind).map((q) => `${q.need} of ${q.nodes.join(',')}`).join(' and ');
  }

  /** Nodes a cluster-wide listing needs: enough that every key has a replica among them. */
  private listQuorum(): number {
    return Math.max(1, this.options.nodeIds().length - this.options.writeQuorum + 1);
  }

  private majority(): number {
    return Math.floor(this.options.nodeIds().length / 2) + 1;
  }

  private stamp(record: ObjectRecord): ObjectRecord {
    return { ...record, writer: this.options.selfId, layoutVersion: this.options.layoutVersion() };
  }

  /**
   * Sends a new version to its home nodes. The gateway's pending entries are dropped first: once
   * any replica may hold the record, a crash here must never collect the data (an orphan is
   * safe, a deleted shard of a live object is not). When no replica took it, the data is collected.
   */
  private async publish<M extends 'applyObject' | 'applyCompleteUpload'>(record: ObjectRecord, method: M, args: ReplicaArgs<M>): Promise<ObjectRecord | undefined> {
    await this.local.removePending(record.parts.filter((p) => p.inline === undefined).map((p) => p.dataId)); // inline parts have no pending entry
    const sets = this.homeSets(record.bucket, record.key);
    const results = await this.onSets(sets, method, args, 'write');
    if (method === 'applyObject' && !results.some((r) => r.ok)) await this.collect(record.parts.map((p) => dataRefOf(p)));
    this.requireWrites(results, this.quorums(sets, 'write'), `${record.bucket}/${record.key}`);
    return newestRecord(successes(results));
  }

  /** Queues data no replica references for deletion by this node's gc. */
  private async collect(refs: DataRef[]): Promise<void> {
    for (const ref of refs) {
      if (ref.shardIds.length === 0) continue;
      await this.local.addPending(ref);
      await this.local.abandonPending(ref.dataId);
    }
  }

  private requireWrites(results: readonly ReplicaResult<unknown>[], quorums: readonly Quorum[], what: string): void {
    if (quorumsMet(results, quorums)) return;
    const ok = results.filter((r) => r.ok).length;
    const failure = results.find((r) => !r.ok);
    const reason = failure && !failure.ok ? `: ${(failure.error as Error).message}` : '';
    const need = quorums.map((q) => `${q.need} of ${q.nodes.length}`).join(' and ');
    throw new TesseraError('WriteQuorumNotMet', `${what} stored on ${ok} of ${results.length} replicas, need ${need}${reason}`);
  }

  /** Sends the newest version to replicas that answered with an older one (best effort). */
  private readRepair(results: readonly ReplicaResult<ObjectVersion>[], newest: ObjectVersion | undefined): void {
    if (!newest) return;
    const winner = newest.record ?? newest.tombstone!;
    for (const result of results) {
      if (!result.ok) continue;
      const version = result.value;
      const held = version.record ?? version.tombstone;
      if (held && compareVersions(held, winner) >= 0) continue;
      const repair = newest.record ? this.options.invoke(result.nodeId, 'applyObject', [newest.record]) : this.options.invoke(result.nodeId, 'applyDelete', [newest.tombstone!]);
      repair.catch((err: unknown) => this.options.log.debug({ err, nodeId: result.nodeId }, 'read repair failed'));
    }
  }

  /** Calls `method` on the union of the home sets; returns once each set's quorum answered (plus grace) or all did. */
  private onSets<M extends ReplicaMethod>(sets: readonly string[][], method: M, args: ReplicaArgs<M>, kind: 'read' | 'write'): Promise<ReplicaResult<ReplicaReply<M>>[]> {
    const nodes = [...new Set(sets.flat())];
    const graceMs = readMethods.has(method) ? replicaReadGraceMs : replicaWriteGraceMs;
    return gather(nodes, (nodeId) => this.options.invoke(nodeId, method, args), { quorums: this.quorums(sets, kind), graceMs });
  }

  private onAll<M extends ReplicaMethod>(method: M, args: ReplicaArgs<M>, need: number): Promise<ReplicaResult<ReplicaReply<M>>[]> {
    const nodes = this.options.nodeIds();
    const graceMs = readMethods.has(method) ? replicaReadGraceMs : replicaWriteGraceMs;
    return gather(nodes, (nodeId) => this.options.invoke(nodeId, method, args), { quorums: [{ nodes, need }], graceMs });
  }
}

const emptyPage: ListObjectsPage = { objects: [], commonPrefixes: [], isTruncated: false };

/** The newest of the replicas' versions (record or tombstone), or undefined when none has the key. */
export function newestVersion(versions: readonly ObjectVersion[]): ObjectVersion | undefined {
  let best: ObjectVersion | undefined;
  for (const version of versions) {
    const held = version.record ?? version.tombstone;
    if (!held) continue;
    const bestHeld = best?.record ?? best?.tombstone;
    if (!bestHeld || compareVersions(held, bestHeld) > 0) best = version;
  }
  return best;
}

function newestRecord(records: readonly (ObjectRecord | undefined)[]): ObjectRecord | undefined {
  let best: ObjectRecord | undefined;
  for (const record of records) if (record && (!best || compareVersions(record, best) > 0)) best = record;
  return best;
}

type Entry = { name: string; object?: ObjectRecord };

/** Merges nodes' listing pages of one query into one page of at most maxKeys entries (see listObjects). */
export function mergeObjectPages(pages: readonly ListObjectsPage[], maxKeys: number): ListObjectsPage {
  let cutoff: string | undefined;
  for (const page of pages) {
    if (!page.isTruncated || page.nextStartAfter === undefined) continue;
    if (cutoff === undefined || compareUtf8(page.nextStartAfter, cutoff) < 0) cutoff = page.nextStartAfter;
  }
  const byName = new Map<string, Entry>();
  for (const page of pages) {
    for (const object of page.objects) {
      const seen = byName.get(object.key);
      if (!seen?.object || compareVersions(object, seen.object) > 0) byName.set(object.key, { name: object.key, object });
    }
    for (const prefix of page.commonPrefixes) if (!byName.has(prefix)) byName.set(prefix, { name: prefix });
  }
  const entries = [...byName.values()]
    .filter((e) => cutoff === undefined || compareUtf8(e.name, cutoff) <= 0)
    .sort((a, b) => compareUtf8(a.name, b.name));
  const taken = entries.slice(0, maxKeys);
  const isTruncated = entries.length > maxKeys || cutoff !== undefined;
  const last = taken[taken.length - 1];
  return {
    objects: taken.flatMap((e) => (e.object ? [e.object] : [])),
    commonPrefixes: taken.flatMap((e) => (e.object ? [] : [e.name])),
    isTruncated: isTruncated && last !== undefined,
    ...(isTruncated && last ? { nextStartAfter: last.name } : {}),
  };
}

/** Merges nodes' ListMultipartUploads pages: union by upload id, ordered by (key, initiated, id). */
function mergeUploadPages(pages: readonly ListUploadsPage[], maxUploads: number): ListUploadsPage {
  const uploads = new Map<string, UploadRecord>();
  const prefixes = new Set<string>();
  for (const page of pages) {
    for (const upload of page.uploads) uploads.set(upload.uploadId, upload);
    for (const prefix of page.commonPrefixes) prefixes.add(prefix);
  }
  type Row = { name: string; upload?: UploadRecord };
  const rows: Row[] = [...[...uploads.values()].map((u) => ({ name: u.key, upload: u })), ...[...prefixes].map((p) => ({ name: p }))];
  rows.sort((a, b) => compareUtf8(a.name, b.name) || (a.upload?.initiatedMs ?? 0) - (b.upload?.initiatedMs ?? 0) || compareUtf8(a.upload?.uploadId ?? '', b.upload?.uploadId ?? ''));
  const taken = rows.slice(0, maxUploads);
  const isTruncated = rows.length > maxUploads || pages.some((p) => p.isTruncated);
  const last = taken[taken.length - 1];
  return {
    uploads: taken.flatMap((r) => (r.upload ? [r.upload] : [])),
    commonPrefixes: taken.flatMap((r) => (r.upload ? [] : [r.name])),
    isTruncated: isTruncated && last !== undefined,
    ...(isTruncated && last ? { nextKeyMarker: last.name, ...(last.upload ? { nextUploadIdMarker: last.upload.uploadId } : {}) } : {}),
  };
}
