// The sweep of completed multipart uploads: every completedUploadSweepIntervalMs it removes the
// completion records older than completedUploadKeepMs, then the oldest beyond completedUploadsMax,
// in transactions of completedUploadSweepBatchMax records, so it never holds the writer for long.
import type { Logger } from 'pino';
import type { MetaStore } from '../meta/meta-store.js';
import { BackgroundWorker } from '../util/background-worker.js';
import { completedUploadKeepMs, completedUploadsMax, completedUploadSweepBatchMax, completedUploadSweepIntervalMs } from '../util/limits.js';

/** The sweep's limits (limits.ts by default; tests pass smaller ones). */
export interface SweepLimits {
  keepMs: number;
  keepMax: number;
  batchMax: number;
  intervalMs: number;
}

const defaultLimits: SweepLimits = {
  keepMs: completedUploadKeepMs,
  keepMax: completedUploadsMax,
  batchMax: completedUploadSweepBatchMax,
  intervalMs: completedUploadSweepIntervalMs,
};

/** The completed-upload sweep of this node's metadata: start() after open, stop() before close. */
export class CompletedUploadSweeper extends BackgroundWorker {
  private readonly limits: SweepLimits;

  constructor(
    private readonly meta: Pick<MetaStore, 'expireCompletedUploads'>,
    log: Logger,
    limits: Partial<SweepLimits> = {},
  ) {
    super(log, { failedMessage: 'completed-upload sweep failed' });
    this.limits = { ...defaultLimits, ...limits };
  }

  /** Sweeps now and then every intervalMs; the timer never holds the process open. */
  start(): void {
    this.kick();
    this.runEvery(this.limits.intervalMs);
  }

  /** One sweep: batches until one removes fewer than batchMax. A failure is logged and waits for the next sweep. */
  protected async work(): Promise<void> {
    const { keepMs, keepMax, batchMax } = this.limits;
    let removed = 0;
    try {
      while (!this.isStopped) {
        const batch = await this.meta.expireCompletedUploads(Date.now() - keepMs, keepMax, batchMax);
        removed += batch;
        if (batch < batchMax) break;
      }
    } catch (err) {
      this.log.warn({ err }, 'completed-upload sweep failed');
    }
    if (removed > 0) this.log.debug({ removed }, 'completed uploads expired');
  }
}
