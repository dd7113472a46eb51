// One server per data directory: a second one would run crash recovery on the first one's
// in-flight writes. DATA/s3d.lock holds the owner's pid on its first line and the pids of its
// gateway workers on the next ones ("worker PID"). A lock whose owner is gone (kill -9) is stale
// and taken over, but only once the workers it lists are gone too: they exit by themselves when
// their node's process dies, and one still writing could otherwise commit a record whose shards
// the new owner's recovery just deleted.
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { staleWorkerExitWaitMs } from '../util/limits.js';
import { processAlive as alive } from '../util/process-alive.js';

/** How often a stale lock's live workers are checked while waiting for them to exit, in ms. */
const staleWorkerPollMs = 50;


/** The held lock: release it, or record the current gateway worker pids in it. */
export interface DataDirLock {
  release(): Promise<void>;
  /** Rewrites the lock file (by rename) with these worker pids. */
  setWorkers(pids: readonly number[]): Promise<void>;
}

function lockText(workers: readonly number[]): string {
  return [`${process.pid}`, ...workers.map((pid) => `worker ${pid}`)].join('\n') + '\n';
}

/**
 * Waits up to staleWorkerExitWaitMs for the stale lock's `workers` to exit, then SIGKILLs the ones
 * left (a gateway worker whose node's process died ends itself; this covers a frozen one).
 */
async function awaitStaleWorkers(workers: number[]): Promise<void> {
  const deadline = Date.now() + staleWorkerExitWaitMs;
  let left = workers.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await delay(staleWorkerPollMs);
    left = left.filter(alive);
  }
  for (const pid of left) {
    if (!(await isGatewayWorker(pid))) continue; // the pid was reused: not ours to kill
    try {
      process.kill(pid, 'SIGKILL');
    } catch { /* gone meanwhile */ }
  }
  while (left.some(alive) && Date.now() < deadline + staleWorkerExitWaitMs) await delay(staleWorkerPollMs);
}

/** Whether `pid` runs a gateway worker (Linux /proc; elsewhere false, so nothing is killed). */
async function isGatewayWorker(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.includes('gateway-worker-main');
}

/**
 * Takes DATA/s3d.lock for this process; returns the held lock.
 * Throws TesseraError 'DataDirLocked' when a live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const path = join(dataDir, 's3d.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(lockText([]));
      await handle.sync();
      await handle.close();
      let writes = Promise.resolve(); // one rewrite at a time, in call order
      return {
        release: async () => {
          await writes;
          await rm(path, { force: true });
        },
        setWorkers: (pids) => {
          const text = lockText(pids);
          const write = writes.then(async () => {
            await writeFile(`${path}.tmp`, text, { mode: 0o600 });
            await rename(`${path}.tmp`, path);
          });
          writes = write.catch(() => undefined);
          return write;
        },
      };
    } catch (err) {
      if (errorCodeOf(err) !== 'EEXIST') throw err;
      const [ownerLine = '', ...rest] = (await readFile(path, 'utf8').catch(() => '')).split('\n');
      const pid = Number(ownerLine.trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new TesseraError('DataDirLocked', `data directory ${dataDir} is in use by another s3d (pid ${pid})`, { pid });
      }
      const workers = rest.map((line) => /^worker (\d+)$/.exec(line.trim())?.[1]).filter((v): v is string => v !== undefined).map(Number);
      await awaitStaleWorkers(workers.filter((worker) => worker !== process.pid));
      await rm(path, { force: true });
    }
  }
  throw new TesseraError('DataDirLocked', `could not lock data directory ${dataDir}`);
}
