// Base error with a stable `code` (undici/fastify style): callers match on `code`, never on the
// message. Each layer raises the codes listed for it in error-codes.ts; only src/s3/errors.ts maps
// them to S3 error XML.
import type { LayerErrorCode } from './error-codes.js';

/**
 * An expected failure with a stable machine-readable `code` (e.g. 'NoSuchKey'). `C` is the set of
 * codes allowed: by default the layer codes of error-codes.ts; src/s3 uses its S3 error codes. The
 * code is never inferred from the argument, so a code missing from the lists does not compile.
 */
export class TesseraError<C extends string = LayerErrorCode> extends Error {
  /** Stable identifier; S3-layer codes equal the AWS error code they map to. */
  readonly code: C;
  /** Extra fields for logs and error XML (e.g. { bucket, key }). */
  readonly details: Readonly<Record<string, string | number>>;

  constructor(code: NoInfer<C>, message: string, details: Record<string, string | number> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a TesseraError with one of `codes` (or any code when none given). */
export function isTesseraError<C extends string = LayerErrorCode>(err: unknown, ...codes: NoInfer<C>[]): err is TesseraError<C> {
  return err instanceof TesseraError && (codes.length === 0 || (codes as string[]).includes(err.code));
}

/** The string `code` of any thrown value that has one (a Node.js system error's ENOENT, a TesseraError's code), else undefined. */
export function errorCodeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}
