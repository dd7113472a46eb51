// The replica protocol in one process: ClusterMetaStore over three real LMDB replicas, each call
// encoded and decoded with the transport's own frames and served by the replica server's method
// table, so every MetaStore operation proves its arguments pass the server's decoders as the
// gateway sends them; and the server refuses unknown names and bad arguments by code, naming the field.
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openMetaStore, type LmdbMetaStore } from '../../src/meta/lmdb-meta-store.js';
import type { ObjectRecord } from '../../src/meta/types.js';
import { ClusterMetaStore } from '../../src/replication/cluster-meta-store.js';
import { replicaWireMethod, type ReplicaArgs, type ReplicaInvoker, type ReplicaMethod, type ReplicaReply } from '../../src/replication/replica-methods.js';
import { isReplicaMethod, serveReplica } from '../../src/replication/replica-server.js';
import { encodeFrame, errorFrame, errorFromFrame, readFrame, type ReplyFrame, type RequestFrame } from '../../src/transport/framing.js';
import type { InboundCall } from '../../src/transport/transport.js';
import { makeTempDir, removeTempDir } from '../helpers/server.js';
import { layout, objectRecord, partRecord, uploadRecord } from '../unit/meta/helpers.js';

const silent = pino({ level: 'silent' });
const nodes = ['n1', 'n2', 'n3'];

/** Bytes -> msgpack frame -> value, as the peer's transport hands it over. */
async function overTheWire<T extends RequestFrame | ReplyFrame>(frame: T): Promise<T> {
  const bytes = encodeFrame(frame);
  return (await readFrame<T>((async function* () { yield bytes; })())).frame;
}

function inbound(method: string, header: unknown): InboundCall {
  return { from: 'n1', method, header, body: (async function* () {})(), signal: new AbortController().signal };
}

describe('ClusterMetaStore through the replica server', () => {
  let dir: string;
  let replicas: Map<string, LmdbMetaStore>;
  const calls: string[] = [];
  let meta: ClusterMetaStore;

  beforeEach(async () => {
    dir = makeTempDir('replica-protocol');
    replicas = new Map();
    for (const id of nodes) replicas.set(id, await openMetaStore(join(dir, id)));
    calls.length = 0;
    // Every call, this node's own included, crosses the wire encoding and the server's table.
    const invoke: ReplicaInvoker = async <M extends ReplicaMethod>(nodeId: string, method: M, args: ReplicaArgs<M>): Promise<ReplicaReply<M>> => {
      calls.push(method);
      const request = await overTheWire<RequestFrame>({ m: replicaWireMethod(method), h: args, t: 1000 });
      let reply: ReplyFrame;
      try {
        reply = { h: (await serveReplica(replicas.get(nodeId)!, inbound(request.m, request.h))).header };
      } catch (err) {
        reply = errorFrame(err);
      }
      const answer = await overTheWire(reply);
      if ('e' in answer) throw errorFromFrame(answer, nodeId);
      return (answer.h ?? undefined) as ReplicaReply<M>;
    };
    meta = new ClusterMetaStore({
      local: replicas.get('n1')!, selfId: 'n1', nodeIds: () => nodes, homeSets: () => [nodes],
      layoutVersion: () => 1, writeQuorum: 2, invoke, log: silent,
    });
  });

  afterEach(async () => {
    for (const store of replicas.values()) await store.close().catch(() => undefined);
    removeTempDir(dir);
  });

  it('buckets, objects, listings and deletes reach every replica and read back', async () => {
    await meta.createBucket({ name: 'b', createdMs: 1, location: '' });
    expect((await meta.listBuckets()).map((b) => b.name)).toEqual(['b']);
    for (const id of nodes) expect(await replicas.get(id)!.getBucket('b')).toBeDefined();

    await meta.putObject(objectRecord('b', 'k1', 'e1'));
    await meta.putObject(objectRecord('b', 'dir/k2', 'e2'));
    expect((await meta.getObject('b', 'k1'))?.etag).toBe('e1');
    for (const id of nodes) expect((await replicas.get(id)!.getObject('b', 'k1'))?.writer).toBe('n1');
    const page = await meta.listObjects('b', { prefix: '', delimiter: '/', startAfter: '', maxKeys: 10 });
    expect(page.objects.map((o) => o.key)).toEqual(['k1']);
    expect(page.commonPrefixes).toEqual(['dir/']);

    expect((await meta.deleteObject('b', 'k1'))?.etag).toBe('e1');
    expect(await meta.getObject('b', 'k1')).toBeUndefined();
    const held = await meta.versionOn(nodes, 'b', 'dir/k2');
    expect(held?.record?.etag).toBe('e2');
    await meta.placeOn(['n2', 'n3'], { ...held!.record!, layoutVersion: 2 });
    expect(await meta.dropFrom(['n1'], 'b', 'dir/k2', held!.record!)).toEqual([]);
    await meta.deleteObject('b', 'dir/k2');
    await meta.deleteBucket('b');
    expect(await meta.listBuckets()).toEqual([]);
    expect(new Set(calls)).toEqual(new Set([
      'getBucket', 'listBuckets', 'applyBucket', 'applyObject', 'getObjectVersion', 'listObjects', 'applyDelete', 'dropObject', 'deleteBucket',
    ]));
  });

  it('a multipart upload: create, parts, list, complete with its digest, and abort of another', async () => {
    await meta.createBucket({ name: 'b', createdMs: 1, location: '' });
    await meta.createUpload(uploadRecord('b', 'big', 'u1'));
    await meta.createUpload(uploadRecord('b', 'other', 'u2'));
    expect((await meta.getUpload('b', 'big', 'u1'))?.uploadId).toBe('u1');
    const parts = [partRecord(1), partRecord(2)];
    for (const part of parts) await meta.putPart('b', 'big', 'u1', part);
    expect((await meta.listParts('b', 'big', 'u1', 0, 1)).parts.map((p) => p.partNumber)).toEqual([1]);
    const uploads = await meta.listUploads('b', { prefix: '', delimiter: '', keyMarker: '', uploadIdMarker: '', maxUploads: 10 });
    expect(uploads.uploads.map((u) => u.uploadId)).toEqual(['u1', 'u2']);

    const record: ObjectRecord = {
      bucket: 'b', key: 'big', sizeBytes: 10, etag: 'm-2', lastModifiedMs: Date.now(), layout, multipart: true, userMetadata: {},
      parts: parts.map(({ lastModifiedMs: _l, ...part }) => part),
    };
    const digest = new Uint8Array(32).fill(7);
    await meta.completeUpload('u1', record, digest);
    const completed = await meta.getCompletedUpload('b', 'big', 'u1');
    expect(completed?.etag).toBe('m-2');
    expect(Buffer.from(completed!.partsDigest).equals(Buffer.from(digest))).toBe(true);
    await meta.abortUpload('b', 'other', 'u2');
    expect(await meta.getUpload('b', 'other', 'u2')).toBeUndefined();
    expect(calls).toEqual(expect.arrayContaining(['createUpload', 'getUpload', 'putPart', 'getParts', 'listUploads', 'applyCompleteUpload', 'getCompletedUpload', 'abortUpload']));
  });
});

describe('the replica server', () => {
  let dir: string;
  let store: LmdbMetaStore;
  beforeEach(async () => {
    dir = makeTempDir('replica-server');
    store = await openMetaStore(join(dir, 'meta'));
  });
  afterEach(async () => {
    await store.close();
    removeTempDir(dir);
  });

  const refusal = (method: string, header: unknown): Promise<{ code?: string; message?: string }> =>
    serveReplica(store, inbound(method, header)).then(() => ({}), (err: { code?: string; message?: string }) => err);

  it('answers exactly the replica methods: other names, prototype keys and MetaStore methods off the list are UnknownMethod', async () => {
    expect(isReplicaMethod('meta.getBucket')).toBe(true);
    for (const method of ['meta.', 'meta.getbucket', 'meta.constructor', 'meta.__proto__', 'meta.toString', 'meta.close', 'meta.listPending', 'shard.read', 'getBucket']) {
      expect(isReplicaMethod(method), method).toBe(false);
      expect((await refusal(method, [])).code, method).toBe('UnknownMethod');
    }
  });

  it('refuses a header that is not an argument array, and bad arguments naming the field', async () => {
    expect(await refusal('meta.getBucket', { name: 'b' })).toMatchObject({ code: 'BadRequest', message: 'meta.getBucket: arguments must be an array' });
    expect(await refusal('meta.getBucket', [7])).toMatchObject({ code: 'BadRequest', message: 'meta.getBucket: name must be a string' });
    const { key: _key, ...keyless } = objectRecord('b', 'k');
    expect(await refusal('meta.applyObject', [keyless])).toMatchObject({ code: 'BadRequest', message: 'meta.applyObject: record.key must be a string' });
    const badPart = { ...objectRecord('b', 'k'), parts: [{ partNumber: 1, dataId: 5, drives: [] }] };
    expect(await refusal('meta.applyObject', [badPart])).toMatchObject({ code: 'BadRequest', message: 'meta.applyObject: record.parts[0].dataId must be a string' });
    expect(await refusal('meta.listObjects', ['b', { prefix: '', delimiter: '', startAfter: '', maxKeys: -1 }])).toMatchObject({ code: 'BadRequest', message: 'meta.listObjects: query.maxKeys must be a whole number' });
    expect(await refusal('meta.applyCompleteUpload', ['u', objectRecord('b', 'k'), 'not bytes'])).toMatchObject({ code: 'BadRequest', message: 'meta.applyCompleteUpload: partsDigest must be bytes' });
    expect(await refusal('meta.dropObject', ['b', 'k', { lastModifiedMs: 1, writer: 3 }])).toMatchObject({ code: 'BadRequest', message: 'meta.dropObject: upTo.writer must be a string' });
    expect(await store.getObject('b', 'k')).toBeUndefined();
  });

  it('ignores arguments past the method\'s own, as before the table', async () => {
    await store.createBucket({ name: 'b', createdMs: 1, location: '' });
    expect((await serveReplica(store, inbound('meta.getBucket', ['b', 'extra']))).header).toMatchObject({ name: 'b' });
    expect((await serveReplica(store, inbound('meta.getBucket', ['nope']))).header).toBeNull();
  });
});
