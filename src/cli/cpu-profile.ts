// CPU profiles of a running server for the bench's profile runs (bench/profile.ts): with
// S3D_CPU_PROFILE_DIR set, SIGUSR2 starts V8's sampling profiler on `s3d server`'s main thread
// (what `node --cpu-prof` does, which NODE_OPTIONS may not carry) and the next SIGUSR2, or a
// graceful stop, writes DIR/s3d-<pid>-<n>.cpuprofile. The files open in Chrome DevTools or speedscope.
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** Environment variable naming the directory profiles are written to; profiling is off without it. */
export const cpuProfileDirEnv = 'S3D_CPU_PROFILE_DIR';

/** V8 sampling interval of the profile, in microseconds (node --cpu-prof-interval's default is 1000). */
export const cpuProfileIntervalMicros = 500;

/**
 * With `dir` set, SIGUSR2 toggles a profile (start, then stop and write); the returned function
 * writes a profile still running (call it before exiting). Without `dir`: nothing, and undefined.
 * Failures are logged, never thrown: profiling must not stop a server.
 */
export function installCpuProfiler(dir: string | undefined, log: Logger): (() => Promise<void>) | undefined {
  if (dir === undefined || dir === '') return undefined;
  let session: Session | undefined;
  let written = 0;
  let busy = Promise.resolve();
  const start = async (): Promise<void> => {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: cpuProfileIntervalMicros });
    await session.post('Profiler.start');
    log.info('CPU profile started');
  };
  const stop = async (): Promise<void> => {
    const running = session;
    if (running === undefined) return;
    session = undefined;
    const { profile } = await running.post('Profiler.stop');
    running.disconnect();
    const file = join(dir, `s3d-${process.pid}-${++written}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    log.info({ file }, 'CPU profile written');
  };
  const toggle = (): void => {
    busy = busy.then(() => (session === undefined ? start() : stop())).catch((err: unknown) => log.warn({ err }, 'CPU profile failed'));
  };
  process.on('SIGUSR2', toggle);
  return async () => {
    busy = busy.then(stop).catch((err: unknown) => log.warn({ err }, 'CPU profile failed'));
    await busy;
  };
}
