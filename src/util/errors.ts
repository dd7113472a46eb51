// Base error with a stable `code` (undici/fastify style): callers match on `code`, never on the
// message. Each layer raises its own codes; only src/s3/errors.ts maps them to S3 error XML.

/** An expected failure with a stable machine-readable `code` (e.g. 'NoSuchKey'). */
export class TesseraError extends Error {
  /** Stable identifier; S3-layer codes equal the AWS error code they map to. */
  readonly code: string;
  /** Extra fields for logs and error XML (e.g. { bucket, key }). */
  readonly details: Readonly<Record<string, string | number>>;

  constructor(code: string, message: string, details: Record<string, string | number> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.details = details;
  }
}

/** True when `err` is a TesseraError with one of `codes` (or any code when none given). */
export function isTesseraError(err: unknown, ...codes: string[]): err is TesseraError {
  return err instanceof TesseraError && (codes.length === 0 || codes.includes(err.code));
}
