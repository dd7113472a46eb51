// Serves meta.* calls from peers' gateways against this node's LMDB replica. Only the methods in
// replicaMethods are callable; arguments arrive as the msgpack header array.
import type { MetaReplica } from '../meta/meta-store.js';
import type { HandlerReply, InboundCall } from '../transport/transport.js';
import { TesseraError } from '../util/errors.js';
import { replicaMethods, type ReplicaMethod } from './cluster-meta-store.js';

const callable = new Set<string>(replicaMethods);

/** True for the methods serveReplica answers. */
export function isReplicaMethod(method: string): boolean {
  return method.startsWith('meta.');
}

/** Runs `meta.<method>(...args)` on the local replica; the reply header is its result. */
export async function serveReplica(local: MetaReplica, call: InboundCall): Promise<HandlerReply> {
  const method = call.method.slice('meta.'.length);
  if (!callable.has(method)) throw new TesseraError('UnknownMethod', `no replica method ${call.method}`);
  if (!Array.isArray(call.header)) throw new TesseraError('BadRequest', `${call.method}: arguments must be an array`);
  return { header: (await invokeLocal(local, method as ReplicaMethod, call.header)) ?? null };
}

/** Calls a replica method on the local store (used for this node's own share of a fan-out). */
export function invokeLocal(local: MetaReplica, method: ReplicaMethod, args: unknown[]): Promise<unknown> {
  const fn = (local as unknown as Record<ReplicaMethod, (...a: unknown[]) => unknown>)[method];
  return Promise.resolve(fn.apply(local, args));
}
