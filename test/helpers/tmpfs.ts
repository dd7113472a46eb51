// Small tmpfs mounts for full-disk tests: whether this machine lets the test mount one (root on
// Linux, `mount -t tmpfs` working), mounting and always unmounting, and filling one to ENOSPC.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorCodeOf } from '../../src/util/errors.js';
import { MiB } from './files.js';
import { makeTempDir, removeTempDir } from './server.js';

/** Why a tmpfs cannot be mounted here, or undefined when it can (probed once with a 1 MiB mount). */
export function cannotMountTmpfs(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux tmpfs (platform ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  const dir = makeTempDir('mount-probe');
  try {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
    if (mounted.status !== 0) return `mount -t tmpfs failed: ${(mounted.stderr || mounted.error?.message || `exit ${mounted.status}`).trim()}`;
    spawnSync('umount', [dir]);
    return undefined;
  } finally {
    removeTempDir(dir);
  }
}

/** Mounts a tmpfs of `sizeBytes` on `dir` (created). Throws with mount's message on failure. */
export function mountTmpfs(dir: string, sizeBytes: number): void {
  mkdirSync(dir, { recursive: true });
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`mount tmpfs on ${dir}: ${result.stderr}`);
}

/** Unmounts `dir` when it is a mount point (lazily when busy); never throws. */
export function unmountTmpfs(dir: string): void {
  if (spawnSync('mountpoint', ['-q', dir]).status !== 0) return;
  if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
}

/** Bytes free for unprivileged writers on the filesystem holding `path`. */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

/** Appends zeros to `file` until its filesystem has at most `leaveBytes` free (0: until ENOSPC). */
export function fillFilesystem(file: string, leaveBytes: number): void {
  const fd = openSync(file, 'a');
  try {
    for (let chunk = MiB; chunk >= 4096; chunk /= 2) {
      const zeros = Buffer.alloc(chunk);
      while (freeBytes(dirname(file)) - chunk >= leaveBytes) {
        try {
          writeSync(fd, zeros);
        } catch (err) {
          if (errorCodeOf(err) !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
