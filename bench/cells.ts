// The cell plan of one scenario: per object size PUT, GET and MIXED cells at each concurrency, then
// LIST; objects GET, MIXED and LIST read are prepared unmeasured. Each cell samples the server's
// processes, the client's CPU and the rest of the machine's over its measured window, so CPU per GB
// divides CPU and bytes of the same interval.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { gatewaySnapshot, gatewayUse, type GatewaySnapshot } from './gateway-stats.js';
import { BenchClient, LoadError, putObjects, runCell, type CellSpec } from './load.js';
import type { Options } from './options.js';
import { sizeLabel, type BenchOp, type CellReport } from './report.js';
import { cpuBetween, cpuSnapshot, ProcessWatcher, withDescendants, type CpuSnapshot } from './server-process.js';
import type { SigV4Credentials } from './sigv4-sign.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Buckets the bench writes to (created if missing): objects of the PUT/GET/MIXED cells, and LIST's. */
export const benchBucket = 'tessera-bench';
export const listBucket = 'tessera-bench-list';
/**
 * GET reads a set of objects of its size: the PUT cells' objects, topped up to
 * clamp(getSetBytes / size, getSetObjectsMin, getSetObjectsMax) when the PUT cells stored fewer
 * (full run, then --quick). MIXED's pool is the same set, at least mixedPoolPerWorker x concurrency.
 */
export const getSetBytes = 256 * MiB;
export const getSetObjectsMin = 4;
export const getSetObjectsMax = 256;
export const getSetBytesQuick = 32 * MiB;
export const getSetObjectsMinQuick = 2;
export const getSetObjectsMaxQuick = 32;
export const mixedPoolPerWorker = 2;
/**
 * MIXED runs at sizes up to this: its pool must hold more objects than workers (so a DELETE finds a
 * key nobody reads), and 64 x 64 MiB objects would take longer to prepare than the whole bench.
 */
export const mixedSizeBytesMax = 1 * MiB;
/** LIST lists one prefix of this many objects (one ListObjectsV2 page each) of the smallest size; --quick fewer. */
export const listObjectsDefault = 500;
export const listObjectsQuick = 100;
/** Requests in flight while preparing objects for GET, MIXED and LIST (unmeasured). */
export const prepareConcurrency = 16;
/** Verify every byte of one GET in this many; length and per-object prefix are checked on all. */
export const verifyContentEvery = 4;
/** Unmeasured 4 KiB PUT+GET pairs before a scenario's first cell (TLS, JIT, server caches). */
export const warmupOps = 32;
/** Objects this large or larger get a longer warm-up (cellWarmupMs). */
export const largeObjectBytes = 16 * MiB;
/** The least warm-up of a cell of large objects, in ms. */
export const largeObjectWarmupMs = 3_000;

/** Where a scenario's cells send requests, and the server processes they sample. */
export interface Target {
  /** One: every request goes there; several: request i goes to endpoints[i mod N]. */
  endpoints: URL[];
  ca: Buffer | undefined;
  credentials: SigV4Credentials;
  /** Server processes to sample (one server, or every node; their gateway workers are found below them); empty when unknown. */
  pids: number[];
  /** Data dir of each node (or the one server), for DATA/gateway-workers.json; empty when unknown. */
  dataDirs: string[];
}

/** What one scenario's cells share: the target, the run's key prefix, the cell timing. */
interface CellContext {
  options: Options;
  scenario: string;
  target: Target;
  /** Prefix of every key this scenario writes, unique per run. */
  runId: string;
}

/**
 * Per object size: PUT cells at each concurrency; GET cells over the objects the PUTs stored (topped
 * up when they stored few); MIXED cells over the same objects (sizes up to mixedSizeBytesMax). Then
 * LIST cells over one prefix of listObjects objects in their own bucket.
 */
export async function runCells(options: Options, scenario: string, target: Target): Promise<CellReport[]> {
  const context: CellContext = { options, scenario, target, runId: Date.now().toString(36) };
  await warmUp(target);
  const ops = new Set(options.ops);
  const reports: CellReport[] = [];
  for (const sizeBytes of options.sizes) {
    const payload = randomBytes(sizeBytes);
    const label = sizeLabel(sizeBytes).replace(' ', '');
    const stored: string[] = [];
    const onStored = (key: string): void => {
      if (stored.length < readSetCount(sizeBytes, options.quick, Math.max(...options.concurrency))) stored.push(key);
    };
    for (const concurrency of ops.has('PUT') ? options.concurrency : []) {
      const newKey = (i: number): string => `${context.runId}/${label}/put-c${concurrency}/${i}`;
      reports.push(await measureCell(context, { ...cellSpec(context, 'PUT', sizeBytes, concurrency), newKey, onStored }, payload));
    }
    if (!ops.has('GET') && !(ops.has('MIXED') && sizeBytes <= mixedSizeBytesMax)) continue;
    const readKeys = await readSet(context, sizeBytes, payload, stored);
    for (const concurrency of ops.has('GET') ? options.concurrency : []) {
      reports.push(await measureCell(context, { ...cellSpec(context, 'GET', sizeBytes, concurrency), readKeys }, payload));
    }
    if (!ops.has('MIXED') || sizeBytes > mixedSizeBytesMax) continue;
    // One pool for the size's MIXED cells: each leaves in it exactly the objects that exist.
    const pool = [...readKeys];
    for (const concurrency of options.concurrency) {
      const newKey = (i: number): string => `${context.runId}/${label}/mixed-c${concurrency}/${i}`;
      reports.push(await measureCell(context, { ...cellSpec(context, 'MIXED', sizeBytes, concurrency), newKey, readKeys: pool }, payload));
    }
  }
  if (ops.has('LIST')) reports.push(...(await runListCells(context)));
  return reports;
}

/**
 * Warm-up of a cell: objects of largeObjectBytes or more get at least largeObjectWarmupMs (not with
 * --quick). With 64 MiB bodies the socket buffers along the path (client send, server receive, and
 * the nodes' own) are still filling long after 400 ms; bytes handed to a filling socket inside the
 * window counted as moved: measured on 6 nodes over QUIC, PUT 64 MiB c16 read 151 MB/s with a
 * 400 ms warm-up and 3 s window, and 85 MB/s (the steady rate) with 3 s and 6 s.
 */
export function cellWarmupMs(options: Pick<Options, 'warmupMs' | 'quick'>, sizeBytes: number): number {
  return sizeBytes >= largeObjectBytes && !options.quick ? Math.max(options.warmupMs, largeObjectWarmupMs) : options.warmupMs;
}

function cellSpec(context: CellContext, op: BenchOp, sizeBytes: number, concurrency: number): CellSpec {
  const { options } = context;
  return {
    op, bucket: benchBucket, sizeBytes, concurrency, warmupMs: cellWarmupMs(options, sizeBytes), windowMs: options.windowMs,
    newKey: (i) => `${context.runId}/unused/${i}`, readKeys: [], onStored: undefined, verifyContentEvery,
    listPrefix: '', listKeyCount: 0,
  };
}

/**
 * How many objects GET (and MIXED) read at `sizeBytes`: clamp(getSetBytes / size, min, max) of the
 * full run or --quick, and for MIXED sizes at least mixedPoolPerWorker per worker of the largest
 * concurrency, so a DELETE finds a key nobody is reading.
 */
export function readSetCount(sizeBytes: number, quick: boolean, concurrencyMax: number): number {
  const [bytes, min, max] = quick ? [getSetBytesQuick, getSetObjectsMinQuick, getSetObjectsMaxQuick] : [getSetBytes, getSetObjectsMin, getSetObjectsMax];
  const forGet = Math.min(max, Math.max(min, Math.floor(bytes / sizeBytes)));
  return sizeBytes <= mixedSizeBytesMax ? Math.max(forGet, mixedPoolPerWorker * concurrencyMax) : forGet;
}

// The PUT cells' stored objects, topped up with fresh ones (unmeasured) to readSetCount.
async function readSet(context: CellContext, sizeBytes: number, payload: Buffer, stored: readonly string[]): Promise<string[]> {
  const count = readSetCount(sizeBytes, context.options.quick, Math.max(...context.options.concurrency));
  const keys = stored.slice(0, count);
  const label = sizeLabel(sizeBytes).replace(' ', '');
  const extra = Array.from({ length: count - keys.length }, (_, i) => `${context.runId}/${label}/read/${i}`);
  if (extra.length > 0) {
    process.stderr.write(`bench: ${context.scenario}: preparing ${extra.length} objects of ${sizeLabel(sizeBytes)} to read\n`);
    await withClient(context.target, prepareConcurrency, (client) => putObjects(client, benchBucket, extra, payload, prepareConcurrency));
  }
  return [...keys, ...extra];
}

// LIST: listObjects objects of the smallest size under one prefix of the list bucket, listed whole by each request.
async function runListCells(context: CellContext): Promise<CellReport[]> {
  const { options } = context;
  const sizeBytes = Math.min(...options.sizes);
  const payload = randomBytes(sizeBytes);
  const count = options.listObjects;
  const listPrefix = `${context.runId}/list/`;
  process.stderr.write(`bench: ${context.scenario}: preparing ${count} objects of ${sizeLabel(sizeBytes)} to list\n`);
  const keys = Array.from({ length: count }, (_, i) => `${listPrefix}${String(i).padStart(6, '0')}`);
  await withClient(context.target, prepareConcurrency, async (client) => {
    await client.createBucket(listBucket);
    await putObjects(client, listBucket, keys, payload, prepareConcurrency);
  });
  const reports: CellReport[] = [];
  for (const concurrency of options.concurrency) {
    const spec = { ...cellSpec(context, 'LIST', sizeBytes, concurrency), bucket: listBucket, listPrefix, listKeyCount: count };
    reports.push(await measureCell(context, spec, payload));
  }
  return reports;
}

async function withClient<T>(target: Target, connections: number, use: (client: BenchClient) => Promise<T>): Promise<T> {
  const client = new BenchClient({ endpoints: target.endpoints, credentials: target.credentials, ca: target.ca, connections });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

// Server, client and other CPU are taken over the measured window alone (the bytes' window), peak RSS
// over the whole cell; a cell that failed before its window counts CPU over all of it.
async function measureCell(context: CellContext, spec: CellSpec, payload: Buffer): Promise<CellReport> {
  const { scenario, target } = context;
  process.stderr.write(`bench: ${scenario}: ${spec.op} ${sizeLabel(spec.sizeBytes)} c${spec.concurrency}...`);
  const watcher = target.pids.length === 0 ? undefined : new ProcessWatcher(withDescendants(target.pids));
  let cpuStart = cpuSnapshot(target.pids);
  let cpuEnd: CpuSnapshot | undefined;
  let gatewayStart = gatewaySnapshot(target.dataDirs);
  let gatewayEnd: GatewaySnapshot | undefined;
  let windowStartMs = Date.now();
  let windowMs: number | undefined;
  const onWindow = (edge: 'start' | 'end'): void => {
    if (edge === 'start') {
      cpuStart = cpuSnapshot(target.pids);
      gatewayStart = gatewaySnapshot(target.dataDirs);
      windowStartMs = Date.now();
    } else {
      cpuEnd = cpuSnapshot(target.pids);
      gatewayEnd = gatewaySnapshot(target.dataDirs);
      windowMs = Date.now() - windowStartMs;
    }
  };
  watcher?.start();
  const measurement = await withClient(target, spec.concurrency, (client) => runCell(client, { ...spec, onWindow }, payload));
  const server = watcher?.stop();
  const cpu = cpuBetween(cpuStart, cpuEnd ?? cpuSnapshot(target.pids));
  const gateways = gatewayUse(gatewayStart, gatewayEnd ?? gatewaySnapshot(target.dataDirs));
  const machineBusy = cpu.machineBusySeconds === undefined ? undefined : cpu.machineBusySeconds / (availableParallelism() * ((windowMs ?? Date.now() - windowStartMs) / 1000));
  process.stderr.write(
    measurement.error === undefined
      ? ` ${measurement.ops} ops, ${measurement.megabytesPerSecond.toFixed(1)} MB/s\n`
      : ` FAILED after ${measurement.ops} ops: ${measurement.error.message}\n`,
  );
  const serverCpuSeconds = target.pids.length === 0 ? undefined : cpu.processSeconds;
  return {
    scenario,
    op: spec.op,
    sizeBytes: spec.sizeBytes,
    concurrency: spec.concurrency,
    ...measurement,
    serverProcesses: target.pids.length === 0 ? undefined : target.pids.length,
    serverCpuSeconds,
    serverCpuSecondsPerGB: cpuSecondsPerGB(serverCpuSeconds, measurement.bytes),
    serverPeakRssBytes: server?.peakRssBytes,
    serverPeakRssSumBytes: server?.peakRssSumBytes,
    clientCpuSeconds: cpu.selfSeconds,
    otherCpuSeconds: cpu.otherSeconds,
    machineBusyFraction: machineBusy,
    gatewayProcesses: gateways.length === 0 ? undefined : gateways,
  };
}

/** CPU seconds per GB (10^9 bytes) of object data: `cpuSeconds` / (`bytes` / 10^9); undefined without CPU or bytes. */
export function cpuSecondsPerGB(cpuSeconds: number | undefined, bytes: number): number | undefined {
  return cpuSeconds === undefined || bytes <= 0 ? undefined : cpuSeconds / (bytes / 1e9);
}

// Requests go round-robin over the endpoints, so every node has served (and every TLS session is up) before the first cell.
async function warmUp(target: Target): Promise<void> {
  await withClient(target, 1, async (client) => {
    await client.createBucket(benchBucket);
    const payload = randomBytes(4 * KiB);
    const keys = Array.from({ length: warmupOps }, (_, i) => `warmup/${i}`);
    await putObjects(client, benchBucket, keys, payload, 1);
    const spec: CellSpec = {
      op: 'GET', bucket: benchBucket, sizeBytes: payload.length, concurrency: 1, warmupMs: 0, windowMs: 300,
      newKey: (i) => `warmup/${i}`, readKeys: keys, onStored: undefined, verifyContentEvery: 1, listPrefix: '', listKeyCount: 0,
    };
    const result = await runCell(client, spec, payload);
    if (result.error !== undefined) throw new LoadError(result.error.code, `warm-up GET failed: ${result.error.message}`);
  });
}
