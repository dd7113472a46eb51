// writeFileAtomic: creates and replaces files with the exact mode and leaves no temp files behind.

import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/util/atomic-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates, replaces, sets the exact mode, and cleans up', async () => {
    const file = join(dir, 'a.json');
    await writeFileAtomic(file, 'one', 0o600);
    expect(await readFile(file, 'utf8')).toBe('one');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFileAtomic(file, new Uint8Array([50, 51]), 0o640);
    expect(await readFile(file, 'utf8')).toBe('23');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('fails with ENOENT when the directory is missing', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'x'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
