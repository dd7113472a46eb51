// Polling for tests that wait on background work (health changes, repairs, handler signals).

/** Resolves once `condition()` holds (checked every 50 ms); throws "timed out waiting for <what>" after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
