// What a call throws or rejects with (TesseraError and friends): its stable `code`, the S3 code the
// gateway would answer with, or the whole error; undefined when the call does not fail.
import { toS3Error } from '../../src/s3/errors.js';

/** Runs `fn`; returns the thrown error's `code`, or undefined when nothing was thrown. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** Runs `fn`; returns the S3 error code toS3Error maps the thrown value to (InternalError for a bug), or undefined. */
export function s3CodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return toS3Error(err).code;
  }
}

/** The `code` of the error `promise` rejects with, or undefined when it resolves. */
export async function rejectionCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (err: unknown) => (err as { code?: string }).code);
}

/** Runs `fn`; returns what it threw (code, message and details as thrown), or undefined when nothing was thrown. */
export function errorOf(fn: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as { code?: string; message?: string; details?: Record<string, unknown> };
  }
}
