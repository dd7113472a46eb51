// Quorum rules for cluster metadata, as small named functions (MinIO's reduceWriteQuorumErrs
// style): how many replicas a read or write needs, and a gather that stops waiting once enough
// have answered, so a slow or stopped node costs at most a short grace, never a deadline.
import { errorCodeOf } from '../util/errors.js';

/** One replica's answer. */
export type ReplicaResult<T> = { nodeId: string; ok: true; value: T } | { nodeId: string; ok: false; error: unknown };

/** Metadata write quorum: the shard write quorum (k, or k + 1 when k = m). */
export function metaWriteQuorum(dataShards: number, parityShards: number): number {
  return dataShards + (dataShards === parityShards ? 1 : 0);
}

/** Replicas a read must hear from so it overlaps every write quorum: width - writeQuorum + 1. */
export function metaReadQuorum(width: number, writeQuorum: number): number {
  return width - writeQuorum + 1;
}

/** A set of replicas of which at least `need` must answer. */
export interface Quorum {
  nodes: readonly string[];
  need: number;
}

export interface GatherOptions {
  /**
   * Quorums that must all be met before the gather may stop waiting: one set normally; during a
   * layout transition, the key's home nodes under both versions (a node in both counts for both).
   */
  quorums: readonly Quorum[];
  /** After the quorums are met, how long to wait for the rest before returning, in ms. */
  graceMs: number;
}

/** True when every quorum has `need` successful answers among `results`. */
export function quorumsMet(results: readonly ReplicaResult<unknown>[], quorums: readonly Quorum[]): boolean {
  const ok = new Set(results.filter((r) => r.ok).map((r) => r.nodeId));
  return quorums.every((q) => q.nodes.filter((n) => ok.has(n)).length >= q.need);
}

/**
 * Runs `call` on every node at once and resolves with the answers received when all answered,
 * or `graceMs` after every quorum is met, whichever is first (each call carries its own deadline,
 * so this also resolves when they have all failed). Calls still running keep going in the
 * background; their results are dropped.
 */
export function gather<T>(nodeIds: readonly string[], call: (nodeId: string) => Promise<T>, options: GatherOptions): Promise<ReplicaResult<T>[]> {
  return new Promise((resolve) => {
    const results: ReplicaResult<T>[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      resolve([...results]);
    };
    if (nodeIds.length === 0) return finish();
    for (const nodeId of nodeIds) {
      call(nodeId).then(
        (value) => {
          results.push({ nodeId, ok: true, value });
        },
        (error: unknown) => {
          results.push({ nodeId, ok: false, error });
        },
      ).finally(() => {
        if (results.length === nodeIds.length) return finish();
        if (!timer && !done && quorumsMet(results, options.quorums)) timer = setTimeout(finish, options.graceMs);
      });
    }
  });
}

/** The successful values. */
export function successes<T>(results: readonly ReplicaResult<T>[]): T[] {
  return results.flatMap((r) => (r.ok ? [r.value] : []));
}

/** The first failure's error whose code is in `codes` when every replica failed with one of them. */
export function unanimousError(results: readonly ReplicaResult<unknown>[], codes: readonly string[]): unknown {
  if (results.length === 0 || results.some((r) => r.ok)) return undefined;
  const coded = results.filter((r) => !r.ok && codes.includes(errorCodeOf(r.error) ?? ''));
  return coded.length === results.length ? (coded[0] as { error: unknown }).error : undefined;
}
