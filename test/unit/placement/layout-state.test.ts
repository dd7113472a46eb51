// Layout state: staging changes, applying them as the next version with the previous one kept for
// the move, refusing a second change while data moves, and which state is newer between nodes.
import { describe, expect, it } from 'vitest';
import {
  allMembers, applyStaged, describeChanges, finishTransition, placementLayout, stageAddNode, stageRemoveNode, stageSetWeight,
  startingLayout, type LayoutMember, type LayoutSpec, type LayoutState,
} from '../../../src/placement/layout-state.js';
import { compareLayoutStates } from '../../../src/placement/live-layout.js';

const member = (i: number, weight = 1): LayoutMember => ({ id: `node-${i}`, host: '127.0.0.1', port: 9100 + i, publicKey: `key-${i}`.padEnd(43, 'x'), weight });
const spec = (version: number, members: LayoutMember[]): LayoutSpec => ({ version, dataShards: 4, parityShards: 2, members });
const six: LayoutState = { current: spec(1, [1, 2, 3, 4, 5, 6].map((i) => member(i))) };

const codeOf = (action: () => unknown): string | undefined => {
  try {
    action();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('layout state', () => {
  it('applies a staged node as the next version and keeps the previous one for the move', () => {
    const staged = stageAddNode(six, member(7));
    expect(staged.current.version).toBe(1);
    expect(describeChanges(six.current.members, staged.staged!)).toEqual(['+ node-7 (127.0.0.1:9107) weight 1']);
    const applied = applyStaged(staged);
    expect(applied.current.version).toBe(2);
    expect(applied.current.members.map((m) => m.id)).toContain('node-7');
    expect(applied.previous).toEqual(six.current);
    expect(applied.staged).toBeUndefined();
    expect(codeOf(() => applyStaged(stageSetWeight(applied, 'node-1', 2)))).toBe('LayoutTransitionInProgress');
    const done = finishTransition(applied);
    expect(done.previous).toBeUndefined();
    expect(applyStaged(stageSetWeight(done, 'node-1', 2)).current.version).toBe(3);
  });

  it('removes a node by weight 0: it stays a member (drained) until the move is over, then leaves', () => {
    const seven: LayoutState = { current: spec(4, [1, 2, 3, 4, 5, 6, 7].map((i) => member(i))) };
    const applied = applyStaged(stageRemoveNode(seven, 'node-3'));
    expect(applied.current.members.find((m) => m.id === 'node-3')?.weight).toBe(0);
    expect(placementLayout(applied.current).nodes.map((n) => n.nodeId)).not.toContain('node-3');
    expect(allMembers(applied).map((m) => m.id)).toContain('node-3');
    expect(finishTransition(applied).current.members.map((m) => m.id)).not.toContain('node-3');
    expect(describeChanges(seven.current.members, applied.current.members)).toEqual(['- node-3: removed (weight 1 -> 0; drained, then leaves)']);
  });

  it('refuses changes that leave too few nodes, unknown nodes, bad weights, clashes and empty applies', () => {
    expect(codeOf(() => applyStaged(stageRemoveNode(six, 'node-1')))).toBe('LayoutNotApplied'); // 5 nodes for 4 + 2
    expect(codeOf(() => stageRemoveNode(six, 'node-9'))).toBe('InvalidArgument');
    expect(codeOf(() => stageSetWeight(six, 'node-1', 17))).toBe('InvalidArgument');
    expect(codeOf(() => stageAddNode(six, { ...member(7), port: 9101 }))).toBe('InvalidArgument');
    expect(codeOf(() => applyStaged(six))).toBe('LayoutNotApplied');
    expect(codeOf(() => applyStaged(stageSetWeight(six, 'node-1', 1)))).toBe('LayoutNotApplied'); // no change
  });

  it('orders states by version, then a finished move after an unfinished one; a newer config wins at start', () => {
    const moving = applyStaged(stageAddNode(six, member(7)));
    const finished = finishTransition(moving);
    expect(compareLayoutStates(moving, six)).toBeGreaterThan(0);
    expect(compareLayoutStates(finished, moving)).toBeGreaterThan(0);
    expect(compareLayoutStates(moving, finished)).toBeLessThan(0);
    expect(startingLayout(moving, six.current)).toBe(moving);
    expect(startingLayout(undefined, six.current)).toEqual({ current: six.current });
    expect(startingLayout(six, spec(5, six.current.members)).current.version).toBe(5);
  });
});
