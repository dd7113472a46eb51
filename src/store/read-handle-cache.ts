// Open read handles of committed shard files, so a read of a shard costs one positional read
// instead of open + read + close (a GET reads each shard once per window, a rebuild k shards).
// The LocalShardStore that owns a drive invalidates the entry when it replaces or deletes a file;
// a file unlinked or renamed over by anyone else is caught before each read by an fstat of the
// handle (no links left: the name no longer leads to it), so a cached handle never serves a shard
// id whose file is gone or changed. At most readHandlesMax handles stay open; one unused for
// readHandleIdleMs is closed.
import { fstatSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { readHandleIdleMs, readHandlesMax } from '../util/limits.js';

interface Entry {
  opening: Promise<FileHandle>;
  handle: FileHandle | undefined;
  /** Reads holding the handle now. */
  refs: number;
  lastUsedMs: number;
  /** Invalidated or evicted: closed once its last read releases it, never handed out again. */
  retired: boolean;
}

/** A handle lent to one read; release() exactly once when the read is done. */
export interface LentHandle {
  handle: FileHandle;
  release(): void;
}

/** Open read handles by shard id, shared by concurrent reads, bounded by readHandlesMax. */
export class ReadHandleCache {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly maxHandles = readHandlesMax, private readonly idleMs = readHandleIdleMs) {
    this.timer = setInterval(() => this.closeIdle(), Math.max(1, Math.floor(idleMs / 2)));
    this.timer.unref();
  }

  /** The open handle of `shardId`, opened with `open` when there is none. Rejects with `open`'s error. */
  async lend(shardId: string, open: () => Promise<FileHandle>): Promise<LentHandle> {
    let entry = this.entries.get(shardId);
    if (entry?.handle !== undefined && !linked(entry.handle)) {
      this.retire(shardId, entry);
      entry = undefined;
    }
    if (entry === undefined) {
      const created: Entry = { opening: open(), handle: undefined, refs: 0, lastUsedMs: Date.now(), retired: false };
      entry = created;
      this.entries.set(shardId, created);
      created.opening.then(
        (handle) => {
          created.handle = handle;
          if (created.retired && created.refs === 0) void handle.close().catch(() => undefined);
        },
        () => this.forget(shardId, created),
      );
      this.evict();
    }
    const lent = entry;
    lent.refs++;
    lent.lastUsedMs = Date.now();
    let handle: FileHandle;
    try {
      handle = await lent.opening;
    } catch (err) {
      lent.refs--;
      throw err;
    }
    let released = false;
    return {
      handle,
      release: () => {
        if (released) return;
        released = true;
        lent.refs--;
        if (lent.retired && lent.refs === 0) void handle.close().catch(() => undefined);
      },
    };
  }

  /** The file of `shardId` was replaced or deleted: its handle is closed once no read holds it. */
  invalidate(shardId: string): void {
    const entry = this.entries.get(shardId);
    if (entry !== undefined) this.retire(shardId, entry);
  }

  /** Closes every handle no read holds; later reads open again. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const [shardId, entry] of [...this.entries]) this.retire(shardId, entry);
  }

  private retire(shardId: string, entry: Entry): void {
    this.forget(shardId, entry);
    entry.retired = true;
    if (entry.refs === 0 && entry.handle !== undefined) void entry.handle.close().catch(() => undefined);
  }

  private forget(shardId: string, entry: Entry): void {
    if (this.entries.get(shardId) === entry) this.entries.delete(shardId);
  }

  /** Past maxHandles: retires the least recently used entries (their reads finish first). */
  private evict(): void {
    if (this.entries.size <= this.maxHandles) return;
    const byAge = [...this.entries].sort((a, b) => a[1].lastUsedMs - b[1].lastUsedMs);
    for (const [shardId, entry] of byAge.slice(0, this.entries.size - this.maxHandles)) this.retire(shardId, entry);
  }

  private closeIdle(): void {
    const before = Date.now() - this.idleMs;
    for (const [shardId, entry] of [...this.entries]) if (entry.refs === 0 && entry.lastUsedMs < before) this.retire(shardId, entry);
  }

  /** Handles open or opening now (for tests). */
  get size(): number {
    return this.entries.size;
  }
}

/** False when the handle's file has no name left (unlinked, or renamed over): fstat, a few µs, no I/O. */
function linked(handle: FileHandle): boolean {
  try {
    return fstatSync(handle.fd).nlink > 0;
  } catch {
    return false;
  }
}
