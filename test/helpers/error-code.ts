// The stable `code` a call throws (TesseraError and friends), or undefined when it does not throw.

/** Runs `fn`; returns the thrown error's `code`, or undefined when nothing was thrown. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}
