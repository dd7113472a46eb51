// The metadata store's health: every LMDB commit runs through one MetaWriteGuard, which turns a
// failed commit (a full or failing disk) into a typed error, tracks whether the store is ok, full
// or failing, logs a warning when that starts and when it clears, and bounds how long a commit may
// hang. lmdb-js reports commit failures in two ways: a queued transaction rejects with
// "Commit failed (see commitError for details)" whose `commitError` promise rejects with the native
// error (`code` = errno, e.g. 28 ENOSPC, or 5 EIO for LMDB's short write on a full filesystem);
// a write that fails inside the transaction (mdb_page_spill, mdb_put) throws an Error with a
// numeric `code` (errno, or an MDB_* code between -30800 and -30700).
import { statfs } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { metaStoreLowFreeBytes, metaStoreProbeIntervalMs, metaStoreRecoveryQuietMs, metaWriteStallMs } from '../util/limits.js';

/**
 * True when `err` is MetadataStoreFull or MetadataStoreFailed (mapped to S3 in s3/errors.ts): the
 * metadata store cannot commit now; retry later, not a bug.
 */
export function isMetaStoreUnavailable(err: unknown): err is TesseraError {
  return isTesseraError(err, 'MetadataStoreFull', 'MetadataStoreFailed');
}

/** ok: commits succeed; full: out of disk space; failing: another I/O error, or a stalled commit. */
export type MetaStoreState = 'ok' | 'full' | 'failing';

/** The store's health as `s3d admin status` reports it (msgpack: absent fields stay absent). */
export interface MetaStoreHealth {
  state: MetaStoreState;
  /** When the current full/failing episode started (ms since the Unix epoch). */
  sinceMs?: number;
  /** Commits that failed in the current episode. */
  failedWrites?: number;
  /** The last failure, e.g. 'ENOSPC', 'EIO', 'commit stalled for 30000 ms'. */
  error?: string;
  /** Bytes free for unprivileged writers on the store's filesystem at the last failure. */
  freeBytes?: number;
}

/** LMDB's MDB_MAP_FULL (lmdb.h): the map cannot grow; a full store as far as writers can tell. */
const mdbMapFull = -30792;
const fullErrnos: ReadonlySet<number> = new Set([constants.errno.ENOSPC, constants.errno.EDQUOT, constants.errno.EFBIG, mdbMapFull]);

export interface MetaWriteGuardOptions {
  /** The store's directory (its filesystem is the one checked for free space). */
  path: string;
  log?: Logger;
  /** A tiny commit run every metaStoreProbeIntervalMs while not ok, through run(). */
  probe: () => Promise<void>;
  /** Free bytes for unprivileged writers at `path`; default statfs. Tests inject their own. */
  freeBytes?: (path: string) => Promise<number | undefined>;
  /** Default metaWriteStallMs. */
  stallMs?: number;
}

/** One commit failure as the guard classifies it. */
interface Failure {
  state: 'full' | 'failing';
  error: string;
  freeBytes?: number;
}

/** Guards every commit of one store: typed errors, health, stall bound. close() stops its timer. */
export class MetaWriteGuard {
  private state: MetaStoreState = 'ok';
  private sinceMs = 0;
  private lastFailureMs = 0;
  private failedWrites = 0;
  private lastError = '';
  private freeBytes: number | undefined;
  /** Commits still running past the stall bound; while any is, new writes are refused at once. */
  private stalled = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  private readonly stallMs: number;
  private readonly freeBytesOf: (path: string) => Promise<number | undefined>;

  constructor(private readonly options: MetaWriteGuardOptions) {
    this.stallMs = options.stallMs ?? metaWriteStallMs;
    this.freeBytesOf = options.freeBytes ?? availableBytes;
  }

  /**
   * Runs one commit. Resolves with its result; rejects with the action's own errors unchanged,
   * with MetadataStoreFull (out of space: ENOSPC, EDQUOT, EFBIG, MDB_MAP_FULL, or EIO while the
   * filesystem has less than metaStoreLowFreeBytes free) or MetadataStoreFailed (any other LMDB
   * error, or the commit did not settle within the stall bound; then later writes fail at once
   * until it settles). A failed commit changed nothing: LMDB aborts the whole transaction.
   * `unbounded` lifts the stall bound for a commit known to be long (a one-time index backfill).
   */
  async run<T>(commit: () => Promise<T>, options: { unbounded?: boolean } = {}): Promise<T> {
    if (this.stalled > 0) {
      throw new TesseraError('MetadataStoreFailed', `a metadata commit has not finished for over ${this.stallMs} ms; writes are refused until it does`);
    }
    const settled = commit();
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<'stalled'>((resolve) => {
      if (options.unbounded) return;
      timer = setTimeout(() => resolve('stalled'), this.stallMs);
      timer.unref();
    });
    let outcome: { value: T } | 'stalled';
    try {
      outcome = await Promise.race([settled.then((value) => ({ value })), stall]);
    } catch (err) {
      throw await this.failed(err);
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'stalled') throw this.stalledCommit(settled);
    this.succeeded();
    return outcome.value;
  }

  /** The store's health now. */
  health(): MetaStoreHealth {
    if (this.state === 'ok') return { state: 'ok' };
    return {
      state: this.state, sinceMs: this.sinceMs, failedWrites: this.failedWrites, error: this.lastError,
      ...(this.freeBytes !== undefined ? { freeBytes: this.freeBytes } : {}),
    };
  }

  /** Stops the probe timer; later failures are still classified, but no probe runs. */
  close(): void {
    this.closed = true;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  private succeeded(): void {
    if (this.state === 'ok' || this.stalled > 0 || Date.now() - this.lastFailureMs < metaStoreRecoveryQuietMs) return;
    this.options.log?.warn({ state: 'ok', was: this.state, downMs: Date.now() - this.sinceMs, failedWrites: this.failedWrites, path: this.options.path }, 'metadata store commits again: writes are accepted');
    this.state = 'ok';
    this.failedWrites = 0;
    this.lastError = '';
    this.freeBytes = undefined;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  /** The error to throw for `err`: a typed one for a storage failure (recorded), else `err` itself. */
  private async failed(err: unknown): Promise<unknown> {
    const failure = await this.classify(err);
    if (failure === undefined) return err;
    this.record(failure);
    return failure.state === 'full'
      ? new TesseraError('MetadataStoreFull', 'The metadata store is out of disk space.', {}, { cause: err })
      : new TesseraError('MetadataStoreFailed', `The metadata store could not commit (${failure.error}).`, {}, { cause: err });
  }

  /** A commit past the stall bound: refuse writes until it settles, then count its outcome. */
  private stalledCommit(settled: Promise<unknown>): TesseraError {
    this.stalled++;
    this.record({ state: 'failing', error: `commit stalled for ${this.stallMs} ms` });
    void settled.then(
      () => {
        this.stalled--;
        this.succeeded();
      },
      async (err: unknown) => {
        this.stalled--;
        await this.failed(err);
      },
    );
    return new TesseraError('MetadataStoreFailed', `a metadata commit did not finish within ${this.stallMs} ms`);
  }

  private record(failure: Failure): void {
    const now = Date.now();
    this.lastFailureMs = now;
    this.lastError = failure.error;
    if (failure.freeBytes !== undefined) this.freeBytes = failure.freeBytes;
    if (this.state === failure.state) {
      this.failedWrites++;
      return;
    }
    const was = this.state;
    if (was === 'ok') {
      this.sinceMs = now;
      this.failedWrites = 0;
    }
    this.failedWrites++;
    this.state = failure.state;
    const message = failure.state === 'full'
      ? 'metadata store full: writes fail (MetadataStoreFull) until space is freed on its filesystem; reads go on'
      : 'metadata store failing: writes fail (MetadataStoreFailed) until its commits succeed again; reads go on';
    this.options.log?.warn({ state: failure.state, was, error: failure.error, freeBytes: failure.freeBytes, path: this.options.path }, message);
    this.startProbe();
  }

  private startProbe(): void {
    if (this.probeTimer !== undefined || this.closed) return;
    this.probeTimer = setInterval(() => {
      if (this.probing || this.closed) return;
      this.probing = true;
      this.options.probe().catch(() => undefined).finally(() => {
        this.probing = false;
      });
    }, metaStoreProbeIntervalMs);
    this.probeTimer.unref();
  }

  /** Full or failing for an LMDB storage error; undefined for anything else (the action's own errors). */
  private async classify(err: unknown): Promise<Failure | undefined> {
    const errno = await lmdbErrno(err);
    if (errno === undefined) return undefined;
    const name = errno === null ? 'commit failed' : errnoName(errno);
    if (errno !== null && fullErrnos.has(errno)) return { state: 'full', error: name, ...(await this.free()) };
    const free = await this.free();
    const lowOnSpace = free.freeBytes !== undefined && free.freeBytes < metaStoreLowFreeBytes;
    if (errno === constants.errno.EIO && lowOnSpace) return { state: 'full', error: name, ...free };
    return { state: 'failing', error: name, ...free };
  }

  private async free(): Promise<{ freeBytes?: number }> {
    const freeBytes = await this.freeBytesOf(this.options.path).catch(() => undefined);
    return freeBytes === undefined ? {} : { freeBytes };
  }
}

/**
 * The native error code of an LMDB failure: the errno (or MDB_* code) of a failed commit or write,
 * null for a failed commit whose cause lmdb-js did not report, undefined for any other error.
 * Marks lmdb-js's `commitError` promise as handled (otherwise it is an unhandled rejection).
 */
async function lmdbErrno(err: unknown): Promise<number | null | undefined> {
  if (!(err instanceof Error) || err instanceof TesseraError) return undefined;
  const { code, commitError } = err as { code?: unknown; commitError?: unknown };
  if (typeof code === 'number') return code;
  if (!isPromiseLike(commitError)) return undefined;
  // lmdb-js rejects commitError in the same callback that fails the transactions, so it has
  // settled by now; a macrotask bounds the wait if it never does.
  const cause = await Promise.race([
    Promise.resolve(commitError).then(() => undefined, (e: unknown) => e),
    new Promise<undefined>((resolve) => setImmediate(resolve, undefined)),
  ]);
  const causeCode = (cause as { code?: unknown } | undefined)?.code;
  return typeof causeCode === 'number' ? causeCode : null;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** 'ENOSPC' for 28, 'MDB_MAP_FULL' for -30792, else 'errno N'. */
function errnoName(errno: number): string {
  if (errno === mdbMapFull) return 'MDB_MAP_FULL';
  const entry = Object.entries(constants.errno).find(([, value]) => value === errno);
  return entry ? entry[0] : `errno ${errno}`;
}

/** Bytes free for unprivileged writers on the filesystem holding `path`. */
async function availableBytes(path: string): Promise<number | undefined> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}
