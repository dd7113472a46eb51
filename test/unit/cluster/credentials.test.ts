// Root credentials: precedence (config > file > generated), the generated format, file mode and
// persistence, and errors naming the missing field or the bad file.

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialsPath, ensureCredentials } from '../../../src/cluster/credentials.js';
import { TesseraError } from '../../../src/util/errors.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-cred-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function invalidConfig(promise: Promise<unknown>): Promise<TesseraError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TesseraError);
  expect((err as TesseraError).code).toBe('InvalidConfig');
  return err as TesseraError;
}

describe('ensureCredentials', () => {
  it('generates AWS-shaped keys, saves them with mode 0600, and reads them back', async () => {
    const generated = await ensureCredentials(join(dataDir, 'nested'), {});
    expect(generated.source).toBe('generated');
    expect(generated.accessKey).toMatch(/^[A-Z0-9]{20}$/);
    expect(generated.secretKey).toMatch(/^[A-Za-z0-9+/]{40}$/);
    const file = credentialsPath(join(dataDir, 'nested'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ accessKey: generated.accessKey, secretKey: generated.secretKey });

    const again = await ensureCredentials(join(dataDir, 'nested'), {});
    expect(again).toEqual({ ...generated, source: 'file' });
  });

  it('generates different keys in different data directories', async () => {
    const a = await ensureCredentials(join(dataDir, 'a'), {});
    const b = await ensureCredentials(join(dataDir, 'b'), {});
    expect(a.accessKey).not.toBe(b.accessKey);
    expect(a.secretKey).not.toBe(b.secretKey);
  });

  it('configured keys win over the file and are not saved', async () => {
    await ensureCredentials(dataDir, {});
    const configured = await ensureCredentials(dataDir, { accessKey: 'admin', secretKey: 'password123' });
    expect(configured).toEqual({ accessKey: 'admin', secretKey: 'password123', source: 'config' });
    expect(JSON.parse(await readFile(credentialsPath(dataDir), 'utf8')).accessKey).not.toBe('admin');
  });

  it('names the missing key when only one is configured', async () => {
    const noSecret = await invalidConfig(ensureCredentials(dataDir, { accessKey: 'admin' }));
    expect(noSecret.message).toBe('config field "credentials.secretKey": is required when credentials.accessKey is set');
    const noAccess = await invalidConfig(ensureCredentials(dataDir, { secretKey: 'password123' }));
    expect(noAccess.message).toContain('"credentials.accessKey"');
  });

  it('rejects a malformed credentials.json, naming the file', async () => {
    const file = credentialsPath(dataDir);
    await writeFile(file, '{not json', { mode: 0o600 });
    expect((await invalidConfig(ensureCredentials(dataDir, {}))).message).toBe(`credentials file ${file}: not valid JSON`);
    await writeFile(file, JSON.stringify({ accessKey: 'ok-key' }));
    expect((await invalidConfig(ensureCredentials(dataDir, {}))).message).toContain('"secretKey"');
  });
});
