// Node-to-node transport throughput, client and server in separate processes (this file forks
// itself as the server): bulk MB/s on one connection (1 and 4 streams, both directions),
// request/response ops/s (4 KiB, sequential and 16 in flight), and whether the connection
// survives a 2 s blocked event loop on the client in the middle of a transfer.
// `npx tsc -p tsconfig.json && node dist/bench/transport.bench.js [--transport quic|tls|tcp|all]
//  [--bulk-mib 256] [--ops-duration-ms 3000] [--quic-limits '{"quicStreamWindowBytes":8388608}']`.
// Prints a Markdown table, then the JSON.
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateNodeKey, identityFromPem } from '../src/transport/identity.js';
import type { CallHandler, PeerAddress, Transport } from '../src/transport/transport.js';
import { machineInfo } from './report.js';

const MiB = 1024 * 1024;
const KiB = 1024;
/** Size of each body chunk written, bytes. */
const chunkBytes = 1 * MiB;
/** Request/response cells: body size each way and in-flight counts. */
const opsBodyBytes = 4 * KiB;
const opsConcurrency = [1, 16];
/** How long the client's event loop is blocked in the survival cell, ms. */
const blockedLoopMs = 2_000;
/** Deadline of every bench call, ms. */
const benchCallTimeoutMs = 120_000;

type Kind = 'quic' | 'tls' | 'tcp';
const kindsAll: readonly Kind[] = ['quic', 'tls', 'tcp'];
type TransportOptions = { identity: ReturnType<typeof identityFromPem>; nodeId: string; peers: PeerAddress[]; listen: { host: string; port: number }; limits?: Record<string, number> };
type TransportClass = new (options: TransportOptions) => Transport;

/** Loads a transport implementation, or undefined when it is not built (yet). */
async function transportClass(kind: Kind): Promise<TransportClass | undefined> {
  try {
    if (kind === 'quic') return (await import('../src/transport/quic-transport.js')).QuicTransport;
    if (kind === 'tcp') return (await import('../src/transport/tcp-transport.js')).TcpTransport;
    const module = (await import(`../src/transport/${'tls-transport'}.js`)) as { TlsTransport?: TransportClass };
    return module.TlsTransport;
  } catch {
    return undefined;
  }
}

// ---- server (child process) ----

interface ServeRequest {
  kind: Kind;
  /** QUIC limit overrides (--quic-limits), applied on both sides. */
  limits?: Record<string, number>;
  serverPem: string;
  clientPublicKey: string;
}

const filler = Buffer.alloc(chunkBytes, 0x5a);

async function* bytesBody(totalBytes: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) yield sent + chunkBytes <= totalBytes ? filler : filler.subarray(0, totalBytes - sent);
}

async function countBytes(body: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) bytes += chunk.length;
  return bytes;
}

async function serve(request: ServeRequest): Promise<void> {
  const Transport = await transportClass(request.kind);
  if (Transport === undefined) throw new Error(`no ${request.kind} transport`);
  const identity = identityFromPem(request.serverPem);
  const peers: PeerAddress[] = [
    { nodeId: 'server', host: '127.0.0.1', port: 1, publicKey: identity.publicKey },
    { nodeId: 'client', host: '127.0.0.1', port: 1, publicKey: request.clientPublicKey },
  ];
  const transport = new Transport({ identity, nodeId: 'server', peers, listen: { host: '127.0.0.1', port: 0 }, ...(request.limits ? { limits: request.limits } : {}) });
  const handler: CallHandler = async (call) => {
    const stats = (transport as { stats?: () => { acceptedConnections?: number } }).stats?.();
    if (call.method === 'upload') return { header: { bytes: await countBytes(call.body) } };
    if (call.method === 'download') return { header: null, body: bytesBody((call.header as { bytes: number }).bytes) };
    if (call.method === 'echo') return { header: null, body: call.body };
    if (call.method === 'cpu') return { header: process.cpuUsage() };
    if (call.method === 'connections') return { header: { accepted: stats?.acceptedConnections ?? null } };
    throw new Error(`no method ${call.method}`);
  };
  const port = await transport.listen(handler);
  process.send?.({ port });
  process.on('message', (message: { stop?: boolean }) => {
    if (message.stop === true) void transport.close().then(() => process.exit(0));
  });
}

// ---- client (parent process) ----

interface Cell {
  transport: Kind;
  cell: string;
  value: number;
  unit: string;
  note?: string;
}

async function startServer(kind: Kind, request: ServeRequest): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.send(request);
  const port = await new Promise<number>((resolvePort, reject) => {
    child.once('message', (message: { port: number }) => resolvePort(message.port));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, port };
}

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = process.hrtime.bigint();
  const result = await run();
  return { result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function upload(client: Transport, bytes: number): Promise<void> {
  const reply = await client.call('server', { method: 'upload', header: null, body: bytesBody(bytes) }, { timeoutMs: benchCallTimeoutMs });
  await countBytes(reply.body);
  if ((reply.header as { bytes: number }).bytes !== bytes) throw new Error(`server counted ${(reply.header as { bytes: number }).bytes} of ${bytes} bytes`);
}

async function download(client: Transport, bytes: number, during?: () => void): Promise<void> {
  const reply = await client.call('server', { method: 'download', header: { bytes } }, { timeoutMs: benchCallTimeoutMs });
  let received = 0;
  for await (const chunk of reply.body) {
    received += chunk.length;
    if (during !== undefined && received >= bytes / 4) {
      during();
      during = undefined;
    }
  }
  if (received !== bytes) throw new Error(`received ${received} of ${bytes} bytes`);
}

async function echo(client: Transport, body: Buffer): Promise<void> {
  const reply = await client.call('server', { method: 'echo', header: null, body: (async function* () { yield body; })() }, { timeoutMs: benchCallTimeoutMs });
  if ((await countBytes(reply.body)) !== body.length) throw new Error('short echo');
}

/** CPU seconds (user + system, all threads) of the client and the server process so far. */
async function cpuSeconds(client: Transport): Promise<{ client: number; server: number }> {
  const reply = await client.call('server', { method: 'cpu', header: null }, { timeoutMs: 10_000 });
  await countBytes(reply.body);
  const server = reply.header as NodeJS.CpuUsage;
  const own = process.cpuUsage();
  return { client: (own.user + own.system) / 1e6, server: (server.user + server.system) / 1e6 };
}

/** Runs `run` and notes the CPU both processes spent on it, per 100 MB moved. */
async function withCpu(client: Transport, bytes: number, run: () => Promise<unknown>): Promise<{ seconds: number; note: string }> {
  const before = await cpuSeconds(client);
  const { seconds } = await timed(run);
  const after = await cpuSeconds(client);
  const per100MB = (cpu: number): string => ((cpu / bytes) * 1e8).toFixed(2);
  return { seconds, note: `CPU s per 100 MB: client ${per100MB(after.client - before.client)}, server ${per100MB(after.server - before.server)}; wall ${seconds.toFixed(2)} s` };
}

async function acceptedConnections(client: Transport): Promise<number | null> {
  const reply = await client.call('server', { method: 'connections', header: null }, { timeoutMs: 10_000 });
  await countBytes(reply.body);
  return (reply.header as { accepted: number | null }).accepted;
}

function busyLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the event loop is blocked on purpose */ }
}

async function benchTransport(kind: Kind, bulkBytes: number, opsDurationMs: number, quicLimits: Record<string, number> | undefined): Promise<Cell[]> {
  const limits = kind === 'quic' ? quicLimits : undefined;
  const Transport = await transportClass(kind);
  if (Transport === undefined) return [{ transport: kind, cell: 'skipped', value: 0, unit: '', note: `src/transport/${kind}-transport.js not built` }];
  const serverKey = generateNodeKey();
  const clientKey = generateNodeKey();
  const { child, port } = await startServer(kind, { kind, serverPem: serverKey.privateKeyPem, clientPublicKey: clientKey.publicKey, ...(limits ? { limits } : {}) });
  const clientIdentity = identityFromPem(clientKey.privateKeyPem);
  const client = new Transport({
    identity: clientIdentity, nodeId: 'client',
    peers: [
      { nodeId: 'server', host: '127.0.0.1', port, publicKey: serverKey.publicKey },
      { nodeId: 'client', host: '127.0.0.1', port: 1, publicKey: clientIdentity.publicKey },
    ],
    listen: { host: '127.0.0.1', port: 0 },
    ...(limits ? { limits } : {}),
  });
  const cells: Cell[] = [];
  const mbps = (bytes: number, seconds: number): number => Math.round((bytes / 1e6 / seconds) * 10) / 10;
  try {
    await echo(client, Buffer.alloc(16)); // connect and warm up
    await upload(client, 32 * MiB);
    for (const streams of [1, 4]) {
      const up = await withCpu(client, bulkBytes, () => Promise.all(Array.from({ length: streams }, () => upload(client, bulkBytes / streams))));
      cells.push({ transport: kind, cell: `upload ${bulkBytes / MiB} MiB, ${streams} stream${streams > 1 ? 's' : ''}`, value: mbps(bulkBytes, up.seconds), unit: 'MB/s', note: up.note });
      const down = await withCpu(client, bulkBytes, () => Promise.all(Array.from({ length: streams }, () => download(client, bulkBytes / streams))));
      cells.push({ transport: kind, cell: `download ${bulkBytes / MiB} MiB, ${streams} stream${streams > 1 ? 's' : ''}`, value: mbps(bulkBytes, down.seconds), unit: 'MB/s', note: down.note });
    }
    const body = Buffer.alloc(opsBodyBytes, 1);
    for (const inFlight of opsConcurrency) {
      let ops = 0;
      const end = Date.now() + opsDurationMs;
      const { seconds } = await timed(() => Promise.all(Array.from({ length: inFlight }, async () => {
        while (Date.now() < end) {
          await echo(client, body);
          ops++;
        }
      })));
      cells.push({ transport: kind, cell: `echo 4 KiB, ${inFlight} in flight`, value: Math.round(ops / seconds), unit: 'ops/s' });
    }
    const before = await acceptedConnections(client);
    const blocked = await timed(() => download(client, 64 * MiB, () => busyLoop(blockedLoopMs)));
    await echo(client, body);
    const after = await acceptedConnections(client);
    const same = before === null || after === before;
    cells.push({
      transport: kind, cell: `64 MiB download with a ${blockedLoopMs / 1000} s blocked client loop, then a call`, value: same ? 1 : 0, unit: 'survived',
      note: `took ${blocked.seconds.toFixed(2)} s; server connections accepted ${before ?? '?'} -> ${after ?? '?'}; health ${JSON.stringify(client.health('server'))}`,
    });
  } catch (err) {
    cells.push({ transport: kind, cell: 'failed', value: 0, unit: '', note: (err as Error).stack ?? String(err) });
  } finally {
    await client.close();
    child.send({ stop: true });
    await new Promise((resolveExit) => child.once('exit', resolveExit));
  }
  return cells;
}

function markdown(cells: Cell[]): string {
  const lines = ['| transport | cell | value | unit | note |', '|---|---|---:|---|---|'];
  for (const cell of cells) lines.push(`| ${cell.transport} | ${cell.cell} | ${cell.value} | ${cell.unit} | ${(cell.note ?? '').replaceAll('\n', ' ').replaceAll('|', '\\|')} |`);
  return lines.join('\n');
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

async function main(): Promise<void> {
  const which = option('--transport', 'all');
  if (which !== 'all' && !kindsAll.includes(which as Kind)) throw new Error('--transport must be quic, tls, tcp or all');
  const kinds: readonly Kind[] = which === 'all' ? kindsAll : [which as Kind];
  const bulkBytes = Number(option('--bulk-mib', '256')) * MiB;
  const opsDurationMs = Number(option('--ops-duration-ms', '3000'));
  const quicLimits = JSON.parse(option('--quic-limits', '{}')) as Record<string, number>;
  const loadBefore = loadavg()[0];
  const cells: Cell[] = [];
  for (const kind of kinds) cells.push(...(await benchTransport(kind, bulkBytes, opsDurationMs, quicLimits)));
  console.log(markdown(cells));
  const machine = machineInfo(resolve(fileURLToPath(import.meta.url), '../../..'), undefined);
  console.log(JSON.stringify({ bench: 'transport', machine, loadAverage1m: { before: loadBefore, after: loadavg()[0] }, bulkBytes, opsDurationMs, quicLimits, cells }, null, 2));
}

if (process.argv.includes('--serve')) {
  process.once('message', (request: ServeRequest) => {
    serve(request).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  });
} else {
  main().then(() => process.exit(0), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
