// Whether a process exists, by pid (signal 0: nothing is sent). EPERM means it exists but is
// another user's; ESRCH that it is gone.
import { errorCodeOf } from './errors.js';

/** True while process `pid` exists (also when it belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCodeOf(err) === 'EPERM';
  }
}
