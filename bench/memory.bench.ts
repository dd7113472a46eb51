// `make bench-memory`: streams one 5 GiB object through a fresh server with a single PUT and a
// single GET and reports the server's peak RSS (VmHWM) for each, plus MB/s. The bar is
// RSS under 300 MiB both ways. Bytes are checked by SHA-256 on both sides of the round trip.
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, sampleProcess, rssPollIntervalMs } from './server-process.js';
import { signRequest, type SigV4Credentials } from './sigv4-sign.js';

/** Object size streamed through the server (the largest single PUT S3 allows). */
export const memoryBenchObjectBytes = 5 * 1024 ** 3;
/** Client write size; the body is this random buffer repeated with a per-chunk counter. */
const chunkBytes = 1024 * 1024;

interface Phase {
  seconds: number;
  peakRssMiB: number;
  sha256: string;
}

function* body(totalBytes: number, seed: Buffer): Generator<Buffer> {
  for (let offset = 0, n = 0; offset < totalBytes; offset += chunkBytes, n++) {
    const chunk = Buffer.from(seed.subarray(0, Math.min(chunkBytes, totalBytes - offset)));
    chunk.writeUInt32BE(n, 0); // every block differs
    yield chunk;
  }
}

async function measure(pid: number, run: () => Promise<string>): Promise<Phase> {
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, sampleProcess(pid)?.rssBytes ?? 0); }, rssPollIntervalMs);
  const start = performance.now();
  try {
    const sha256 = await run();
    return { seconds: (performance.now() - start) / 1000, peakRssMiB: peak / 2 ** 20, sha256 };
  } finally {
    clearInterval(timer);
  }
}

function send(endpoint: URL, agent: Agent, credentials: SigV4Credentials, method: string, path: string, sizeBytes?: number) {
  const headers = signRequest(credentials, {
    method, host: endpoint.host, path, headers: sizeBytes === undefined ? {} : { 'content-length': String(sizeBytes) },
  });
  return httpsRequest({ hostname: endpoint.hostname, port: endpoint.port, method, path, headers, agent });
}

/** Runs the bench against a fresh server started from `binPath`; prints and returns the two phases. */
export async function runMemoryBench(binPath: string): Promise<{ put: Phase; get: Phase }> {
  const credentials: SigV4Credentials = { accessKey: 'benchmemory', secretKey: randomBytes(24).toString('hex'), region: 'us-east-1' };
  const server = await startServer({ binPath, accessKey: credentials.accessKey, secretKey: credentials.secretKey, dataDirParent: undefined });
  const agent = new Agent({ keepAlive: true, ca: server.ca });
  try {
    await new Promise<void>((resolve, reject) => {
      send(server.endpoint, agent, credentials, 'PUT', '/memory', 0).on('response', (res) => { res.resume(); res.on('end', resolve); }).on('error', reject).end();
    });
    const seed = randomBytes(chunkBytes);
    const put = await measure(server.pid, () => new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      const req = send(server.endpoint, agent, credentials, 'PUT', '/memory/big', memoryBenchObjectBytes);
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(hash.digest('hex')) : reject(new Error(`PUT: HTTP ${res.statusCode}`))));
      }).on('error', reject);
      (async () => {
        for (const chunk of body(memoryBenchObjectBytes, seed)) {
          hash.update(chunk);
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(reject);
    }));
    const get = await measure(server.pid, () => new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      send(server.endpoint, agent, credentials, 'GET', '/memory/big').on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET: HTTP ${res.statusCode}`));
        res.on('data', (chunk: Buffer) => hash.update(chunk));
        res.on('end', () => resolve(hash.digest('hex')));
        res.on('error', reject);
      }).on('error', reject).end();
    }));
    if (put.sha256 !== get.sha256) throw new Error('GET returned different bytes than were PUT');
    const mbps = (p: Phase) => (memoryBenchObjectBytes / 1e6 / p.seconds).toFixed(0);
    process.stdout.write(
      `| op | object | server peak RSS MiB | MB/s | seconds |\n|---|---|--:|--:|--:|\n` +
      `| PUT | 5 GiB | ${put.peakRssMiB.toFixed(0)} | ${mbps(put)} | ${put.seconds.toFixed(1)} |\n` +
      `| GET | 5 GiB | ${get.peakRssMiB.toFixed(0)} | ${mbps(get)} | ${get.seconds.toFixed(1)} |\n` +
      `SHA-256 of the bytes sent and received: equal (${get.sha256.slice(0, 16)}…)\n`,
    );
    return { put, get };
  } finally {
    agent.destroy();
    await server.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const repoRoot = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
  runMemoryBench(join(repoRoot, 'bin', 's3d')).catch((err: unknown) => {
    process.stderr.write(`bench-memory: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
