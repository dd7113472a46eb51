// QUIC soak: 16 callers drive a QuicTransport through a lossy UDP relay for a while, with a mix of
// small calls, request and reply bodies, remote errors and handlers that never answer. Every call
// must settle by its deadline (plus a small scheduling tolerance); one that does not is a hang.
// `node dist/bench/quic-soak.js [--duration-ms 600000] [--loss 0.05] [--delay-ms 1] [--jitter-ms 4]
//  [--concurrency 16] [--call-timeout-ms 3000]`; exits 1 on any hang or corrupt body.
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../src/util/errors.js';
import { generateNodeKey, identityFromPem } from '../src/transport/identity.js';
import { QuicTransport, type QuicTransportLimits } from '../src/transport/quic-transport.js';
import type { CallHandler, PeerAddress } from '../src/transport/transport.js';
import { UdpRelay } from './udp-relay.js';

export interface SoakOptions {
  durationMs: number;
  /** Datagram loss rate of the relay, [0, 1). */
  lossRate: number;
  delayMs: number;
  jitterMs: number;
  concurrency: number;
  /** Deadline of each call, ms. */
  callTimeoutMs: number;
  /** Past its deadline by more than this, a settled call counts as late, ms. */
  lateToleranceMs: number;
  /** Past its deadline by more than this, an unsettled call counts as a hang, ms. */
  hangAfterMs: number;
  /** Largest request or reply body, bytes. */
  bodyMaxBytes: number;
  /** Progress lines to stderr every this many ms; 0 = none. */
  progressEveryMs: number;
}

export const soakDefaults: SoakOptions = {
  durationMs: 10 * 60_000, lossRate: 0.05, delayMs: 1, jitterMs: 4, concurrency: 16, callTimeoutMs: 3_000,
  lateToleranceMs: 1_000, hangAfterMs: 5_000, bodyMaxBytes: 256 * 1024, progressEveryMs: 10_000,
};

export interface SoakResult {
  calls: number;
  ok: number;
  /** Expected failures by code (CallTimeout of 'hang' calls, the remote 'ShardNotFound', ...). */
  failures: Record<string, number>;
  /** Calls that settled later than deadline + lateToleranceMs. */
  late: number;
  /** Calls that did not settle within deadline + hangAfterMs. */
  hangs: number;
  /** Bodies whose SHA-256 differed. */
  corrupt: number;
  /** Slowest settle time of any call, ms. */
  maxSettleMs: number;
  relay: { forwarded: number; dropped: number; overflow: number };
}

const soakLimits: Partial<QuicTransportLimits> = { handshakeTimeoutMs: 1_000, connectionIdleTimeoutMs: 5_000, keepAliveIntervalMs: 1_000 };
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

const handler: CallHandler = async (call) => {
  const header = call.header as { bytes?: number; sha?: string };
  if (call.method === 'small') return { header: call.header };
  if (call.method === 'upload') {
    const hash = createHash('sha256');
    for await (const chunk of call.body) hash.update(chunk);
    return { header: { sha: hash.digest('hex') } };
  }
  if (call.method === 'download') {
    const data = randomBytes(header.bytes ?? 0);
    return { header: { sha: sha(data) }, body: (async function* () { for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024); })() };
  }
  if (call.method === 'fail') throw new TesseraError('ShardNotFound', 'shard is missing');
  if (call.method === 'hang') await new Promise((resolve) => call.signal.addEventListener('abort', resolve, { once: true }));
  throw new Error(`no method ${call.method}`);
};

async function oneCall(client: QuicTransport, options: SoakOptions): Promise<'ok' | 'corrupt'> {
  const pick = Math.random();
  const bytes = Math.floor(Math.random() * options.bodyMaxBytes);
  const timeout = { timeoutMs: options.callTimeoutMs };
  if (pick < 0.3) {
    const reply = await client.call('server', { method: 'small', header: { n: bytes } }, timeout);
    for await (const _ of reply.body) { /* empty */ }
    return (reply.header as { n: number }).n === bytes ? 'ok' : 'corrupt';
  }
  if (pick < 0.6) {
    const data = randomBytes(bytes);
    const reply = await client.call('server', { method: 'upload', header: null, body: (async function* () { yield data; })() }, timeout);
    for await (const _ of reply.body) { /* empty */ }
    return (reply.header as { sha: string }).sha === sha(data) ? 'ok' : 'corrupt';
  }
  if (pick < 0.9) {
    const reply = await client.call('server', { method: 'download', header: { bytes } }, timeout);
    const parts: Uint8Array[] = [];
    for await (const chunk of reply.body) parts.push(chunk);
    return (reply.header as { sha: string }).sha === sha(Buffer.concat(parts)) ? 'ok' : 'corrupt';
  }
  await client.call('server', { method: pick < 0.95 ? 'fail' : 'hang', header: null }, timeout);
  return 'corrupt'; // both must throw
}

/** Runs the soak; resolves with the counts (never rejects for call failures). */
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakResult> {
  const options = { ...soakDefaults, ...partial };
  const serverKey = identityFromPem(generateNodeKey().privateKeyPem);
  const clientKey = identityFromPem(generateNodeKey().privateKeyPem);
  const server = new QuicTransport({
    identity: serverKey, nodeId: 'server', limits: soakLimits, listen: { host: '127.0.0.1', port: 0 },
    peers: [{ nodeId: 'server', host: '127.0.0.1', port: 1, publicKey: serverKey.publicKey }, { nodeId: 'client', host: '127.0.0.1', port: 1, publicKey: clientKey.publicKey }],
  });
  const serverPort = await server.listen(handler);
  const relay = new UdpRelay({ targetHost: '127.0.0.1', targetPort: serverPort, lossRate: options.lossRate, delayMs: options.delayMs, jitterMs: options.jitterMs });
  const relayPort = await relay.start();
  const peers: PeerAddress[] = [
    { nodeId: 'server', host: '127.0.0.1', port: relayPort, publicKey: serverKey.publicKey },
    { nodeId: 'client', host: '127.0.0.1', port: 1, publicKey: clientKey.publicKey },
  ];
  const client = new QuicTransport({ identity: clientKey, nodeId: 'client', peers, limits: soakLimits, listen: { host: '127.0.0.1', port: 0 } });
  const result: SoakResult = { calls: 0, ok: 0, failures: {}, late: 0, hangs: 0, corrupt: 0, maxSettleMs: 0, relay: relay.stats };
  const endMs = Date.now() + options.durationMs;
  const progress = options.progressEveryMs > 0 ? setInterval(() => process.stderr.write(`soak: ${JSON.stringify({ ...result, health: client.health('server') })}\n`), options.progressEveryMs) : undefined;

  const worker = async (): Promise<void> => {
    while (Date.now() < endMs && result.hangs === 0) {
      const startedMs = Date.now();
      result.calls++;
      const settled = oneCall(client, options).then(
        (outcome) => outcome,
        (err: unknown) => (err instanceof TesseraError ? err.code : `non-Tessera: ${(err as Error).message}`),
      );
      let watchdog: NodeJS.Timeout | undefined;
      const hang = new Promise<'hang'>((resolve) => (watchdog = setTimeout(() => resolve('hang'), options.callTimeoutMs + options.hangAfterMs)));
      const outcome = await Promise.race([settled, hang]);
      clearTimeout(watchdog);
      const settleMs = Date.now() - startedMs;
      result.maxSettleMs = Math.max(result.maxSettleMs, settleMs);
      if (outcome === 'hang') result.hangs++;
      else if (settleMs > options.callTimeoutMs + options.lateToleranceMs) result.late++;
      if (outcome === 'ok') result.ok++;
      else if (outcome === 'corrupt') result.corrupt++;
      else if (outcome !== 'hang') result.failures[outcome] = (result.failures[outcome] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    clearInterval(progress);
    await client.close();
    await server.close();
    await relay.close();
  }
  return result;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isFinite(value)) throw new Error(`${name} needs a number`);
  return value;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options: Partial<SoakOptions> = {
    durationMs: option('--duration-ms', soakDefaults.durationMs), lossRate: option('--loss', soakDefaults.lossRate),
    delayMs: option('--delay-ms', soakDefaults.delayMs), jitterMs: option('--jitter-ms', soakDefaults.jitterMs),
    concurrency: option('--concurrency', soakDefaults.concurrency), callTimeoutMs: option('--call-timeout-ms', soakDefaults.callTimeoutMs),
  };
  runSoak(options).then((result) => {
    console.log(JSON.stringify({ options: { ...soakDefaults, ...options }, result }, null, 2));
    process.exit(result.hangs > 0 || result.corrupt > 0 ? 1 : 0);
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
