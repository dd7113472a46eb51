// What both halves of the machine's limits (limits.ts: files, limits-https.ts: loopback HTTPS) share:
// a measurement that fails alone, MB/s, byte labels.

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Runs `measure`; on failure pushes "<id>: <message>" to `errors` and returns undefined. */
export async function attempt<T>(id: string, errors: string[], measure: () => Promise<T>): Promise<T | undefined> {
  try {
    return await measure();
  } catch (err) {
    errors.push(`${id}: ${message(err)}`);
    return undefined;
  }
}

export function rate(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

/** "1 GiB", "4 MiB", "512 KiB" for whole binary units; bytes otherwise. */
export function bytesLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
