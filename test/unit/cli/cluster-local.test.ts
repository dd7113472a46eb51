// `s3d cluster start` waits for the ready line of the process it just started, never for a line
// an earlier run left in the same appended log.
import { describe, expect, it } from 'vitest';
import { readyLineOf } from '../../../src/cli/cluster-local.js';

function line(pid: number, port: number): string {
  return JSON.stringify({ level: 30, time: '2026-12-07T00:00:00.000Z', pid, endpoints: [`https://127.0.0.1:${port}`], msg: 's3d ready' });
}

describe('readyLineOf', () => {
  it('ignores a ready line of an earlier process in the same log', () => {
    const log = `${line(100, 9001)}\n{"level":30,"pid":100,"msg":"stopped"}\n{"level":30,"pid":200,"msg":"starting"}\n`;
    expect(readyLineOf(log, 200)).toBeUndefined();
  });

  it('finds the ready line of the current process', () => {
    const log = `${line(100, 9001)}\n${line(200, 9002)}\n`;
    expect(readyLineOf(log, 200)).toEqual({ endpoints: ['https://127.0.0.1:9002'] });
  });

  it('skips a line that is still being written', () => {
    expect(readyLineOf(`${line(200, 9002).slice(0, -5)}\n`, 200)).toBeUndefined();
  });
});
