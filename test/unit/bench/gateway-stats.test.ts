// gatewayUse: each gateway process's share of its node's requests and its event loop utilization
// between two snapshots of DATA/gateway-workers.json; a process restarted in between is left out.
import { describe, expect, it } from 'vitest';
import { gatewayUse, type GatewaySnapshot } from '../../../bench/gateway-stats.js';

type Entry = { node: number; index: number; pid: number; requests: number; active: number; idle: number; role?: 'node' | 'gateway' };

function snapshot(entries: Entry[]): GatewaySnapshot {
  return new Map(entries.map((e) => [`${e.node}/${e.index}`, {
    node: e.node, index: e.index, pid: e.pid, requests: e.requests, eventLoopActiveMs: e.active, eventLoopIdleMs: e.idle, role: e.role ?? (e.index === 0 ? 'node' : 'gateway'),
  }]));
}

describe('gatewayUse', () => {
  it('splits each node\'s requests over its processes and gives each loop\'s utilization over the window', () => {
    const start = snapshot([
      { node: 1, index: 0, pid: 10, requests: 0, active: 100, idle: 900 },
      { node: 1, index: 1, pid: 11, requests: 50, active: 200, idle: 800 },
      { node: 1, index: 2, pid: 12, requests: 40, active: 200, idle: 800 },
    ]);
    const end = snapshot([
      { node: 1, index: 0, pid: 10, requests: 0, active: 200, idle: 1800 },
      { node: 1, index: 1, pid: 11, requests: 110, active: 950, idle: 1050 },
      { node: 1, index: 2, pid: 12, requests: 80, active: 700, idle: 1300 },
    ]);
    const rows = gatewayUse(start, end);
    expect(rows.map((r) => [r.index, r.requests, r.requestShare, r.eventLoopUtilization])).toEqual([
      [0, 0, 0, 0.1],
      [1, 60, 0.6, 0.75],
      [2, 40, 0.4, 0.5],
    ]);
  });

  it('leaves out a process whose pid changed (restarted) and one that appeared in the window', () => {
    const start = snapshot([{ node: 2, index: 1, pid: 21, requests: 5, active: 1, idle: 1 }]);
    const end = snapshot([
      { node: 2, index: 1, pid: 99, requests: 1, active: 1, idle: 1 },
      { node: 2, index: 2, pid: 22, requests: 7, active: 1, idle: 1 },
    ]);
    expect(gatewayUse(start, end)).toEqual([]);
  });
});
