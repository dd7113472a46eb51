// `s3d cluster init` writes into every node's config the gateway workers its nodes can use on the
// one machine they share: the cores divided among the nodes, at least 1; --workers wins.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterWorkersDefault, initCluster } from '../../../src/cluster/cluster-init.js';
import { loadConfig } from '../../../src/config/config.js';
import { makeTempDir, removeTempDir } from '../../helpers/server.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeTempDir));

describe('cluster init: workers', () => {
  it('shares the cores among the nodes, at least one each', () => {
    expect(clusterWorkersDefault(6, 2)).toBe(1);
    expect(clusterWorkersDefault(3, 16)).toBe(5);
    expect(clusterWorkersDefault(1, 8)).toBe(8);
    expect(clusterWorkersDefault(2, 1000)).toBe(32); // at most gatewayWorkersMax (64) over 2 nodes
  });

  it('writes the default, or --workers, into every config, which loads with it', async () => {
    for (const workers of [undefined, 3]) {
      const dir = makeTempDir('init');
      dirs.push(dir);
      await initCluster({ nodes: 3, outDir: join(dir, 'c'), basePort: 30_001, host: '127.0.0.1', transport: 'quic', ...(workers !== undefined ? { workers } : {}) });
      for (let i = 1; i <= 3; i++) {
        const file = join(dir, 'c', `node-${i}.yaml`);
        const expected = workers ?? clusterWorkersDefault(3);
        expect((parse(readFileSync(file, 'utf8')) as { workers: number }).workers).toBe(expected);
        expect(loadConfig({ file }).workers).toBe(expected);
      }
    }
  });
});
