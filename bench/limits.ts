// The machine's own limits, measured in the same run as the S3 bench: file write + fsync, file read
// (page cache warm, and O_DIRECT via dd), and loopback HTTPS up/down with node:https and undici
// (limits-https.ts). Each limit fails alone; temp files and the forked HTTPS server never outlive runLimits.
// Standalone: `node dist/bench/limits.js [--quick] [--dir DIR]` (table, then JSON).
import { execFile, execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { attempt, message } from './limits-common.js';
import { megabytesPerSecond, sizeLabel } from './report.js';
import { limitsHttpsWindowMsQuick, measureHttps } from './limits-https.js';
import type { LimitResult, LimitsReport } from './report.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Bytes written (fsync-write) then read back (file-read, file-read-direct): full run and --quick. */
export const limitsFileBytes = 1 * GiB;
export const limitsFileBytesQuick = 256 * MiB;
/** Size of each write() and read() on the file. */
export const limitsFileIoBytes = 1 * MiB;
/** fsync-write-4mib: an fsync after every this many bytes (s3d fsyncs each shard file it closes). */
export const limitsFsyncEveryBytes = 4 * MiB;
/** fsync-write-4mib writes at most this many bytes (full, --quick)... */
export const limitsFsyncEveryMaxBytes = 512 * MiB;
export const limitsFsyncEveryMaxBytesQuick = 128 * MiB;
/** ...and stops at the first fsync after this long, in ms (full, --quick), to bound a slow disk. */
export const limitsFsyncEveryMaxMs = 4_000;
export const limitsFsyncEveryMaxMsQuick = 1_500;
/** Distinct random bytes behind the file writes; each 4 KiB block is also stamped with its offset, so no two blocks match. */
const randomPoolBytes = 16 * MiB;
const stampBlockBytes = 4 * KiB;
/** The dd O_DIRECT read is killed after this long, in ms. */
export const limitsDirectReadTimeoutMs = 60_000;

/** What runLimits measures and where. */
export interface LimitsOptions {
  quick: boolean;
  /** dir on the same filesystem the servers' data dirs use (default os.tmpdir()) */
  dir: string | undefined;
}

/**
 * Measures every limit in turn (file section, then HTTPS section): about 20 s full, 7 s quick on
 * 2 cores (a slow disk stretches fsync-write; the other cells are bounded by their constants). Results are in MB/s (10^6 bytes per second). A limit that cannot be measured is left out
 * of `results` and named in `error` (failures joined with "; "); the others still run. A temp dir
 * under `options.dir` holds the files and is removed before returning, as is the HTTPS child.
 * Never throws for a failed measurement.
 */
export async function runLimits(options: LimitsOptions): Promise<LimitsReport> {
  const results: LimitResult[] = [];
  const errors: string[] = [];
  await measureFiles(options, results, errors);
  await measureHttps(options.quick, results, errors);
  return { quick: options.quick, skipped: undefined, error: errors.length === 0 ? undefined : errors.join('; '), results };
}

// ---- files ----

/** Runs fsync-write, file-read, file-read-direct, then fsync-write-4mib in a temp dir under `options.dir`. */
async function measureFiles(options: LimitsOptions, results: LimitResult[], errors: string[]): Promise<void> {
  const parent = options.dir ?? tmpdir();
  const fileBytes = options.quick ? limitsFileBytesQuick : limitsFileBytes;
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(parent, 'tessera-limits-'));
    const where = `${describeFilesystem(dir)}, ${parent}`;
    const pool = randomFillSync(Buffer.allocUnsafe(randomPoolBytes));
    const file = join(dir, 'sequential.bin');
    const written = await attempt('fsync-write', errors, () => writeFile(file, fileBytes, fileBytes, Number.POSITIVE_INFINITY, pool));
    if (written !== undefined) {
      results.push({
        id: 'fsync-write',
        label: `sequential write + fsync, ${sizeLabel(fileBytes)} in ${sizeLabel(limitsFileIoBytes)} writes`,
        megabytesPerSecond: megabytesPerSecond(written.bytes, written.seconds),
        detail: `${sizeLabel(fileBytes)} of random bytes to a new file (FileHandle.write), one fsync at the end, timed from the first write to the end of the fsync (fsync alone ${written.fsyncSeconds.toFixed(2)} s); ${where}`,
      });
      const warm = await attempt('file-read', errors, () => readFile(file, fileBytes));
      if (warm !== undefined) {
        results.push({
          id: 'file-read',
          label: `sequential read, page cache warm, ${sizeLabel(limitsFileIoBytes)} reads`,
          megabytesPerSecond: megabytesPerSecond(warm.bytes, warm.seconds),
          detail: `the ${sizeLabel(fileBytes)} just written, read back with FileHandle.read: served from the page cache, as the servers' GETs right after their PUTs are; ${where}`,
        });
      }
      const direct = await attempt('file-read-direct', errors, () => readFileDirect(file, fileBytes));
      if (direct !== undefined) {
        results.push({
          id: 'file-read-direct',
          label: 'sequential read, O_DIRECT (no page cache), 1 MiB reads',
          megabytesPerSecond: megabytesPerSecond(direct.bytes, direct.seconds),
          detail: `\`dd bs=1M iflag=direct\` of the same ${sizeLabel(fileBytes)}, dd's own byte count and time: bypasses this kernel's page cache (a VM host may still cache); ${where}`,
        });
      }
      await rm(file, { force: true });
    }
    await measureFsyncEvery(options.quick, join(dir, 'fsync-every.bin'), pool, where, results, errors);
  } catch (err) {
    errors.push(`file limits: ${message(err)}`);
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

async function measureFsyncEvery(quick: boolean, file: string, pool: Buffer, where: string, results: LimitResult[], errors: string[]): Promise<void> {
  const maxBytes = quick ? limitsFsyncEveryMaxBytesQuick : limitsFsyncEveryMaxBytes;
  const maxMs = quick ? limitsFsyncEveryMaxMsQuick : limitsFsyncEveryMaxMs;
  const written = await attempt('fsync-write-4mib', errors, () => writeFile(file, maxBytes, limitsFsyncEveryBytes, maxMs, pool));
  if (written === undefined) return;
  results.push({
    id: 'fsync-write-4mib',
    label: `sequential write, fsync every ${sizeLabel(limitsFsyncEveryBytes)}`,
    megabytesPerSecond: megabytesPerSecond(written.bytes, written.seconds),
    detail: `random bytes in ${sizeLabel(limitsFileIoBytes)} writes to a new file, fsync after each ${sizeLabel(limitsFsyncEveryBytes)} (the last included), ${sizeLabel(written.bytes)} written (at most ${sizeLabel(maxBytes)} or ${maxMs} ms); ${where}`,
  });
}

interface Transfer {
  bytes: number;
  seconds: number;
}

/**
 * Writes up to `maxBytes` to a new file at `path` in limitsFileIoBytes writes, with an fsync after every
 * `fsyncEveryBytes` and at the end; stops early at the first fsync after `maxMs`. The data cycles
 * through `pool`, each 4 KiB block stamped with its file offset. Removes the file on failure.
 * @throws Node errno errors (ENOSPC, EIO...).
 */
async function writeFile(path: string, maxBytes: number, fsyncEveryBytes: number, maxMs: number, pool: Buffer): Promise<Transfer & { fsyncSeconds: number }> {
  const handle = await open(path, 'wx');
  try {
    const started = process.hrtime.bigint();
    const deadline = Number.isFinite(maxMs) ? started + BigInt(Math.round(maxMs * 1e6)) : undefined;
    let bytes = 0;
    let fsyncNs = 0n;
    while (bytes < maxBytes) {
      const chunk = stampedChunk(pool, bytes, Math.min(limitsFileIoBytes, maxBytes - bytes));
      const { bytesWritten } = await handle.write(chunk, 0, chunk.length, bytes);
      if (bytesWritten !== chunk.length) throw new Error(`short write: ${bytesWritten} of ${chunk.length} bytes at ${bytes}`);
      bytes += bytesWritten;
      if (bytes % fsyncEveryBytes === 0 || bytes === maxBytes) {
        const fsyncStarted = process.hrtime.bigint();
        await handle.sync();
        const now = process.hrtime.bigint();
        fsyncNs += now - fsyncStarted;
        if (deadline !== undefined && now >= deadline) break;
      }
    }
    if (bytes % fsyncEveryBytes !== 0 && bytes !== maxBytes) await handle.sync();
    return { bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, fsyncSeconds: Number(fsyncNs) / 1e9 };
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  } finally {
    await handle.close();
  }
}

/** `length` bytes of `pool` for file offset `offset`, each 4 KiB block's first 8 bytes set to its offset (no repeated blocks). */
function stampedChunk(pool: Buffer, offset: number, length: number): Buffer {
  const start = offset % pool.length;
  const chunk = pool.subarray(start, Math.min(start + length, pool.length));
  for (let at = 0; at + 8 <= chunk.length; at += stampBlockBytes) chunk.writeBigUInt64LE(BigInt(offset + at), at);
  return chunk;
}

/** Reads `path` sequentially in limitsFileIoBytes reads. @throws Error when it is not `expectedBytes` long. */
async function readFile(path: string, expectedBytes: number): Promise<Transfer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(limitsFileIoBytes);
    const started = process.hrtime.bigint();
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, bytes);
      if (bytesRead === 0) break;
      bytes += bytesRead;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (bytes !== expectedBytes) throw new Error(`read ${bytes} of ${expectedBytes} bytes`);
    return { bytes, seconds };
  } finally {
    await handle.close();
  }
}

/**
 * `dd if=path of=/dev/null bs=1M iflag=direct`, parsing dd's "N bytes ... copied, S s" line (LC_ALL=C).
 * @throws Error saying O_DIRECT is refused (dd's EINVAL), or dd's stderr, or a short read.
 */
async function readFileDirect(path: string, expectedBytes: number): Promise<Transfer> {
  const stderr = await new Promise<string>((resolveRun, reject) => {
    execFile('dd', [`if=${path}`, 'of=/dev/null', 'bs=1M', 'iflag=direct'], { env: { ...process.env, LC_ALL: 'C' }, timeout: limitsDirectReadTimeoutMs }, (err, _stdout, errText) => {
      if (err === null) return resolveRun(errText);
      const refused = /Invalid argument/.test(errText);
      reject(new Error(refused ? `O_DIRECT refused on ${describeFilesystem(path)} (${firstLine(errText)}): not measured` : `dd failed: ${firstLine(errText) || err.message}`));
    });
  });
  const match = /^(\d+) bytes .*copied, ([\d.e+-]+) s/m.exec(stderr);
  if (match === null) throw new Error(`cannot parse dd output: ${firstLine(stderr)}`);
  const bytes = Number(match[1]);
  if (bytes !== expectedBytes) throw new Error(`dd read ${bytes} of ${expectedBytes} bytes`);
  return { bytes, seconds: Number(match[2]) };
}

/** e.g. "ext4 (statfs: ext2/ext3)": df's type name, then the statfs magic's (which does not tell ext4 from ext2/3). */
function describeFilesystem(path: string): string {
  const statType = runText('stat', ['-f', '-c', '%T', path]) ?? 'unknown';
  const dfType = runText('df', ['--output=fstype', path])?.split('\n')[1]?.trim();
  return dfType === undefined || dfType === statType ? statType : `${dfType} (statfs: ${statType})`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

function runText(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

// ---- table and CLI ----

/**
 * Markdown table of `results` (limit, MB/s), then one "- label: detail" line per result. MB/s is
 * 10^6 bytes per second.
 */
export function limitsMarkdownTable(results: LimitResult[]): string {
  const lines = ['| limit | id | MB/s |', '|---|---|---:|'];
  for (const r of results) lines.push(`| ${cell(r.label)} | ${r.id} | ${r.megabytesPerSecond.toFixed(0)} |`);
  lines.push('');
  for (const r of results) lines.push(`- \`${r.id}\`: ${r.detail}`);
  return lines.join('\n');
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('limits')
    .description('the machine\'s own limits: file write + fsync, file read (warm and O_DIRECT), loopback HTTPS up/down')
    .option('--quick', `${sizeLabel(limitsFileBytesQuick)} file, ${limitsHttpsWindowMsQuick} ms HTTPS windows`, false)
    .option('--dir <dir>', 'where the test files go: a dir on the servers\' data filesystem (default: the OS temp dir)');
  program.parse(argv);
  const opts = program.opts<{ quick: boolean; dir?: string }>();
  const loadBefore = loadavg()[0];
  const report = await runLimits({ quick: opts.quick, dir: opts.dir });
  const note = `Machine limits (${opts.quick ? 'quick' : 'full'}): MB/s = 10^6 bytes per second; node ${process.version}, ${availableParallelism()} CPUs, load average ${loadBefore?.toFixed(2)} before`;
  process.stdout.write(`${note}\n\n${limitsMarkdownTable(report.results)}\n`);
  if (report.error !== undefined) process.stdout.write(`\nNot measured: ${report.error}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`limits: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
