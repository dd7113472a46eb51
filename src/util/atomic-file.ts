// Crash-safe whole-file replacement: after a crash a reader sees either the old file or the new
// one, never a torn mix. Method: write a temp file in the same directory, fsync it, rename it over
// the target (atomic within one filesystem, POSIX rename(2)), then fsync the directory so the
// rename itself is durable.

import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorCodeOf } from './errors.js';

/**
 * Atomically replaces (or creates) `path` with `data`, with permission bits `mode` (default 0o644;
 * set with fchmod so the process umask does not change it). The directory must exist.
 * Throws the underlying Node errno error (ENOENT, EACCES, ENOSPC, ...) and removes the temp file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const directory = dirname(path);
  const tempPath = join(directory, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const file = await open(tempPath, 'wx', mode);
  try {
    await file.chmod(mode);
    await file.writeFile(data);
    await file.sync();
  } catch (err) {
    await file.close().catch(() => undefined);
    await rm(tempPath, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(tempPath, path);
  } catch (err) {
    await rm(tempPath, { force: true });
    throw err;
  }
  await syncDirectory(directory);
}

/** fsyncs a directory so a rename or create inside it survives a crash. */
export async function syncDirectory(directory: string): Promise<void> {
  let handle;
  try {
    handle = await open(directory, 'r');
  } catch (err) {
    // Windows cannot open directories; there the rename is already as durable as it gets.
    if (process.platform === 'win32') return;
    throw err;
  }
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems reject fsync on directories (EINVAL, e.g. certain FUSE/network mounts).
    if (errorCodeOf(err) !== 'EINVAL') throw err;
  } finally {
    await handle.close();
  }
}
