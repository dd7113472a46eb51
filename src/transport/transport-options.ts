// The constructor options and limit handling every transport shares: each names the limits it
// runs with, takes their defaults from util/limits.ts and checks them the same way.
import { TesseraError } from '../util/errors.js';
import * as limits from '../util/limits.js';
import type { NodeIdentity } from './identity.js';
import type { PeerAddress } from './transport.js';

/** What every transport's constructor takes; `L` is its limits, each defaulting to util/limits.ts. */
export interface TransportOptions<L> {
  identity: NodeIdentity;
  /** This node's id (may also appear in `peers`). */
  nodeId: string;
  /** Every node this one may call or accept calls from, with its public key. */
  peers: PeerAddress[];
  /** Address to listen on (UDP for QUIC, TCP for TLS and TCP); port 0 picks a free port (listen() returns it). */
  listen: { host: string; port: number };
  limits?: Partial<L>;
}

/** Counters of inbound connections, for tests and diagnostics. */
export interface InboundConnectionStats {
  /** Inbound connections from listed peers that passed authentication since listen(). */
  acceptedConnections: number;
  /** Inbound connections refused: a key not in the peer list, a failed proof or handshake. */
  refusedConnections: number;
}

/** The names of the numeric constants in util/limits.ts. */
export type LimitName = { [K in keyof typeof limits]: (typeof limits)[K] extends number ? K : never }[keyof typeof limits];

/**
 * The limits named in `names` with the values `overrides` gives, else those of util/limits.ts.
 * Throws InvalidConfig unless every value is an integer in 1..2^32-1 (frame and window fields are
 * u32) and every one of `relations` ([holds, 'a < b']) holds.
 */
export function transportLimits<K extends LimitName>(names: readonly K[], overrides: Partial<Record<K, number>> | undefined, relations: (l: Record<K, number>) => Array<[boolean, string]> = () => []): Record<K, number> {
  const chosen = Object.fromEntries(names.map((name) => [name, overrides?.[name] ?? limits[name]])) as Record<K, number>;
  const u32 = 2 ** 32 - 1;
  for (const [name, value] of Object.entries<number>(chosen)) {
    if (!Number.isInteger(value) || value <= 0 || value > u32) throw new TesseraError('InvalidConfig', `transport limit ${name} must be an integer in 1..${u32}, got ${value}`);
  }
  for (const [holds, relation] of relations(chosen)) if (!holds) throw new TesseraError('InvalidConfig', `transport limits must satisfy ${relation}`);
  return chosen;
}
