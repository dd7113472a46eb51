// `s3d --version` names Tessera's version and the Node.js the process runs on, so a log or a bench
// result can say which runtime produced it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { versionLine } from '../../../src/cli/main.js';

describe('versionLine', () => {
  it("gives package.json's version and this process's Node.js", () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(versionLine()).toBe(`${version} (node ${process.version})`);
  });
});
