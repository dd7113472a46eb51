// Key encodings: LMDB's byte order of our binary keys must equal UTF-8 byte order of S3 keys.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { compareUtf8, escapeKey, objectKey, prefixEnd, uploadKey } from '../../../src/meta/keys.js';
import { byteOrder, prng } from './helpers.js';

/** Characters around the interesting UTF-8 boundaries, '/', DEL, BMP end and the astral plane. */
const alphabet = [
  '\u0000', '\u0001', '\u001f', ' ', '.', '/', '0', 'A', 'a', '~', '\u007f', '\u0080', 'é', '\u07ff', '\u0800',
  '中', '\ud7ff', '\ue000', '\uff5e', '\ufffd', '\uffff', '\u{10000}', '😀', '\u{10ffff}',
];

function randomKey(random: () => number, maxLength: number): string {
  const length = Math.floor(random() * maxLength);
  let key = '';
  for (let i = 0; i < length; i++) key += alphabet[Math.floor(random() * alphabet.length)];
  return key;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keys-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('compareUtf8', () => {
  it('agrees with Buffer.compare of UTF-8 bytes', () => {
    const random = prng(1);
    for (let i = 0; i < 20_000; i++) {
      const a = randomKey(random, 6);
      const b = random() < 0.3 ? a + randomKey(random, 3) : randomKey(random, 6);
      expect(Math.sign(compareUtf8(a, b)), JSON.stringify([a, b])).toBe(Math.sign(byteOrder(a, b)));
    }
  });
});

describe('binary keys in LMDB', () => {
  it('iterate object keys in UTF-8 byte order, including long keys with NUL and astral characters', async () => {
    const root = open({ path: tempDir(), pageSize: 8192 });
    const db = root.openDB<string, Buffer>({ name: 'objects', keyEncoding: 'binary' });
    const random = prng(2);
    const keys = new Set<string>(['', 'a', 'a/', 'a/b', 'a0', 'a\u007f', 'a\uffff', 'a😀', 'a\ue000', 'x'.repeat(80) + '\u0000y']);
    while (keys.size < 2000) keys.add(randomKey(random, random() < 0.2 ? 120 : 8));
    await Promise.all([...keys].map((key) => db.put(objectKey('bkt', key), key)));
    await db.put(objectKey('bk', 'zzz'), 'other bucket before');
    await db.put(objectKey('bkt0', ''), 'other bucket after');
    const scope = objectKey('bkt', '');
    const listed = [...db.getRange({ start: scope, end: prefixEnd(scope) }).map(({ value }) => value)];
    expect(listed).toEqual([...keys].sort(byteOrder));
    await root.close();
  });

  it('documents why lmdb-js array keys are not used: a long key with NUL does not round-trip', async () => {
    const root = open({ path: tempDir() });
    const db = root.openDB<number>({ name: 'arrays' });
    const key = 'x'.repeat(70) + '\u0000y';
    await db.put(['bkt', key], 1);
    const [stored] = [...db.getKeys()];
    expect(stored).not.toEqual(['bkt', key]);
    await root.close();
  });

  it('escapeKey preserves order and is prefix-free; upload keys order by (key, time, id)', () => {
    const random = prng(3);
    for (let i = 0; i < 5000; i++) {
      const a = randomKey(random, 5);
      const b = random() < 0.3 ? a + randomKey(random, 3) : randomKey(random, 5);
      const sign = Math.sign(byteOrder(a, b));
      expect(Math.sign(Buffer.compare(escapeKey(a, true), escapeKey(b, true))), JSON.stringify([a, b])).toBe(sign);
      // Whatever follows the key's terminator, key order decides first.
      const ua = uploadKey('b', a, 9_999_999_999, 'zz');
      const ub = uploadKey('b', b, 0, 'aa');
      if (sign !== 0) expect(Math.sign(Buffer.compare(ua, ub)), JSON.stringify([a, b])).toBe(sign);
    }
    expect(Buffer.compare(uploadKey('b', 'k', 1, 'z'), uploadKey('b', 'k', 2, 'a'))).toBeLessThan(0);
    expect(Buffer.compare(uploadKey('b', 'k', 1, 'a'), uploadKey('b', 'k', 1, 'b'))).toBeLessThan(0);
  });
});
