// Serves 'meta.<name>' calls from peers' gateways against this node's LMDB replica: a method table
// with one entry per replica method (replica-methods.ts), looked up by exact name; each entry
// checks the header array into the method's arguments before the replica sees them.
import type { MetaReplica } from '../meta/meta-store.js';
import { dispatch, hasMethod, type MethodEntry, type MethodTable } from '../transport/method-table.js';
import type { HandlerReply, InboundCall } from '../transport/transport.js';
import {
  replicaArguments, replicaEntries, replicaMethods, replicaWireMethod, type ReplicaArgs, type ReplicaMethod,
} from './replica-methods.js';

/** Wire method name -> the arguments it decodes to. */
type ReplicaServerArgs = { [M in ReplicaMethod as `meta.${M}`]: ReplicaArgs<M> };

/** The table entry of replica method `method`: header array -> checked arguments -> result as the reply header (nil for undefined). */
function serverEntry<M extends ReplicaMethod>(method: M): MethodEntry<ReplicaArgs<M>, MetaReplica> {
  return {
    decode: (header) => replicaEntries[method].decode(replicaArguments(header)),
    handle: async (args, _call, local) => ({ header: (await replicaEntries[method].run(local, args)) ?? null }),
  };
}

/**
 * The replica server's table. Built from the method list, since Object.fromEntries cannot carry
 * the key -> entry types through; serverEntry types each entry.
 */
const replicaServerTable = Object.fromEntries(replicaMethods.map((m) => [replicaWireMethod(m), serverEntry(m)])) as unknown as MethodTable<ReplicaServerArgs, MetaReplica>;

/** True for exactly the method names serveReplica answers ('meta.getBucket', ...). */
export function isReplicaMethod(method: string): boolean {
  return hasMethod(replicaServerTable, method);
}

/**
 * Runs one 'meta.<name>' call (header: the argument array) on the local replica; the reply header
 * is its result. Throws UnknownMethod, BadRequest naming the bad argument, and the replica's codes.
 */
export function serveReplica(local: MetaReplica, call: InboundCall): Promise<HandlerReply> {
  return dispatch(replicaServerTable, call, local);
}
