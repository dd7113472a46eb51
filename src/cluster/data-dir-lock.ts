// One server per data directory: a second one would run crash recovery on the first one's
// in-flight writes. DATA/s3d.lock holds the owner's pid; a lock whose pid is gone (kill -9)
// is stale and taken over.
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCodeOf, TesseraError } from '../util/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCodeOf(err) === 'EPERM';
  }
}

/**
 * Takes DATA/s3d.lock for this process; returns its release function.
 * Throws TesseraError 'DataDirLocked' when a live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, 's3d.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
      await handle.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if (errorCodeOf(err) !== 'EEXIST') throw err;
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new TesseraError('DataDirLocked', `data directory ${dataDir} is in use by another s3d (pid ${pid})`, { pid });
      }
      await rm(path, { force: true });
    }
  }
  throw new TesseraError('DataDirLocked', `could not lock data directory ${dataDir}`);
}
