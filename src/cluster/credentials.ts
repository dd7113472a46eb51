// Root SigV4 credentials: configured ones win; otherwise DATA/credentials.json, created once with
// random keys (mode 0600, atomic write) so restarts keep the same keys.

import { randomInt } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { accessKeyLengthMax, accessKeyLengthMin, secretKeyLengthMax, secretKeyLengthMin } from '../config/schema.js';

/** Generated key lengths, as AWS issues them: 20-character access key id, 40-character secret. */
export const generatedAccessKeyLength = 20;
export const generatedSecretKeyLength = 40;

const accessKeyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const secretKeyAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export interface Credentials {
  accessKey: string;
  secretKey: string;
  /** 'config' = config/CLI/env, 'file' = DATA/credentials.json, 'generated' = created just now. */
  source: 'config' | 'file' | 'generated';
}

/** DATA/credentials.json. */
export function credentialsPath(dataDir: string): string {
  return join(dataDir, 'credentials.json');
}

/**
 * Resolves the root credentials: `configured` when both keys are given; else DATA/credentials.json;
 * else generates keys (20 chars [A-Z0-9], 40 chars [A-Za-z0-9+/], crypto-random, unbiased) and
 * saves them as {"accessKey","secretKey"} JSON with mode 0600 (atomic write; dataDir is created).
 * @throws TesseraError 'InvalidConfig' when only one configured key is given (names the missing
 *   field) or credentials.json is malformed (names the file); Node errno errors for I/O failures.
 */
export async function ensureCredentials(
  dataDir: string,
  configured: { accessKey?: string | undefined; secretKey?: string | undefined },
): Promise<Credentials> {
  const { accessKey, secretKey } = configured;
  if (accessKey !== undefined && secretKey !== undefined) return { accessKey, secretKey, source: 'config' };
  if (accessKey !== undefined || secretKey !== undefined) {
    const [missing, present] = accessKey === undefined ? ['accessKey', 'secretKey'] : ['secretKey', 'accessKey'];
    throw new TesseraError('InvalidConfig', `config field "credentials.${missing}": is required when credentials.${present} is set`, {
      field: `credentials.${missing}`,
    });
  }
  const file = credentialsPath(dataDir);
  const saved = await readCredentialsFile(file);
  if (saved !== undefined) return { ...saved, source: 'file' };

  const generated = {
    accessKey: randomString(accessKeyAlphabet, generatedAccessKeyLength),
    secretKey: randomString(secretKeyAlphabet, generatedSecretKeyLength),
  };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(generated, null, 2)}\n`, 0o600);
  return { ...generated, source: 'generated' };
}

async function readCredentialsFile(file: string): Promise<{ accessKey: string; secretKey: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCodeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('InvalidConfig', `credentials file ${file}: not valid JSON`, { file }, { cause: err });
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const accessKey = checkedKey(record['accessKey'], 'accessKey', accessKeyLengthMin, accessKeyLengthMax, file);
  const secretKey = checkedKey(record['secretKey'], 'secretKey', secretKeyLengthMin, secretKeyLengthMax, file);
  return { accessKey, secretKey };
}

function checkedKey(value: unknown, field: string, min: number, max: number, file: string): string {
  if (typeof value !== 'string' || value.length < min || value.length > max || !/^[\x21-\x7e]+$/.test(value)) {
    throw new TesseraError('InvalidConfig', `credentials file ${file}: "${field}" must be a string of ${min} to ${max} printable characters`, {
      file,
      field,
    });
  }
  return value;
}

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
