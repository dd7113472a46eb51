// File helpers for e2e tests: sha256 of files and buffers, Content-MD5 values, random files of a given size, tree walks.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { once } from 'node:events';

export const MiB = 1024 * 1024;

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Base64 MD5 of `data` (strings as UTF-8): a Content-MD5 header value. */
export function md5Base64(data: Buffer | string): string {
  return createHash('md5').update(data).digest('base64');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Writes `sizeBytes` random bytes to `path` in 1 MiB chunks; returns the sha256 hex. */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  let left = sizeBytes;
  while (left > 0) {
    const chunk = randomBytes(Math.min(MiB, left));
    hash.update(chunk);
    left -= chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}

/** Relative paths (with '/') of regular files under `root`, sorted. Symlinks are not followed. */
export function listFilesRecursive(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/** Every path (files and dirs) under `root`, relative, sorted; includes sizes for files. */
export function describeTree(root: string, maxEntries = 200): string {
  const lines: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (lines.length >= maxEntries) return;
      const full = join(dir, entry.name);
      const rel = relative(root, full);
      if (entry.isDirectory()) {
        lines.push(`${rel}/`);
        walk(full);
      } else {
        lines.push(`${rel} (${entry.isFile() ? statSync(full).size : 'non-file'})`);
      }
    }
  };
  walk(root);
  return lines.join('\n');
}
