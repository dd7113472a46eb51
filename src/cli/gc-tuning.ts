// The garbage collector settings every server process (the node's and each gateway worker) starts
// with. A cluster node allocates a fresh ArrayBuffer for every chunk a QUIC or TCP read hands it and
// for every shard window it reads or decodes: several hundred MB a second, dead within
// milliseconds. V8 13 (Node 24) starts a full mark-compact for every 64 MB of such external memory
// allocated since the last one, whatever the heap holds: a node healing shards ran one every half
// second on a 27 MB heap, and V8's helper threads took a quarter of its CPU. V8 12 (Node 22) left
// them to the scavenger. `--external-memory-accounted-in-global-limit` makes V8 13 count external
// memory in its global limit, which grows with the live heap, so dead buffers go with the
// scavenges as on Node 22. Measured in bench/README.md ("Garbage collection on Node 24").
import v8 from 'node:v8';
import type { Logger } from 'pino';

/** The V8 flags set at start, each only on the V8 majors that know it (an unknown flag makes V8 print an error). */
export const gcFlags: ReadonlyArray<{ flag: string; v8MajorMin: number }> = [
  { flag: '--external-memory-accounted-in-global-limit', v8MajorMin: 13 },
];

/** Environment variable that, set to 0, leaves V8's defaults alone (to measure against them). */
export const gcTuningEnv = 'S3D_GC_TUNING';

/**
 * The gcFlags for a V8 of version `v8Version` (process.versions.v8, e.g. "13.6.233.17-node.44"):
 * those it knows; none when `env` has S3D_GC_TUNING=0.
 */
export function gcFlagsFor(v8Version: string, env: NodeJS.ProcessEnv): string[] {
  if (env[gcTuningEnv] === '0') return [];
  const major = Number(v8Version.split('.')[0]);
  return gcFlags.filter((f) => major >= f.v8MajorMin).map((f) => f.flag);
}

/**
 * Sets gcFlagsFor(this V8, process.env) on this process (v8.setFlagsFromString: these flags are
 * read at each GC, so setting them after start takes effect) and returns them.
 */
export function tuneGarbageCollector(): string[] {
  const flags = gcFlagsFor(process.versions.v8, process.env);
  for (const flag of flags) v8.setFlagsFromString(flag);
  return flags;
}

/** tuneGarbageCollector, with the flags set logged at debug level. */
export function tuneGarbageCollectorLogged(log: Logger): void {
  const flags = tuneGarbageCollector();
  log.debug({ flags }, 'garbage collector flags set');
}
