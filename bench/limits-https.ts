// The machine's loopback-HTTPS limit: undici (the load generator's client) PUTs and GETs 64 MiB bodies
// to a node:https server forked from this module (`--https-server`), 1 and 16 in flight. The child
// never outlives measureHttps: it is killed on every path, and when the parent exits.
import { fork, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { generateCertificate } from '../src/cluster/tls-certificate.js';
import { attempt, message } from './limits-common.js';
import { megabytesPerSecond, sizeLabel, type LimitResult } from './report.js';
import { machineBusyCpuSeconds } from './server-process.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

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
export async function measureHttps(quick: boolean, results: LimitResult[], errors: string[]): Promise<void> {
  let server: HttpsChild | undefined;
  try {
    // The certificate s3d makes for itself, so this ceiling pays the same TLS cost as the servers.
    const { certPem, keyPem } = await generateCertificate([]);
    server = await HttpsChild.start(certPem, keyPem);
    const body = randomFillSync(Buffer.allocUnsafe(limitsHttpsObjectBytes));
    const windowMs = quick ? limitsHttpsWindowMsQuick : limitsHttpsWindowMs;
    await warmUp(server, certPem, body);
    for (const direction of ['upload', 'download'] as const) {
      for (const concurrency of limitsHttpsConcurrencies) {
        const id = `https-${direction}-c${concurrency}`;
        const result = await attempt(id, errors, () => runCell(server!, certPem, body, direction, concurrency, windowMs));
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
    label: `loopback HTTPS ${direction === 'upload' ? 'PUT' : 'GET'}, ${sizeLabel(objectBytes)} objects, ${concurrency} in flight`,
    megabytesPerSecond: megabytesPerSecond(receivedBytes, seconds),
    detail:
      `undici Agent (${concurrency} keep-alive connection${concurrency === 1 ? '' : 's'}) -> node:https in a child process on 127.0.0.1, ${serverAfter.cipher}, ` +
      `self-signed EC P-256; bodies in ${sizeLabel(limitsHttpsSliceBytes)} slices of one random buffer; ${counted} in ${seconds.toFixed(2)} s; ${cpu}`,
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

/** Bytes as whole 10^6-byte megabytes, for details. */
function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}

// The forked child's entry (HttpsChild.start): the parent sends the key pair, then serveHttps runs until it disconnects.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--https-server')) {
  process.once('message', (keys: { certPem: string; keyPem: string }) => serveHttps(keys.certPem, keys.keyPem));
}
