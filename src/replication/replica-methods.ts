// The replica protocol: the MetaReplica methods one node's gateway may call on another node's LMDB
// replica, with each method's argument types (those of MetaReplica), a decoder that checks the
// arguments arriving as the msgpack header array, and the call on the replica. On the wire a call is
// method 'meta.<name>' with header [arg0, arg1, ...] and the reply header is the result (nil for
// undefined), unchanged since the first cluster release so mixed versions interoperate.
import type { MetaReplica, VersionStamp } from '../meta/meta-store.js';
import type { BucketRecord, ListObjectsQuery, ListUploadsQuery, ObjectRecord, PartRecord, Tombstone, UploadRecord } from '../meta/types.js';
import {
  arrayField, bytesField, numberField, objectField, optionalField, stringField, wholeNumberField,
} from '../transport/method-table.js';
import { discardBody, type Transport } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';

/** The MetaReplica methods a peer may call (the replica server refuses anything else). */
export const replicaMethods = [
  'getBucket', 'listBuckets', 'applyBucket', 'deleteBucket', 'listObjects', 'getObjectVersion', 'applyObject',
  'applyDelete', 'createUpload', 'getUpload', 'putPart', 'getParts', 'listUploads', 'applyCompleteUpload', 'abortUpload', 'dropObject',
  'getCompletedUpload',
] as const;
export type ReplicaMethod = (typeof replicaMethods)[number];
/** The arguments of replica method `M`, as MetaReplica declares them. */
export type ReplicaArgs<M extends ReplicaMethod> = Parameters<MetaReplica[M]>;
/** What replica method `M` resolves to. */
export type ReplicaReply<M extends ReplicaMethod> = Awaited<ReturnType<MetaReplica[M]>>;
/** The wire name of a replica method. */
export type ReplicaWireMethod = `meta.${ReplicaMethod}`;

/** Calls `method` of the replica on `nodeId` (locally when it is this node), within its deadline. */
export type ReplicaInvoker = <M extends ReplicaMethod>(nodeId: string, method: M, args: ReplicaArgs<M>) => Promise<ReplicaReply<M>>;

/** One replica method: how its header array is checked, and how it runs on a replica. */
export interface ReplicaEntry<M extends ReplicaMethod> {
  /** Checks the header array; throws BadRequest naming the bad argument (a missing one fails its check; extra trailing ones are ignored, as before the table). */
  decode(args: readonly unknown[]): ReplicaArgs<M>;
  run(local: MetaReplica, args: ReplicaArgs<M>): Promise<ReplicaReply<M>>;
}

/** Every replica method (a method missing here does not compile). */
export const replicaEntries: { readonly [M in ReplicaMethod]: ReplicaEntry<M> } = {
  getBucket: { decode: (a) => [name(a[0], 'name')], run: (local, args) => local.getBucket(...args) },
  listBuckets: { decode: () => [], run: (local) => local.listBuckets() },
  applyBucket: { decode: (a) => [bucketRecord(a[0], 'record')], run: (local, args) => local.applyBucket(...args) },
  deleteBucket: { decode: (a) => [name(a[0], 'name')], run: (local, args) => local.deleteBucket(...args) },
  listObjects: { decode: (a) => [name(a[0], 'bucket'), listObjectsQuery(a[1], 'query')], run: (local, args) => local.listObjects(...args) },
  getObjectVersion: { decode: (a) => [name(a[0], 'bucket'), name(a[1], 'key')], run: (local, args) => local.getObjectVersion(...args) },
  applyObject: { decode: (a) => [objectRecord(a[0], 'record')], run: (local, args) => local.applyObject(...args) },
  applyDelete: { decode: (a) => [tombstone(a[0], 'tombstone')], run: (local, args) => local.applyDelete(...args) },
  createUpload: { decode: (a) => [uploadRecord(a[0], 'record')], run: (local, args) => local.createUpload(...args) },
  getUpload: { decode: uploadAddress, run: (local, args) => local.getUpload(...args) },
  putPart: { decode: (a) => [...uploadAddress(a), partRecord(a[3], 'part')], run: (local, args) => local.putPart(...args) },
  getParts: { decode: uploadAddress, run: (local, args) => local.getParts(...args) },
  listUploads: { decode: (a) => [name(a[0], 'bucket'), listUploadsQuery(a[1], 'query')], run: (local, args) => local.listUploads(...args) },
  applyCompleteUpload: {
    decode: (a) => [name(a[0], 'uploadId'), objectRecord(a[1], 'record'), bytesField(a[2], 'partsDigest')],
    run: (local, args) => local.applyCompleteUpload(...args),
  },
  abortUpload: { decode: uploadAddress, run: (local, args) => local.abortUpload(...args) },
  dropObject: { decode: (a) => [name(a[0], 'bucket'), name(a[1], 'key'), versionStamp(a[2], 'upTo')], run: (local, args) => local.dropObject(...args) },
  getCompletedUpload: { decode: uploadAddress, run: (local, args) => local.getCompletedUpload(...args) },
};

/** The wire name of `method` ('meta.' + its MetaReplica name). */
export function replicaWireMethod<M extends ReplicaMethod>(method: M): `meta.${M}` {
  return `meta.${method}`;
}

/** Runs replica method `method` on the local store (this node's own share of a fan-out). */
export function invokeLocal<M extends ReplicaMethod>(local: MetaReplica, method: M, args: ReplicaArgs<M>): Promise<ReplicaReply<M>> {
  const entry: ReplicaEntry<M> = replicaEntries[method];
  return entry.run(local, args);
}

export interface ReplicaInvokerOptions {
  selfId: string;
  /** This node's replica: calls for selfId run here, without the transport. */
  local: MetaReplica;
  transport: Transport;
  /** Deadline of one remote call, in ms (metaCallTimeoutMs). */
  timeoutMs: number;
}

/**
 * The invoker ClusterMetaStore runs on: the local replica for this node, a 'meta.<name>' call over
 * the transport for the others. Throws the replica's codes and the transport's (PeerUnreachable,
 * CallTimeout, ...). The reply header is taken as the method's result: peers are authenticated
 * nodes running the same replica code.
 */
export function replicaInvoker(options: ReplicaInvokerOptions): ReplicaInvoker {
  return async <M extends ReplicaMethod>(nodeId: string, method: M, args: ReplicaArgs<M>): Promise<ReplicaReply<M>> => {
    if (nodeId === options.selfId) return invokeLocal(options.local, method, args);
    const reply = await options.transport.call(nodeId, { method: replicaWireMethod(method), header: args }, { timeoutMs: options.timeoutMs });
    await discardBody(reply.body); // no reply body for meta calls
    return (reply.header ?? undefined) as ReplicaReply<M>;
  };
}

/** The header of a replica call: the argument array. Throws BadRequest. */
export function replicaArguments(header: unknown): unknown[] {
  if (!Array.isArray(header)) throw new TesseraError('BadRequest', 'arguments must be an array');
  return header;
}

// ---- argument decoders: they check the fields a replica keys, orders, indexes and pages by; the
// rest of a record or query passes as sent (fields a newer node adds included), since the caller
// is an authenticated node ----

const name = stringField;

function uploadAddress(a: readonly unknown[]): [bucket: string, key: string, uploadId: string] {
  return [name(a[0], 'bucket'), name(a[1], 'key'), name(a[2], 'uploadId')];
}

function bucketRecord(value: unknown, field: string): BucketRecord {
  const v = objectField(value, field);
  stringField(v.name, `${field}.name`);
  numberField(v.createdMs, `${field}.createdMs`);
  stringField(v.location, `${field}.location`);
  return v as unknown as BucketRecord;
}

function versionStamp(value: unknown, field: string): VersionStamp {
  const v = objectField(value, field);
  numberField(v.lastModifiedMs, `${field}.lastModifiedMs`);
  optionalField(v.writer, `${field}.writer`, stringField);
  optionalField(v.layoutVersion, `${field}.layoutVersion`, wholeNumberField);
  return v as unknown as VersionStamp;
}

function objectRecord(value: unknown, field: string): ObjectRecord {
  const v = objectField(value, field);
  stringField(v.bucket, `${field}.bucket`);
  stringField(v.key, `${field}.key`);
  versionStamp(v, field);
  wholeNumberField(v.sizeBytes, `${field}.sizeBytes`);
  objectField(v.layout, `${field}.layout`);
  arrayField(v.parts, `${field}.parts`).forEach((part, i) => dataPart(part, `${field}.parts[${i}]`));
  return v as unknown as ObjectRecord;
}

function dataPart(value: unknown, field: string): void {
  const v = objectField(value, field);
  wholeNumberField(v.partNumber, `${field}.partNumber`);
  stringField(v.dataId, `${field}.dataId`);
  arrayField(v.drives, `${field}.drives`);
}

function tombstone(value: unknown, field: string): Tombstone {
  const v = objectField(value, field);
  stringField(v.bucket, `${field}.bucket`);
  stringField(v.key, `${field}.key`);
  numberField(v.lastModifiedMs, `${field}.lastModifiedMs`);
  stringField(v.writer, `${field}.writer`);
  return v as unknown as Tombstone;
}

function uploadRecord(value: unknown, field: string): UploadRecord {
  const v = objectField(value, field);
  stringField(v.bucket, `${field}.bucket`);
  stringField(v.key, `${field}.key`);
  stringField(v.uploadId, `${field}.uploadId`);
  numberField(v.initiatedMs, `${field}.initiatedMs`);
  objectField(v.layout, `${field}.layout`);
  return v as unknown as UploadRecord;
}

function partRecord(value: unknown, field: string): PartRecord {
  dataPart(value, field);
  const v = objectField(value, field);
  numberField(v.lastModifiedMs, `${field}.lastModifiedMs`);
  wholeNumberField(v.sizeBytes, `${field}.sizeBytes`);
  return v as unknown as PartRecord;
}

function listObjectsQuery(value: unknown, field: string): ListObjectsQuery {
  const v = objectField(value, field);
  for (const text of ['prefix', 'delimiter', 'startAfter']) stringField(v[text], `${field}.${text}`);
  wholeNumberField(v.maxKeys, `${field}.maxKeys`);
  return v as unknown as ListObjectsQuery;
}

function listUploadsQuery(value: unknown, field: string): ListUploadsQuery {
  const v = objectField(value, field);
  for (const text of ['prefix', 'delimiter', 'keyMarker', 'uploadIdMarker']) stringField(v[text], `${field}.${text}`);
  wholeNumberField(v.maxUploads, `${field}.maxUploads`);
  return v as unknown as ListUploadsQuery;
}
