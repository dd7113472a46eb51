// The scanner: walks this node's object records and checks that every shard of every object is
// present, with its full size, where the record's placement says. It finds what scrub cannot see
// because there is no file left to read: a drive or node that lost its contents, a shard a write
// never delivered. What it finds goes to the repair queue. In a cluster every record lives on
// k + m nodes; only the first of them that is up scans it, so a healthy cluster checks each
// object once per cycle. A cycle runs every config scanIntervalHours, and now on `s3d admin heal`.
import type { Logger } from 'pino';
import type { DataOwner, ObjectRecord, ScanScope } from '../meta/types.js';
import type { ShardCheck } from '../object/object-layer.js';
import { scanObjectPauseMs, scanPageObjects, scanWaitingMax } from '../util/limits.js';

/** What the scanner needs from the node. */
export interface ScanSource {
  /** This node's records after `after`, in key order, at most `limit` (LmdbMetaStore.scanObjects). */
  records(limit: number, after: DataOwner | undefined, scope: ScanScope | undefined): ObjectRecord[];
  /** True when this node is the one to check `record` (single node: always). */
  responsible(record: ObjectRecord): boolean;
  /** Checks and queues one record's shards (ObjectLayer.checkShards). */
  check(record: ObjectRecord): Promise<ShardCheck>;
}

/** One cycle's counts; objects = records walked, checked = those this node was responsible for. */
export interface ScanCycle {
  /** Undefined: every bucket. */
  scope: ScanScope | undefined;
  objects: number;
  checked: number;
  shards: number;
  /** Shards found absent or short and queued for repair. */
  queued: number;
  /** Shards on drives or nodes that did not answer (not queued). */
  unreachable: number;
  /** Records whose check failed for another reason (logged; next cycle retries). */
  failed: number;
  startedMs: number;
  /** 0 while the cycle runs. */
  finishedMs: number;
}

/**
 * Background scanner: start() once, heal() for a cycle now, stop() before closing. Throttled:
 * scanObjectPauseMs after each checked record, records read scanPageObjects at a time (one LMDB
 * read snapshot per page). A cycle is resumable only in the sense that the next one starts over:
 * it holds no state worth keeping across a restart.
 */
export class Scanner {
  private timer: NodeJS.Timeout | undefined;
  private last: ScanCycle | undefined;
  private current: ScanCycle | undefined;
  private running: Promise<void> | undefined;
  /** Scopes asked for while a cycle runs; `null` = a full cycle. Run one after the other. */
  private readonly waiting: Array<ScanScope | null> = [];
  private stopped = false;

  constructor(private readonly source: ScanSource, private readonly log: Logger, private readonly pauseMs = scanObjectPauseMs) {}

  /** A full cycle every `intervalMs` (config scanIntervalHours), the first one interval after start; 0: never. */
  start(intervalMs: number): void {
    if (!(intervalMs > 0)) return;
    this.timer = setInterval(() => this.heal(), intervalMs);
    this.timer.unref();
  }

  /**
   * Asks for a cycle over `scope` (absent: everything) and returns at once. While a cycle runs,
   * the request waits for it; a request equal to one already waiting is dropped, and a full
   * cycle replaces waiting scoped ones. At most one full and `scanWaitingMax` scoped requests wait.
   */
  heal(scope?: ScanScope): void {
    if (this.stopped) return;
    const wanted = scope ?? null;
    if (this.waiting.includes(null)) return;
    if (wanted === null) this.waiting.splice(0, this.waiting.length, null);
    else if (!this.waiting.some((w) => w !== null && w.bucket === wanted.bucket && (w.prefix ?? '') === (wanted.prefix ?? ''))) {
      if (this.waiting.length >= scanWaitingMax) this.waiting.splice(0, this.waiting.length, null);
      else this.waiting.push(wanted);
    }
    this.drain();
  }

  /** The cycle in progress (counts so far), if any. */
  progress(): ScanCycle | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  /** The last finished cycle, if any. */
  lastCycle(): ScanCycle | undefined {
    return this.last;
  }

  /** Runs one cycle over `scope` now (after any running one) and resolves with its counts. */
  async runCycle(scope?: ScanScope): Promise<ScanCycle> {
    await this.running;
    const cycle = await this.cycle(scope);
    this.last = cycle;
    return cycle;
  }

  /** No more cycles; resolves when the record being checked is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.waiting.length = 0;
    await this.running;
  }

  private drain(): void {
    if (this.running !== undefined || this.stopped) return;
    const next = this.waiting.shift();
    if (next === undefined) return;
    this.running = this.cycle(next ?? undefined)
      .then((cycle) => {
        this.last = cycle;
      }, (err: unknown) => this.log.error({ err }, 'scan cycle failed'))
      .finally(() => {
        this.running = undefined;
        this.drain();
      });
  }

  private async cycle(scope: ScanScope | undefined): Promise<ScanCycle> {
    const counts: ScanCycle = { scope, objects: 0, checked: 0, shards: 0, queued: 0, unreachable: 0, failed: 0, startedMs: Date.now(), finishedMs: 0 };
    this.current = counts;
    try {
      let after: DataOwner | undefined;
      for (;;) {
        const page = this.source.records(scanPageObjects, after, scope);
        for (const record of page) {
          if (this.stopped) return { ...counts };
          counts.objects++;
          if (!this.source.responsible(record)) continue;
          counts.checked++;
          try {
            const check = await this.source.check(record);
            counts.shards += check.shards;
            counts.queued += check.queued;
            counts.unreachable += check.unreachable;
          } catch (err) {
            counts.failed++;
            this.log.warn({ err, bucket: record.bucket, key: record.key }, 'scan could not check an object');
          }
          if (this.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.pauseMs));
        }
        if (page.length < scanPageObjects) break;
        const last = page[page.length - 1]!;
        after = { bucket: last.bucket, key: last.key };
      }
      counts.finishedMs = Date.now();
      this.log.info(counts, 'scan cycle finished');
      return { ...counts };
    } finally {
      this.current = undefined;
    }
  }
}
