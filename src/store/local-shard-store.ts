// Filesystem ShardStore: committed shards live at ROOT/shards/<2-char fan-out>/<shardId>, writers
// stream into ROOT/tmp and rename into place after fsync, so a shard id never names a torn file.
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { bitrotHashBytes, verifyFramedBlock } from '../erasure/bitrot.js';
import { shardVerifyReadMaxBytes } from '../util/limits.js';
import { ReadHandleCache } from './read-handle-cache.js';
import type { ShardBlocks, ShardStore, ShardWriter } from './shard-store.js';

const shardIdPattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const shardIdLengthMax = 200;

function checkShardId(shardId: string): void {
  if (shardId.length > shardIdLengthMax || !shardIdPattern.test(shardId)) {
    throw new TesseraError('InvalidShardId', `invalid shard id ${JSON.stringify(shardId)}`);
  }
}

function ioError(err: unknown, what: string): TesseraError {
  const code = errorCodeOf(err) ?? 'EIO';
  return new TesseraError('StorageIOError', `${what}: ${code}`, { errno: code }, { cause: err });
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

class LocalShardWriter implements ShardWriter {
  sizeBytes = 0;
  private done = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly tempPath: string,
    private readonly finalDir: string,
    private readonly finalPath: string,
    private readonly ensureDir: (dir: string) => Promise<void>,
    private readonly onReplaced: () => void,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.length - offset);
      offset += bytesWritten;
    }
    this.sizeBytes += chunk.length;
  }

  /** Writes several buffers with one writev call (bitrot hash + block). */
  async writev(chunks: Uint8Array[]): Promise<void> {
    const total = chunks.reduce((sum, c) => sum + c.length, 0);
    const { bytesWritten } = await this.handle.writev(chunks);
    if (bytesWritten !== total) {
      // Short writev is rare (signals, huge buffers): fall back to finishing byte-wise.
      let skip = bytesWritten;
      for (const chunk of chunks) {
        if (skip >= chunk.length) { skip -= chunk.length; continue; }
        const rest = chunk.subarray(skip);
        skip = 0;
        let offset = 0;
        while (offset < rest.length) offset += (await this.handle.write(rest, offset, rest.length - offset)).bytesWritten;
      }
    }
    this.sizeBytes += total;
  }

  async commit(beforeRename?: Promise<unknown>): Promise<void> {
    if (this.done) throw new TesseraError('ShardWriterClosed', 'shard writer already finished');
    this.done = true;
    try {
      await this.handle.sync();
      await this.handle.close();
    } catch (err) {
      await rm(this.tempPath, { force: true }).catch(() => undefined);
      throw ioError(err, `sync shard ${this.finalPath}`);
    }
    try {
      await beforeRename;
    } catch (err) {
      await rm(this.tempPath, { force: true }).catch(() => undefined);
      throw err;
    }
    try {
      await this.ensureDir(this.finalDir);
      await rename(this.tempPath, this.finalPath);
      this.onReplaced();
      await fsyncDirectory(this.finalDir);
    } catch (err) {
      await rm(this.tempPath, { force: true }).catch(() => undefined);
      throw ioError(err, `commit shard ${this.finalPath}`);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

/**
 * ShardStore on one local directory (a drive). Layout: ROOT/shards/ab/<shardId> where 'ab' is
 * the id's first two characters, ROOT/tmp/<random>.tmp for uncommitted writers.
 * Errors: InvalidShardId, ShardNotFound, ShardTruncated, StorageIOError.
 */
export class LocalShardStore implements ShardStore {
  private readonly shardsDir: string;
  private readonly tempDir: string;
  private readonly knownDirs = new Set<string>();
  private readonly readHandles = new ReadHandleCache();

  private constructor(readonly root: string) {
    this.shardsDir = join(root, 'shards');
    this.tempDir = join(root, 'tmp');
  }

  /** Opens (creating when needed) a store rooted at `root`. */
  static async open(root: string): Promise<LocalShardStore> {
    const store = new LocalShardStore(root);
    await mkdir(store.shardsDir, { recursive: true });
    await mkdir(store.tempDir, { recursive: true });
    return store;
  }

  private pathOf(shardId: string): { dir: string; path: string } {
    checkShardId(shardId);
    const dir = join(this.shardsDir, shardId.slice(0, 2));
    return { dir, path: join(dir, shardId) };
  }

  private readonly ensureDir = async (dir: string): Promise<void> => {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    await fsyncDirectory(this.shardsDir);
    this.knownDirs.add(dir);
  };

  async createWriter(shardId: string): Promise<LocalShardWriter> {
    const { dir, path } = this.pathOf(shardId);
    const tempPath = join(this.tempDir, `${randomBytes(12).toString('hex')}.tmp`);
    try {
      const handle = await open(tempPath, 'wx', 0o600);
      return new LocalShardWriter(handle, tempPath, dir, path, this.ensureDir, () => this.readHandles.invalidate(shardId));
    } catch (err) {
      throw ioError(err, `create shard ${shardId}`);
    }
  }

  /** Opens a committed shard for reading. Throws ShardNotFound, StorageIOError. */
  private async openShard(shardId: string): Promise<FileHandle> {
    const { path } = this.pathOf(shardId);
    try {
      return await open(path, 'r');
    } catch (err) {
      if (errorCodeOf(err) === 'ENOENT') {
        throw new TesseraError('ShardNotFound', `shard ${shardId} not found`, { shardId });
      }
      throw ioError(err, `open shard ${shardId}`);
    }
  }

  /** Reads through a cached open handle (ReadHandleCache): one positional read, no open or close. */
  async readRange(shardId: string, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const lent = await this.readHandles.lend(shardId, () => this.openShard(shardId));
    try {
      const buffer = Buffer.allocUnsafe(lengthBytes);
      await readFully(lent.handle, buffer, lengthBytes, offsetBytes, shardId);
      return buffer;
    } finally {
      lent.release();
    }
  }

  /** Reads the file front to back, whole blocks at a time (up to shardVerifyReadMaxBytes). */
  async verifyBlocks(shardId: string, blocks: ShardBlocks): Promise<void> {
    if (blocks.count === 0) return;
    const framedBytes = bitrotHashBytes + blocks.blockBytes;
    const perRead = Math.max(1, Math.floor(shardVerifyReadMaxBytes / framedBytes));
    const handle = await this.openShard(shardId);
    try {
      const buffer = Buffer.allocUnsafe(Math.min(perRead, blocks.count) * framedBytes);
      for (let first = 0; first < blocks.count; first += perRead) {
        const last = Math.min(first + perRead, blocks.count) - 1;
        const lengthBytes = (last - first) * framedBytes + bitrotHashBytes + (last === blocks.count - 1 ? blocks.lastBlockBytes : blocks.blockBytes);
        await readFully(handle, buffer, lengthBytes, first * framedBytes, shardId);
        for (let index = first; index <= last; index++) {
          const at = (index - first) * framedBytes;
          const length = bitrotHashBytes + (index === blocks.count - 1 ? blocks.lastBlockBytes : blocks.blockBytes);
          verifyFramedBlock(buffer.subarray(at, at + length), shardId, index);
        }
      }
    } finally {
      await handle.close();
    }
  }

  async stat(shardId: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const info = await stat(this.pathOf(shardId).path);
      return { sizeBytes: info.size };
    } catch (err) {
      if (errorCodeOf(err) === 'ENOENT') return undefined;
      throw ioError(err, `stat shard ${shardId}`);
    }
  }

  async delete(shardId: string): Promise<void> {
    try {
      const { path } = this.pathOf(shardId);
      this.readHandles.invalidate(shardId);
      await unlink(path);
    } catch (err) {
      if (errorCodeOf(err) !== 'ENOENT') throw ioError(err, `delete shard ${shardId}`);
    }
  }

  /** In byte order: fan-out directories sorted, then each one's names sorted (one directory's names in memory at a time). */
  async *list(after?: string): AsyncIterable<string> {
    const fanouts = (await readdir(this.shardsDir)).sort(compareBytes);
    for (const fanout of fanouts) {
      if (after !== undefined && compareBytes(fanout, after.slice(0, fanout.length)) < 0) continue;
      const entries = await readdir(join(this.shardsDir, fanout), { withFileTypes: true });
      const names = entries.filter((e) => e.isFile()).map((e) => e.name).sort(compareBytes);
      for (const name of names) if (after === undefined || compareBytes(name, after) > 0) yield name;
    }
  }

  async cleanTemp(): Promise<number> {
    const names = await readdir(this.tempDir);
    await Promise.all(names.map((name) => rm(join(this.tempDir, name), { force: true })));
    return names.length;
  }

  async close(): Promise<void> {
    await this.readHandles.close();
  }
}

/** Fills buffer[0, lengthBytes) from `offsetBytes` of the file. Throws ShardTruncated, StorageIOError. */
async function readFully(handle: FileHandle, buffer: Buffer, lengthBytes: number, offsetBytes: number, shardId: string): Promise<void> {
  let filled = 0;
  while (filled < lengthBytes) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, filled, lengthBytes - filled, offsetBytes + filled));
    } catch (err) {
      throw ioError(err, `read shard ${shardId}`);
    }
    if (bytesRead === 0) {
      throw new TesseraError('ShardTruncated', `shard ${shardId} ends before byte ${offsetBytes + lengthBytes}`, { shardId });
    }
    filled += bytesRead;
  }
}

/** Byte order of ASCII shard ids (JS string order equals byte order for them). */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
