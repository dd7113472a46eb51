// Waiting on a promise that cannot itself be cancelled, within an AbortSignal: both transports
// race their connects, reads and writes against a call's deadline with it.

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. The
 * operation behind `promise` (a native QUIC call, an HTTP/2 session being made) keeps running;
 * `onLate` receives its value if it still resolves after the abort (e.g. to close a stream nobody will use).
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onLate?: (value: T) => void): Promise<T> {
  if (signal.aborted) {
    promise.then((value) => onLate?.(value), ignore);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
      promise.then((value) => onLate?.(value), ignore);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/** For fire-and-forget calls and 'error' events whose outcome changes nothing or is reported elsewhere. */
export function ignore(): void {}
