// The machine's own limits, measured in the same run as the S3 bench: file write + fsync, file read
// (page cache warm, and O_DIRECT via dd), and loopback HTTPS up/down with node:https and undici. Each
// limit fails alone; temp files and the forked HTTPS server never outlive runLimits.
// Standalone: `node dist/bench/limits.js [--quick] [--dir DIR]` (table, then JSON).
import { execFile, execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { generate } from 'selfsigned';
import { Agent } from 'undici';
import type { LimitResult, LimitsReport } from './report.js';
import { machineBusyCpuSeconds } from './server-process.js';

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

/** HTTPS object size, and the slices its body is streamed in (both directions). */
export const limitsHttpsObjectBytes = 64 * MiB;
export const limitsHttpsSliceBytes = 1 * MiB;
/** Concurrent requests (= keep-alive connections) per HTTPS cell. */
export const limitsHttpsConcurrencies: readonly number[] = [1, 16];
/** Measured window of one HTTPS cell, in ms (full, --quick). */
export const limitsHttpsWindowMs = 3_000;
export const limitsHttpsWindowMsQuick = 1_000;
/** Untimed PUT and GET of this many bytes before the cells (handshake, JIT). */
export const limitsHttpsWarmupBytes = 8 * MiB;
/** Largest GET /<bytes> the server streams. */
const httpsGetMaxBytes = 16 * GiB;
/** How long the forked server may take to listen, answer a stats query, and exit, in ms. */
export const limitsServerStartTimeoutMs = 15_000;
export const limitsServerReplyTimeoutMs = 5_000;
export const limitsServerStopTimeoutMs = 5_000;

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
        label: `sequential write + fsync, ${bytesLabel(fileBytes)} in ${bytesLabel(limitsFileIoBytes)} writes`,
        megabytesPerSecond: rate(written.bytes, written.seconds),
        detail: `${bytesLabel(fileBytes)} of random bytes to a new file (FileHandle.write), one fsync at the end, timed from the first write to the end of the fsync (fsync alone ${written.fsyncSeconds.toFixed(2)} s); ${where}`,
      });
      const warm = await attempt('file-read', errors, () => readFile(file, fileBytes));
      if (warm !== undefined) {
        results.push({
          id: 'file-read',
          label: `sequential read, page cache warm, ${bytesLabel(limitsFileIoBytes)} reads`,
          megabytesPerSecond: rate(warm.bytes, warm.seconds),
          detail: `the ${bytesLabel(fileBytes)} just written, read back with FileHandle.read: served from the page cache, as the servers' GETs right after their PUTs are; ${where}`,
        });
      }
      const direct = await attempt('file-read-direct', errors, () => readFileDirect(file, fileBytes));
      if (direct !== undefined) {
        results.push({
          id: 'file-read-direct',
          label: 'sequential read, O_DIRECT (no page cache), 1 MiB reads',
          megabytesPerSecond: rate(direct.bytes, direct.seconds),
          detail: `\`dd bs=1M iflag=direct\` of the same ${bytesLabel(fileBytes)}, dd's own byte count and time: bypasses this kernel's page cache (a VM host may still cache); ${where}`,
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
    label: `sequential write, fsync every ${bytesLabel(limitsFsyncEveryBytes)}`,
    megabytesPerSecond: rate(written.bytes, written.seconds),
    detail: `random bytes in ${bytesLabel(limitsFileIoBytes)} writes to a new file, fsync after each ${bytesLabel(limitsFsyncEveryBytes)} (the last included), ${bytesLabel(written.bytes)} written (at most ${bytesLabel(maxBytes)} or ${maxMs} ms); ${where}`,
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

// ---- loopback HTTPS ----

/** Parent -> child: the key pair to serve with. Child -> parent: its port, then stats on request. */
type ServerMessage = { type: 'listening'; port: number } | ({ type: 'stats' } & ServerStats);
interface ServerStats {
  /** Child process user + system CPU so far, in microseconds. */
  cpuMicros: number;
  /** Request body bytes received and response body bytes sent so far. */
  receivedBytes: number;
  sentBytes: number;
  /** Negotiated cipher of the latest connection, e.g. "TLS_AES_256_GCM_SHA384". */
  cipher: string;
}

type Direction = 'upload' | 'download';

/** Forks the server, runs the warm-up then upload/download x limitsHttpsConcurrencies; kills the child on every path. */
async function measureHttps(quick: boolean, results: LimitResult[], errors: string[]): Promise<void> {
  let server: HttpsChild | undefined;
  try {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    server = await HttpsChild.start(pems.cert, pems.private);
    const body = randomFillSync(Buffer.allocUnsafe(limitsHttpsObjectBytes));
    const windowMs = quick ? limitsHttpsWindowMsQuick : limitsHttpsWindowMs;
    await warmUp(server, pems.cert, body);
    for (const direction of ['upload', 'download'] as const) {
      for (const concurrency of limitsHttpsConcurrencies) {
        const id = `https-${direction}-c${concurrency}`;
        const result = await attempt(id, errors, () => runCell(server!, pems.cert, body, direction, concurrency, windowMs));
        if (result !== undefined) results.push(result);
      }
    }
  } catch (err) {
    errors.push(`https limits: ${message(err)}`);
  } finally {
    await server?.stop();
  }
}

/** One whole PUT and GET of limitsHttpsWarmupBytes (TLS handshake, JIT), untimed. @throws as the cells do. */
async function warmUp(server: HttpsChild, ca: string, body: Buffer): Promise<void> {
  const agent = new Agent({ connections: 1, pipelining: 1, connect: { ca } });
  const signal = new AbortController().signal;
  try {
    await upload(agent, server.origin, body, limitsHttpsWarmupBytes, signal, { bytes: 0 });
    await download(agent, server.origin, limitsHttpsWarmupBytes, signal, { bytes: 0 });
  } finally {
    await agent.destroy();
  }
}

/**
 * `concurrency` workers PUT (or GET) `objectBytes` objects back to back over one undici Agent with
 * `concurrency` keep-alive connections, for `windowMs`; at the deadline in-flight requests are aborted.
 * MB/s counts the bytes the receiving end got inside the window: for downloads this process's
 * received body bytes, for uploads the server's received body bytes (queried at the deadline), so
 * bytes still in socket buffers do not count. The bytes the PUT body iterables yielded are in `detail`.
 * @throws Error on a non-200 status, a wrong length, or a transport error before the deadline.
 */
async function runCell(server: HttpsChild, ca: string, body: Buffer, direction: Direction, concurrency: number, windowMs: number): Promise<LimitResult> {
  const objectBytes = limitsHttpsObjectBytes;
  const agent = new Agent({ connections: concurrency, pipelining: 1, connect: { ca } });
  const controller = new AbortController();
  // Every in-flight request listens on the one signal (undici adds a listener per request).
  setMaxListeners(concurrency + 8, controller.signal);
  const moved = { bytes: 0 };
  const serverBefore = await server.stats();
  const clientBefore = process.cpuUsage();
  const machineBefore = machineBusyCpuSeconds();
  const started = process.hrtime.bigint();
  let atDeadline: { ns: bigint; clientBytes: number; clientCpu: NodeJS.CpuUsage; machineBusy: number | undefined; server: Promise<ServerStats> } | undefined;
  controller.signal.addEventListener('abort', () => {
    const serverAtDeadline = server.stats();
    serverAtDeadline.catch(() => undefined); // awaited below unless a worker failed first
    atDeadline = { ns: process.hrtime.bigint(), clientBytes: moved.bytes, clientCpu: process.cpuUsage(clientBefore), machineBusy: machineBusyCpuSeconds(), server: serverAtDeadline };
  });
  const timer = setTimeout(() => controller.abort(), windowMs);
  try {
    const once = direction === 'upload' ? () => upload(agent, server.origin, body, objectBytes, controller.signal, moved) : () => download(agent, server.origin, objectBytes, controller.signal, moved);
    await Promise.all(Array.from({ length: concurrency }, () => untilAborted(once, controller.signal)));
  } finally {
    clearTimeout(timer);
    controller.abort(); // a worker's error ends the cell early: stop the others
    await agent.destroy();
  }
  const end = atDeadline!;
  const serverAfter = await end.server;
  const seconds = Number(end.ns - started) / 1e9;
  const serverBytes = direction === 'upload' ? serverAfter.receivedBytes - serverBefore.receivedBytes : serverAfter.sentBytes - serverBefore.sentBytes;
  const receivedBytes = direction === 'upload' ? serverBytes : end.clientBytes;
  const clientCpuSeconds = (end.clientCpu.user + end.clientCpu.system) / 1e6;
  const serverCpuSeconds = (serverAfter.cpuMicros - serverBefore.cpuMicros) / 1e6;
  const otherCpuSeconds = machineBefore === undefined || end.machineBusy === undefined ? undefined : Math.max(0, end.machineBusy - machineBefore - clientCpuSeconds - serverCpuSeconds);
  const cpu =
    `CPU s in the window on ${availableParallelism()} cores: client ${clientCpuSeconds.toFixed(2)}, server ${serverCpuSeconds.toFixed(2)}` +
    `${otherCpuSeconds === undefined ? '' : `, other processes ${otherCpuSeconds.toFixed(2)}`}; ${mb(receivedBytes / (clientCpuSeconds + serverCpuSeconds))} MB per CPU-s (client + server)`;
  const counted = direction === 'upload' ? `server received ${mb(serverBytes)} MB (the body iterables yielded ${mb(end.clientBytes)} MB)` : `received ${mb(end.clientBytes)} MB (the server sent ${mb(serverBytes)} MB)`;
  return {
    id: `https-${direction}-c${concurrency}`,
    label: `loopback HTTPS ${direction === 'upload' ? 'PUT' : 'GET'}, ${bytesLabel(objectBytes)} objects, ${concurrency} in flight`,
    megabytesPerSecond: rate(receivedBytes, seconds),
    detail:
      `undici Agent (${concurrency} keep-alive connection${concurrency === 1 ? '' : 's'}) -> node:https in a child process on 127.0.0.1, ${serverAfter.cipher}, ` +
      `self-signed EC P-256; bodies in ${bytesLabel(limitsHttpsSliceBytes)} slices of one random buffer; ${counted} in ${seconds.toFixed(2)} s; ${cpu}`,
  };
}

/** Calls `once` until `signal` aborts; an error after the abort is the abort's and ends the loop. */
async function untilAborted(once: () => Promise<void>, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      await once();
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
  }
}

async function upload(agent: Agent, origin: string, body: Buffer, objectBytes: number, signal: AbortSignal, moved: { bytes: number }): Promise<void> {
  // undici streams any async iterable (client-h1 writeIterable, one slice per socket drain); its types list only Readable.
  const slices = bodySlices(body, objectBytes, signal, moved) as unknown as Readable;
  const response = await agent.request({ origin, path: '/object', method: 'PUT', headers: { 'content-length': String(objectBytes) }, body: slices, signal });
  const text = await response.body.text();
  if (response.statusCode !== 200 || text !== String(objectBytes)) throw new Error(`PUT: HTTP ${response.statusCode}, server counted ${text} of ${objectBytes} bytes`);
}

/** `objectBytes` of `body` in limitsHttpsSliceBytes slices (cycling), counting what it yields until `signal` aborts. */
async function* bodySlices(body: Buffer, objectBytes: number, signal: AbortSignal, moved: { bytes: number }): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < objectBytes && !signal.aborted; offset += limitsHttpsSliceBytes) {
    const start = offset % body.length;
    const slice = body.subarray(start, Math.min(start + limitsHttpsSliceBytes, body.length, start + objectBytes - offset));
    moved.bytes += slice.length;
    yield slice;
  }
}

async function download(agent: Agent, origin: string, objectBytes: number, signal: AbortSignal, moved: { bytes: number }): Promise<void> {
  const response = await agent.request({ origin, path: `/${objectBytes}`, method: 'GET', signal });
  if (response.statusCode !== 200) throw new Error(`GET: HTTP ${response.statusCode}: ${await response.body.text()}`);
  let received = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    if (signal.aborted) return;
    received += chunk.length;
    moved.bytes += chunk.length;
  }
  if (received !== objectBytes) throw new Error(`GET: received ${received} of ${objectBytes} bytes`);
}

/** The forked node:https server (this module with --https-server), killed by stop() or when this process exits. */
class HttpsChild {
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
  ) {}

  /** @throws Error when the child exits or does not listen within limitsServerStartTimeoutMs (it is killed). */
  static async start(certPem: string, keyPem: string): Promise<HttpsChild> {
    const child = fork(fileURLToPath(import.meta.url), ['--https-server'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // A send to a dead child emits 'error' here; the pending nextMessage then fails on 'exit' instead.
    child.on('error', () => undefined);
    const killOnExit = (): void => void child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    try {
      child.send({ certPem, keyPem });
      const listening = await nextMessage(child, 'listening', limitsServerStartTimeoutMs);
      return new HttpsChild(child, `https://127.0.0.1:${listening.port}`);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** The child's CPU and byte counters. @throws Error when it does not answer in limitsServerReplyTimeoutMs. */
  async stats(): Promise<ServerStats> {
    if (!this.child.connected) throw new Error('HTTPS server is gone');
    const reply = nextMessage(this.child, 'stats', limitsServerReplyTimeoutMs);
    this.child.send({ type: 'stats' });
    return reply;
  }

  /** Disconnects (the child then exits); SIGKILL after limitsServerStopTimeoutMs. Never throws. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolveExit) => this.child.once('exit', () => resolveExit()));
    if (this.child.connected) this.child.disconnect();
    else this.child.kill('SIGKILL');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), limitsServerStopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

function nextMessage<T extends ServerMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ServerMessage, { type: T }>> {
  return new Promise((resolveMessage, reject) => {
    const onMessage = (message: ServerMessage): void => {
      if (message.type !== type) return;
      done();
      resolveMessage(message as Extract<ServerMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`HTTPS server exited (${signal ?? `code ${code}`}) before its ${type} message`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`HTTPS server sent no ${type} message within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * The child: PUT (any path) -> 200 with the body's byte count once it ended, the body discarded;
 * GET /<bytes> -> 200 with that many bytes of one random buffer in limitsHttpsSliceBytes slices.
 * Exits when the parent disconnects.
 */
function serveHttps(certPem: string, keyPem: string): void {
  const body = randomFillSync(Buffer.allocUnsafe(limitsHttpsObjectBytes));
  const counters = { receivedBytes: 0, sentBytes: 0, cipher: 'unknown' };
  const server: Server = createServer({ cert: certPem, key: keyPem, requestTimeout: 0, keepAliveTimeout: 5_000 }, (req, res) => {
    counters.cipher = (req.socket as TLSSocket).getCipher()?.standardName ?? counters.cipher;
    if (req.method === 'PUT') discard(req, res, counters);
    else if (req.method === 'GET') streamBody(req, res, body, counters);
    else res.writeHead(405).end();
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port }));
  process.on('message', (message: { type?: string }) => {
    if (message.type !== 'stats') return;
    const cpu = process.cpuUsage();
    process.send?.({ type: 'stats', cpuMicros: cpu.user + cpu.system, ...counters });
  });
  process.once('disconnect', () => process.exit(0));
}

function discard(req: IncomingMessage, res: ServerResponse, counters: { receivedBytes: number }): void {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    counters.receivedBytes += chunk.length;
  });
  req.on('error', () => undefined);
  req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(bytes)));
}

function streamBody(req: IncomingMessage, res: ServerResponse, body: Buffer, counters: { sentBytes: number }): void {
  const bytes = Number((req.url ?? '').slice(1));
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > httpsGetMaxBytes) {
    res.writeHead(400).end(`GET /<bytes>, 0..${httpsGetMaxBytes}`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
  const slices = Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes; offset += limitsHttpsSliceBytes) {
        const start = offset % body.length;
        const slice = body.subarray(start, Math.min(start + limitsHttpsSliceBytes, body.length, start + bytes - offset));
        counters.sentBytes += slice.length;
        yield slice;
      }
    })(),
    { objectMode: false, highWaterMark: limitsHttpsSliceBytes },
  );
  // A client abort (the bench's deadline) ends the pipeline with ERR_STREAM_PREMATURE_CLOSE: expected.
  pipeline(slices, res).catch(() => undefined);
}

// ---- shared ----

/** Runs `measure`; on failure pushes "<id>: <message>" to `errors` and returns undefined. */
async function attempt<T>(id: string, errors: string[], measure: () => Promise<T>): Promise<T | undefined> {
  try {
    return await measure();
  } catch (err) {
    errors.push(`${id}: ${message(err)}`);
    return undefined;
  }
}

/** Bytes as whole 10^6-byte megabytes, for details. */
function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

function rate(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

/** "1 GiB", "4 MiB", "512 KiB" for whole binary units; bytes otherwise. */
function bytesLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`;
  return `${bytes} B`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
    .option('--quick', `${bytesLabel(limitsFileBytesQuick)} file, ${limitsHttpsWindowMsQuick} ms HTTPS windows`, false)
    .option('--dir <dir>', 'where the test files go: a dir on the servers\' data filesystem (default: the OS temp dir)')
    .addOption(new Option('--https-server', 'run as the forked HTTPS server').hideHelp());
  program.parse(argv);
  const opts = program.opts<{ quick: boolean; dir?: string; httpsServer?: boolean }>();
  if (opts.httpsServer === true) {
    process.once('message', (keys: { certPem: string; keyPem: string }) => serveHttps(keys.certPem, keys.keyPem));
    return new Promise<number>(() => undefined); // serveHttps exits the process on disconnect
  }
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
