// The layout a running node uses: the durable LayoutState (layout-state.ts) with a Placement per
// version, saved through the node (LMDB), replaced when a newer version arrives (from `s3d admin
// layout apply`, or pulled from a peer by cluster/layout-sync.ts). Newly written data goes where the
// current version places it; while a transition is in progress, metadata is read and written on
// the home nodes of both versions.
import type { Logger } from 'pino';
import { TesseraError } from '../util/errors.js';
import { allMembers, placementLayout, type LayoutMember, type LayoutSpec, type LayoutState } from './layout-state.js';
import { Placement } from './placement.js';

/** Order of two states: by current version, then a finished transition after an unfinished one. Positive when `a` is newer. */
export function compareLayoutStates(a: LayoutState, b: LayoutState): number {
  if (a.current.version !== b.current.version) return a.current.version - b.current.version;
  return (a.previous ? 0 : 1) - (b.previous ? 0 : 1);
}

export interface LiveLayoutOptions {
  selfId: string;
  initial: LayoutState;
  /** Saves the state durably (LMDB worker state 'layout'). */
  save(state: LayoutState): Promise<void>;
  /** Admits members the transport does not know yet. */
  addPeer(member: LayoutMember): void;
  log: Logger;
}

/** The node's layout: current and previous placements, adoption of newer states. */
export class LiveLayout {
  private state: LayoutState;
  private currentPlacement: Placement;
  private previousPlacement: Placement | undefined;
  /** Serialises adopt/stage so two saves never interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly options: LiveLayoutOptions) {
    this.state = options.initial;
    this.currentPlacement = new Placement(placementLayout(this.state.current));
    this.previousPlacement = this.state.previous ? new Placement(placementLayout(this.state.previous)) : undefined;
    for (const member of allMembers(this.state)) if (member.id !== options.selfId) options.addPeer(member);
  }

  /** The state as saved (a copy). */
  snapshot(): LayoutState {
    return structuredClone(this.state);
  }

  get current(): LayoutSpec {
    return this.state.current;
  }

  get previous(): LayoutSpec | undefined {
    return this.state.previous;
  }

  get width(): number {
    return this.state.current.dataShards + this.state.current.parityShards;
  }

  /** Nodes for shards 0..k+m-1 of `placementKey` under the current version. Throws InsufficientNodes. */
  place(placementKey: string): string[] {
    return this.currentPlacement.place(placementKey, this.width);
  }

  /** The key's home node sets: the current version's, then the previous one's when a transition runs and it differs. */
  homeSets(placementKey: string): string[][] {
    const current = this.place(placementKey);
    if (!this.previousPlacement) return [current];
    const previous = this.previousPlacement.place(placementKey, this.width);
    const same = previous.length === current.length && previous.every((n) => current.includes(n));
    return same ? [current] : [current, previous];
  }

  /** Every member of both versions except this node (the nodes listings and bucket writes reach). */
  memberIds(): string[] {
    return allMembers(this.state).map((m) => m.id);
  }

  /** Calls `listener` after every change of the state. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Takes `incoming` when it is newer than the node's state (compareLayoutStates) and saves it;
   * staged changes stay the node's own. Resolves true when adopted. Throws InvalidLayout when
   * its geometry differs from the node's (k + m never change).
   */
  adopt(incoming: LayoutState): Promise<boolean> {
    return this.serial(async () => {
      if (compareLayoutStates(incoming, this.state) <= 0) return false;
      if (incoming.current.dataShards !== this.state.current.dataShards || incoming.current.parityShards !== this.state.current.parityShards) {
        throw new TesseraError('InvalidLayout', `layout ${incoming.current.version} has ${incoming.current.dataShards} + ${incoming.current.parityShards} shards, this node ${this.state.current.dataShards} + ${this.state.current.parityShards}`);
      }
      const next: LayoutState = { current: incoming.current, ...(incoming.previous ? { previous: incoming.previous } : {}), ...(this.state.staged ? { staged: this.state.staged } : {}) };
      await this.replace(next);
      this.options.log.info({ version: next.current.version, previous: next.previous?.version, members: next.current.members.map((m) => `${m.id}:${m.weight}`) }, 'layout adopted');
      return true;
    });
  }

  /** Replaces the staged changes (the current and previous versions stay) and saves. */
  setStaged(staged: LayoutMember[] | undefined): Promise<void> {
    return this.serial(async () => {
      const { staged: _old, ...rest } = this.state;
      await this.replace(staged === undefined ? rest : { ...rest, staged });
    });
  }

  private async replace(next: LayoutState): Promise<void> {
    await this.options.save(next);
    for (const member of allMembers(next)) if (member.id !== this.options.selfId) this.options.addPeer(member);
    if (next.current.version !== this.state.current.version) this.currentPlacement = new Placement(placementLayout(next.current));
    this.previousPlacement = next.previous ? new Placement(placementLayout(next.previous)) : undefined;
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  private serial<T>(action: () => Promise<T>): Promise<T> {
    const run = this.queue.then(action, action);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
