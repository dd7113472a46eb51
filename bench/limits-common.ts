// What both halves of the machine's limits (limits.ts: files, limits-https.ts: loopback HTTPS) share:
// a measurement that fails alone and its message. MB/s and byte labels come from report.ts.

/** Runs `measure`; on failure pushes "<id>: <message>" to `errors` and returns undefined. */
export async function attempt<T>(id: string, errors: string[], measure: () => Promise<T>): Promise<T | undefined> {
  try {
    return await measure();
  } catch (err) {
    errors.push(`${id}: ${message(err)}`);
    return undefined;
  }
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
