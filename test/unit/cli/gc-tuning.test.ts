// The garbage collector flags every server process sets at start: which V8 gets which, and that
// on this Node they do what they are for. A child process allocates 2 GiB of short-lived 256 KiB
// Buffers (what a cluster node's transport reads do) with V8's defaults and with the flags set
// the way s3d sets them, and counts full (mark-compact) collections: on V8 13 the defaults run
// one per 64 MB of such buffers.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gcFlagsFor, gcTuningEnv } from '../../../src/cli/gc-tuning.js';

const v8Major = Number(process.versions.v8.split('.')[0]);

/** Major GCs a child node runs while allocating 8,192 Buffers of 256 KiB (16 kept alive at a time), after setting `flags` at runtime. */
function majorGcs(flags: string[]): number {
  const script = `
    const v8 = require('node:v8');
    for (const flag of ${JSON.stringify(flags)}) v8.setFlagsFromString(flag);
    const { PerformanceObserver, constants } = require('node:perf_hooks');
    let major = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++; }).observe({ entryTypes: ['gc'] });
    const keep = [];
    (async () => {
      for (let i = 0; i < 8192; i++) {
        const b = Buffer.allocUnsafe(256 * 1024); b[0] = i; keep.push(b); if (keep.length > 16) keep.shift();
        if (i % 64 === 0) await new Promise((r) => setImmediate(r));
      }
      setTimeout(() => process.stdout.write(String(major)), 50);
    })();`;
  return Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
}

describe('gcFlagsFor', () => {
  it('sets the external-memory flag on V8 13 and later only, and nothing with S3D_GC_TUNING=0', () => {
    expect(gcFlagsFor('13.6.233.17-node.44', {})).toEqual(['--external-memory-accounted-in-global-limit']);
    expect(gcFlagsFor('14.1.0', {})).toEqual(['--external-memory-accounted-in-global-limit']);
    expect(gcFlagsFor('12.4.254.21-node.33', {})).toEqual([]);
    expect(gcFlagsFor('13.6.233.17-node.44', { [gcTuningEnv]: '0' })).toEqual([]);
  });

  it.skipIf(v8Major < 13)('keeps short-lived Buffers from driving full collections on this Node', () => {
    const untuned = majorGcs([]);
    const tuned = majorGcs(gcFlagsFor(process.versions.v8, {}));
    expect(untuned).toBeGreaterThanOrEqual(10); // 2 GiB / 64 MB: the behaviour the flag is for
    expect(tuned).toBeLessThanOrEqual(untuned / 5);
  });
});
