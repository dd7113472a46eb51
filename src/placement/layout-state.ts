// The cluster layout as durable, versioned state: which nodes hold data (weight > 0), with what
// weight and zone, and how to reach them. Version 1 comes from the config `s3d cluster init` wrote;
// later versions are made by `s3d admin layout ... apply` and spread to every node, which keeps
// the newest it has seen in LMDB. While shards and records move to a new version, the previous
// one is kept so every object is still found where the old placement put it (a transition); a
// second change waits until the transition is over. Pure functions here; live-layout.ts runs them,
// cluster/layout-config.ts makes version 1 from the config and a member's transport address.
import { TesseraError } from '../util/errors.js';
import { nodeWeightMax, type ClusterLayout } from './layout.js';

/** One node as the layout knows it: its identity, address and share of data. */
export interface LayoutMember {
  id: string;
  host: string;
  /** Shard server port (UDP for QUIC, TCP for TLS). */
  port: number;
  /** Ed25519 public key, base64url of 32 bytes. */
  publicKey: string;
  /** Relative capacity in (0, 16]; 0 = a member that holds no data (a joining or drained node). */
  weight: number;
  zone?: string;
  /** The node's S3 HTTPS port (informational). */
  s3Port?: number;
}

/** One version of the layout. The erasure geometry (k + m) never changes. */
export interface LayoutSpec {
  version: number;
  dataShards: number;
  parityShards: number;
  /** In id order. */
  members: LayoutMember[];
}

/** What each node keeps in LMDB (worker state 'layout'). */
export interface LayoutState {
  current: LayoutSpec;
  /** The version data is moving away from; absent when no transition is in progress. */
  previous?: LayoutSpec;
  /** Changes staged by `s3d admin layout add-node | remove-node | set-weight`, not applied yet. */
  staged?: LayoutMember[];
}

/** Orders members by id (the order LayoutSpec.members keeps). */
export const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The state a node starts with: the saved one, unless the config carries a newer version (an
 * operator who edited every config by hand) or nothing was saved yet.
 */
export function startingLayout(saved: LayoutState | undefined, fromConfig: LayoutSpec): LayoutState {
  if (saved === undefined || fromConfig.version > saved.current.version) return { current: fromConfig };
  return saved;
}

/** The members of `spec` that hold data, as the placement ring takes them. */
export function placementLayout(spec: LayoutSpec): ClusterLayout {
  return {
    version: spec.version,
    nodes: spec.members.filter((m) => m.weight > 0).map((m) => ({ nodeId: m.id, weight: m.weight, ...(m.zone !== undefined ? { zone: m.zone } : {}) })),
  };
}

/** Every member of the current and previous versions (the transport's peers). */
export function allMembers(state: LayoutState): LayoutMember[] {
  const members = new Map<string, LayoutMember>();
  for (const member of state.previous?.members ?? []) members.set(member.id, member);
  for (const member of state.current.members) members.set(member.id, member);
  return [...members.values()].sort(byId);
}

/** The members the staged changes start from: the staged list, or the current one. */
function stagedMembers(state: LayoutState): LayoutMember[] {
  return (state.staged ?? state.current.members).map((m) => ({ ...m }));
}

function checkWeight(weight: number): void {
  if (!(weight >= 0 && weight <= nodeWeightMax)) throw new TesseraError('InvalidArgument', `weight must be between 0 and ${nodeWeightMax} (got ${weight})`);
}

/**
 * Stages `member` joining (or, for a known id, its address, key and weight changing). Throws
 * InvalidArgument when the weight is outside [0, 16] or another member has its host:port or key.
 */
export function stageAddNode(state: LayoutState, member: LayoutMember): LayoutState {
  checkWeight(member.weight);
  const members = stagedMembers(state).filter((m) => m.id !== member.id);
  const clash = members.find((m) => (m.host === member.host && m.port === member.port) || m.publicKey === member.publicKey);
  if (clash) throw new TesseraError('InvalidArgument', `node ${member.id} has the address or key of ${clash.id}`);
  return { ...state, staged: [...members, { ...member }].sort(byId) };
}

/** Stages the removal of node `id`: it gets weight 0, so its data moves away, and leaves the layout after. Throws InvalidArgument for an unknown id. */
export function stageRemoveNode(state: LayoutState, id: string): LayoutState {
  return stageSetWeight(state, id, 0);
}

/** Stages node `id`'s new weight (0 removes it). Throws InvalidArgument for an unknown id or a bad weight. */
export function stageSetWeight(state: LayoutState, id: string, weight: number): LayoutState {
  checkWeight(weight);
  const members = stagedMembers(state);
  const member = members.find((m) => m.id === id);
  if (!member) throw new TesseraError('InvalidArgument', `node ${id} is not in the layout (members: ${members.map((m) => m.id).join(', ')})`);
  member.weight = weight;
  return { ...state, staged: members };
}

/** Drops the staged changes. */
export function stageRevert(state: LayoutState): LayoutState {
  const { staged: _staged, ...rest } = state;
  return rest;
}

/**
 * Applies the staged changes as version current + 1, the current version becoming the previous
 * one until the move finishes. Members left at weight 0 that held no data before are dropped.
 * Throws LayoutNotApplied (nothing staged, or the change leaves fewer than k + m data-holding
 * nodes) and LayoutTransitionInProgress (the last change is still moving data).
 */
export function applyStaged(state: LayoutState): LayoutState {
  if (state.previous) {
    throw new TesseraError('LayoutTransitionInProgress', `data is still moving from layout ${state.previous.version} to ${state.current.version}; apply the next change after it finished (s3d admin status)`);
  }
  if (!state.staged) throw new TesseraError('LayoutNotApplied', 'nothing is staged: use s3d admin layout add-node | remove-node | set-weight first');
  const width = state.current.dataShards + state.current.parityShards;
  const holding = state.staged.filter((m) => m.weight > 0).length;
  if (holding < width) {
    throw new TesseraError('LayoutNotApplied', `the staged layout has ${holding} nodes holding data; ${state.current.dataShards} + ${state.current.parityShards} shards need ${width}`);
  }
  const wasHolding = new Set(state.current.members.filter((m) => m.weight > 0).map((m) => m.id));
  const members = state.staged.filter((m) => m.weight > 0 || wasHolding.has(m.id));
  const next: LayoutSpec = { ...state.current, version: state.current.version + 1, members };
  if (sameMembers(next, state.current)) throw new TesseraError('LayoutNotApplied', 'the staged layout is the same as the current one');
  return { current: next, previous: state.current };
}

function sameMembers(a: LayoutSpec, b: LayoutSpec): boolean {
  return JSON.stringify(a.members) === JSON.stringify(b.members);
}

/** Ends a transition: the previous version is forgotten; members the current one gives weight 0 leave. */
export function finishTransition(state: LayoutState): LayoutState {
  const current = { ...state.current, members: state.current.members.filter((m) => m.weight > 0) };
  return { current, ...(state.staged ? { staged: state.staged } : {}) };
}

/** Human-readable differences from `from` to `to`, one line per member. */
export function describeChanges(from: readonly LayoutMember[], to: readonly LayoutMember[]): string[] {
  const lines: string[] = [];
  const before = new Map(from.map((m) => [m.id, m]));
  const after = new Map(to.map((m) => [m.id, m]));
  for (const m of to) {
    const old = before.get(m.id);
    if (!old) lines.push(`+ ${m.id} (${m.host}:${m.port}) weight ${m.weight}${m.zone ? ` zone ${m.zone}` : ''}`);
    else if (old.weight !== m.weight) lines.push(m.weight === 0 ? `- ${m.id}: removed (weight ${old.weight} -> 0; drained, then leaves)` : `~ ${m.id}: weight ${old.weight} -> ${m.weight}`);
  }
  for (const m of from) if (!after.has(m.id)) lines.push(`- ${m.id}: leaves`);
  return lines;
}
