// `make bench`'s runner end to end, shrunk: a real s3d and the peer s3rver under every operation,
// the machine's limits, then the three outputs (Markdown, JSON, SVG) and bench-compare on the
// JSON. The figures are not judged here (speed lives in bench/); their presence and shape are.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../bench/report.js';
import { makeTempDir, removeTempDir, repoRoot } from '../helpers/server.js';

const execFileAsync = promisify(execFile);
const runTimeoutMs = 110_000;
const resultsDir = makeTempDir('bench-run');

afterAll(() => removeTempDir(resultsDir));

describe('make bench runner', () => {
  let stdout = '';
  let report: BenchReport;

  it('runs s3d and the peer through PUT, GET, MIXED and LIST and writes the JSON and the chart', async () => {
    const args = [
      join(repoRoot, 'dist', 'bench', 'run.js'), '--quick', '--scenarios', '1-drive,s3rver', '--sizes', '4KiB,1MiB',
      '--concurrency', '2', '--window-ms', '300', '--warmup-ms', '100', '--list-objects', '20', '--no-codec', '--results-dir', resultsDir,
    ];
    ({ stdout } = await execFileAsync(process.execPath, args, { timeout: runTimeoutMs, maxBuffer: 16 * 1024 * 1024 }));
    const json = readdirSync(resultsDir).filter((name) => name.endsWith('.json'));
    expect(json).toHaveLength(1);
    report = JSON.parse(readFileSync(join(resultsDir, json[0]!), 'utf8')) as BenchReport;
    expect(report.schemaVersion).toBe(6);
    expect(report.scenarios.map((s) => [s.kind, s.error])).toEqual([['tessera', undefined], ['peer', undefined]]);
    for (const scenario of report.scenarios) {
      const cells = report.cells.filter((c) => c.scenario === scenario.name);
      expect(cells.map((c) => `${c.op} ${c.sizeBytes}`).sort()).toEqual(
        ['GET 1048576', 'GET 4096', 'LIST 4096', 'MIXED 1048576', 'MIXED 4096', 'PUT 1048576', 'PUT 4096'],
      );
      if (scenario.kind === 'tessera') for (const c of cells) expect(c.error, `${c.op} ${c.sizeBytes}`).toBeUndefined();
      expect(scenario.server?.cpuSeconds).toBeGreaterThan(0);
    }
    const tessera = report.cells.filter((c) => c.scenario === report.scenarios[0]!.name);
    expect(tessera.find((c) => c.op === 'PUT' && c.sizeBytes === 1048576)?.megabytesPerSecond).toBeGreaterThan(0);
    expect(tessera.find((c) => c.op === 'GET' && c.sizeBytes === 1048576)?.serverCpuSecondsPerGB).toBeGreaterThan(0);
    expect(tessera.find((c) => c.op === 'LIST')?.serverCpuSecondsPerGB).toBeUndefined();
    expect(tessera.find((c) => c.op === 'LIST')?.opCounts?.['objects']).toBeGreaterThan(0);
    expect(report.limits.results.map((r) => r.id)).toEqual(expect.arrayContaining(['fsync-write', 'file-read', 'https-upload-c16', 'https-download-c16']));
    expect(report.machine.versions['s3rver']).toBe('3.7.1');
    const svg = readFileSync(join(resultsDir, json[0]!.replace(/\.json$/, '.svg')), 'utf8');
    expect(svg).toMatch(/^(<\?xml[^>]*>\s*)?<svg /);
    expect(svg).toContain('s3rver');
    expect(stdout).toContain('### Side by side');
    expect(stdout).toContain('best Tessera / peer');
    expect(stdout).toContain("### The machine's limits");
    expect(stdout).toContain('### Server CPU per GB moved');
    expect(stdout).toContain('| server CPU s/GB |');
  });

  it('bench-compare of a run against itself finds every figure the same', async () => {
    const path = join(resultsDir, readdirSync(resultsDir).find((name) => name.endsWith('.json'))!);
    const { stdout: compared } = await execFileAsync(process.execPath, [join(repoRoot, 'dist', 'bench', 'compare.js'), path, path]);
    expect(compared).toMatch(/\| B\/A \|/);
    expect(compared).not.toMatch(/\*\*worse\*\*|\*\*better\*\*/);
    expect(compared).toMatch(/(\d+) figures in both: 0 better, 0 worse, \1 same/);
  });

  it('bench-compare names the file and exits 2 when it is not a bench result', async () => {
    const bad = join(resultsDir, 'not-json.txt');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'hello'));
    const failure = await execFileAsync(process.execPath, [join(repoRoot, 'dist', 'bench', 'compare.js'), bad, bad]).then(
      () => undefined,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('not-json.txt');
  });
});
