// Assertions are for programmer errors only; expected failures are typed errors with a code
// (see errors.ts). A failed assertion means a bug, so it throws a plain Error that is never
// mapped to a client-facing S3 error other than InternalError.

/** Throws `Error('assertion failed: <message>')` when `condition` is false. */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
