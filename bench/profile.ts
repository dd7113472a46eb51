// Where a server's CPU goes under one steady load: `node dist/bench/profile.js`. Starts a
// scenario (a 6-node cluster over QUIC, TLS or TCP, or a single node with 1 or 6 drives) with
// S3D_CPU_PROFILE_DIR set, runs one closed-loop load (PUT or GET, one size, one concurrency), and
// over the measured window only: CPU seconds per thread kind of every server process (from
// /proc/PID/task: the main thread with libuv's pool and V8's helpers are all named "node", the QUIC
// engine's are "tokio-rt-worker") and a V8 CPU profile of each main thread (SIGUSR2 starts and stops
// it, src/cli/cpu-profile.ts), summed into categories (MD5, XXH3, codec, TLS/HTTP, QUIC calls, fs,
// LMDB, GC, ...). Markdown on stdout; the .cpuprofile files stay in --out-dir for DevTools.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { startCluster } from './cluster-process.js';
import { BenchClient, objectBody } from './load.js';
import { findRepoRoot, startServer, withDescendants } from './server-process.js';

const MiB = 1024 * 1024;
/** Objects a GET run reads, and PUTs it makes first (clamped to 4..64 by size: about 256 MiB). */
const getSetBytes = 256 * MiB;
/** CPU profile files are named s3d-<pid>-<n>.cpuprofile by the server (src/cli/cpu-profile.ts). */
const profileEnv = 'S3D_CPU_PROFILE_DIR';
/** Functions of the "other" category named under the table. */
const otherFunctionsShown = 8;

/** Where main-thread samples go: the first matching frame from the sampled one up to the root decides. */
const categories: ReadonlyArray<readonly [string, RegExp]> = [
  ['the profiler itself', /cli\/cpu-profile|node:inspector/],
  ['MD5 (ETag)', /^update node:internal\/crypto\/hash|^digest node:internal\/crypto\/hash/],
  ['XXH3 bitrot hash', /hash-wasm|erasure\/bitrot/],
  ['erasure codec', /erasure\/(simd-codec|simd-kernel|kernel-memory|gf-matrix)/],
  ['QUIC calls (JS side)', /transport\/(quinn-native|quic-call|quic-transport|race-abort|framing|slots|peer-state)|remote-shard-store|shard-server|method-table/],
  ['TLS transport calls (JS side)', /transport\/(tls-call|tls-transport)|node:internal\/http2/],
  ['TCP transport calls (JS side)', /transport\/(tcp-call|tcp-frames|tcp-serve|tcp-transport|tcp-handshake|crc32c)|@node-rs\/crc32/],
  ['LMDB', /lmdb|msgpackr|meta\//],
  ['client HTTPS: parse, TLS, body', /socketOnData|onStreamRead|_http_server|_http_common|_http_incoming|s3\/payload|aws-chunked|node:_tls_wrap/],
  ['client HTTPS: responses', /_http_outgoing|writeGeneric|writevGeneric|s3\/handlers|s3\/ops/],
  ['files (open, write, read, fsync)', /writeBuffer|writeBuffers|openFileHandle|fstat|close$|fsync|readFileHandle|rename|unlink|local-shard-store|node:internal\/fs/],
  ['stripe writer (copies, framing)', /stripe-writer|data-writer/],
  ['stripe reader (copies, framing)', /stripe-reader/],
  ['buffers (alloc, concat, copy)', /^(FastBuffer|concat|allocUnsafe|copy) /],
];

/** V8's own pseudo-frames. */
const specialFrames = new Map([['(idle)', 'idle'], ['(garbage collector)', 'garbage collector'], ['(program)', 'V8 and native, unattributed']]);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Sums a profile's sample time (µs) by category (idle separately), and by sampled function within 'other JS and runtime' into `others`. */
export function categorize(profile: CpuProfile, into: Map<string, number>, others: Map<string, number>): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const memo = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const own = byId.get(id)!.callFrame;
    let found = specialFrames.get(own.functionName);
    for (let at: number | undefined = id; found === undefined && at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const text = `${frame.functionName} ${frame.url}`;
      found = categories.find(([, pattern]) => pattern.test(text))?.[0];
    }
    const category = found ?? 'other JS and runtime';
    memo.set(id, category);
    return category;
  };
  profile.samples.forEach((id, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    const category = categoryOf(id);
    into.set(category, (into.get(category) ?? 0) + micros);
    if (category !== 'other JS and runtime') return;
    const frame = byId.get(id)!.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}`;
    others.set(name, (others.get(name) ?? 0) + micros);
  });
}

/**
 * CPU ticks (utime + stime, 1/100 s) per thread of the processes `pids`, keyed "pid tid name".
 * Read synchronously: the load's own I/O must not stretch the snapshot over the window.
 */
function threadTicks(pids: readonly number[]): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[0-9]+$/, '');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks.set(`${pid} ${tid} ${name}`, Number(fields[11]) + Number(fields[12]));
      } catch {
        // a thread that ended meanwhile
      }
    }
  }
  return ticks;
}

/** CPU ticks (utime + stime, 1/100 s) of the processes `pids` as wholes (threads that ended included), read synchronously. */
function processTicks(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // a process that ended
    }
  }
  return ticks;
}

function threadDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const seconds = new Map<string, number>();
  for (const [key, value] of after) {
    const name = key.split(' ').slice(2).join(' ');
    seconds.set(name, (seconds.get(name) ?? 0) + (value - (before.get(key) ?? 0)) / 100);
  }
  return seconds;
}

interface ProfileOptions {
  scenario: string;
  op: 'PUT' | 'GET';
  size: string;
  concurrency: number;
  /** --workers of every server started; undefined: the server's default. */
  workers?: number;
  warmupMs: number;
  windowMs: number;
  serverBin: string;
  outDir: string | undefined;
  /** False: threads only, no V8 profile (the profiler costs the main threads a few %). */
  v8Profile: boolean;
}

function sizeBytesOf(text: string): number {
  const match = /^(\d+)(KiB|MiB)$/.exec(text);
  if (match === null) throw new Error(`--size must look like 4KiB or 64MiB, got ${text}`);
  return Number(match[1]) * (match[2] === 'KiB' ? 1024 : MiB);
}

async function startScenario(options: ProfileOptions, parent: string): Promise<{ pids: number[]; endpoints: URL[]; ca: Buffer; accessKey: string; secretKey: string; stop: () => Promise<unknown> }> {
  const cluster = /^6-nodes-(quic|tls|tcp)$/.exec(options.scenario);
  if (cluster !== null) {
    const started = await startCluster({ binPath: options.serverBin, transport: cluster[1] as 'quic' | 'tls', dataDirParent: parent, workers: options.workers });
    return { ...started, stop: started.stop };
  }
  const drives = options.scenario === '6-drives' ? 6 : options.scenario === '1-drive' ? 1 : 0;
  if (drives === 0) throw new Error(`--scenario must be 1-drive, 6-drives or 6-nodes-quic|tls|tcp, got ${options.scenario}`);
  const driveArgs = drives === 6 ? ['--drives', Array.from({ length: 6 }, (_, i) => join(parent, `d${i + 1}`)).join(','), '--parity', '2'] : [];
  const workerArgs = options.workers === undefined ? [] : ['--workers', String(options.workers)];
  const server = await startServer({ binPath: options.serverBin, extraArgs: [...driveArgs, ...workerArgs], accessKey: 'benchaccesskey', secretKey: 'benchsecretkey0123456789', dataDirParent: parent });
  return { pids: [server.pid], endpoints: [server.endpoint], ca: server.ca, accessKey: 'benchaccesskey', secretKey: 'benchsecretkey0123456789', stop: server.stop };
}

/** Runs the load and returns the Markdown report. */
async function profile(options: ProfileOptions): Promise<string> {
  const sizeBytes = sizeBytesOf(options.size);
  const work = await mkdtemp(join(tmpdir(), 'tessera-profile-'));
  const outDir = resolve(options.outDir ?? join(work, 'profiles'));
  await mkdir(outDir, { recursive: true });
  if (options.v8Profile) process.env[profileEnv] = outDir;
  const target = await startScenario(options, work);
  const client = new BenchClient({ endpoints: target.endpoints, credentials: { accessKey: target.accessKey, secretKey: target.secretKey, region: 'us-east-1' }, ca: target.ca, connections: options.concurrency });
  try {
    const payload = randomBytes(sizeBytes);
    await client.createBucket('profile');
    const readKeys = Array.from({ length: Math.min(64, Math.max(4, Math.floor(getSetBytes / sizeBytes))) }, (_, i) => `read/${i}`);
    if (options.op === 'GET') for (const key of readKeys) await client.putObject('profile', key, objectBody(payload, key));
    let bytes = 0;
    let counting = false;
    let stopAt = Infinity;
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        const i = issued++;
        const onBytes = (n: number): void => {
          if (counting) bytes += n;
        };
        if (options.op === 'PUT') {
          const key = `put/${i}`;
          await client.putObject('profile', key, objectBody(payload, key), { onBytes });
        } else {
          const key = readKeys[i % readKeys.length]!;
          await client.getObject('profile', key, objectBody(payload, key), false, { onBytes });
        }
      }
    };
    let failure: unknown;
    const workers = Array.from({ length: options.concurrency }, () => worker().catch((err: unknown) => {
      if (stopAt !== 0) failure ??= err; // not the abort at the window's end
    }));
    await new Promise((r) => setTimeout(r, options.warmupMs));
    const pids = withDescendants(target.pids); // each node's gateway workers too
    if (options.v8Profile) for (const pid of pids) process.kill(pid, 'SIGUSR2');
    const before = threadTicks(pids);
    const processesBefore = processTicks(pids);
    counting = true;
    const startedMs = performance.now();
    await new Promise((r) => setTimeout(r, options.windowMs));
    counting = false;
    const seconds = (performance.now() - startedMs) / 1000;
    const processesAfter = processTicks(pids);
    const after = threadTicks(pids);
    if (options.v8Profile) for (const pid of pids) process.kill(pid, 'SIGUSR2');
    stopAt = 0;
    await client.close(); // aborts requests in flight
    await Promise.allSettled(workers);
    const threads = threadDelta(before, after);
    await target.stop();
    if (failure !== undefined) throw failure;
    const sums = new Map<string, number>();
    const others = new Map<string, number>();
    for (const file of (await readdir(outDir)).filter((f) => f.endsWith('.cpuprofile'))) categorize(JSON.parse(await readFile(join(outDir, file), 'utf8')) as CpuProfile, sums, others);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    return report(options, bytes, seconds, (processesAfter - processesBefore) / 100, threads, sums, others, outDir);
  } catch (err) {
    process.stderr.write(`profile: failed; the servers' data and logs stay in ${work}\n`);
    throw err;
  } finally {
    await client.close().catch(() => undefined);
  }
}

function report(options: ProfileOptions, bytes: number, seconds: number, cpuTotal: number, threads: Map<string, number>, sums: Map<string, number>, others: Map<string, number>, outDir: string): string {
  const gigabytes = bytes / 1e9;
  const threadTotal = [...threads.values()].reduce((a, b) => a + b, 0);
  const busyMicros = [...sums].filter(([name]) => name !== 'idle').reduce((a, [, v]) => a + v, 0);
  const lines = [
    `### ${options.scenario}: ${options.op} ${options.size} c${options.concurrency}`,
    '',
    `${(bytes / 1e6 / seconds).toFixed(1)} MB/s over ${seconds.toFixed(1)} s; server CPU ${cpuTotal.toFixed(2)} s = **${(cpuTotal / gigabytes).toFixed(2)} CPU s per GB** (all server processes).`,
    '',
    '| threads (all server processes) | CPU s | s per GB | share |',
    '|---|--:|--:|--:|',
    ...[...threads].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([name, v]) => `| ${name} | ${v.toFixed(2)} | ${(v / gigabytes).toFixed(2)} | ${((100 * v) / threadTotal).toFixed(0)}% |`),
    '',
    '| main threads: where the busy samples fall | share of busy |',
    '|---|--:|',
    ...[...sums].filter(([name]) => name !== 'idle').sort((a, b) => b[1] - a[1]).map(([name, v]) => `| ${name} | ${((100 * v) / busyMicros).toFixed(1)}% |`),
    '',
    `Largest in "other JS and runtime": ${[...others].sort((a, b) => b[1] - a[1]).slice(0, otherFunctionsShown).map(([name, v]) => `${name} ${((100 * v) / busyMicros).toFixed(1)}%`).join('; ')}.`,
    '',
    `Main threads were busy ${(busyMicros / 1e6).toFixed(2)} s of the window (sampled wall time; idle ${((sums.get('idle') ?? 0) / 1e6).toFixed(2)} s). Profiles: ${options.outDir === undefined ? 'removed (--out-dir keeps them)' : outDir}`,
  ];
  return `${lines.join('\n')}\n`;
}

const program = new Command('profile')
  .description('where the server CPU goes under one steady load: per thread kind and, on the main threads, per category')
  .addOption(new Option('--scenario <name>', 'server set-up').choices(['1-drive', '6-drives', '6-nodes-quic', '6-nodes-tls', '6-nodes-tcp']).default('6-nodes-quic'))
  .addOption(new Option('--op <op>', 'the load').choices(['PUT', 'GET']).default('PUT'))
  .option('--size <size>', 'object size, e.g. 4KiB, 1MiB, 64MiB', '64MiB')
  .option('--concurrency <n>', 'closed-loop workers', (v) => Number(v), 16)
  .option('--warmup-ms <ms>', 'unmeasured warm-up', (v) => Number(v), 2000)
  .option('--window-ms <ms>', 'measured window', (v) => Number(v), 6000)
  .option('--server-bin <path>', 'executable started as `<path> server ...`', join(findRepoRoot(), 'bin', 's3d'))
  .option('--out-dir <dir>', 'where the .cpuprofile files go (default: a temp dir, removed)')
  .option('--workers <n>', 'the server\'s S3 gateway processes per node (default: its own, one per core)', (v) => Number(v))
  .option('--no-v8-profile', 'per thread kind only: no V8 profile of the main threads (which costs them a few %)')
  .action(async (flags: ProfileOptions) => {
    process.stdout.write(await profile(flags));
  });

// Run as a command only: categorize() is imported by other tools.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await program.parseAsync(process.argv);
