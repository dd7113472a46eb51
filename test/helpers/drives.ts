// Drive directories for e2e tests of an erasure-coded `s3d server --drives ...`: making them, finding
// the shard files in them (DRIVE/shards/<2 chars>/<dataId>.<shardIndex>), and damaging them on purpose.
// Shard file format (one record per stripe): [8-byte XXH3-64 of the block][shard block].
import { randomInt } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bitrotHash } from '../../src/erasure/bitrot.js';
import { makeTempDir } from './server.js';

/** Bytes of the per-block XXH3-64 hash in front of every shard block. */
export const blockHashBytes = 8;

export interface DriveSet {
  /** Temp dir holding the drives (removed at process exit, or with removeTempDir). */
  root: string;
  /** Absolute drive paths, d1..dN under root. */
  paths: string[];
}

/** Makes `count` empty drive dirs d1..dN under a fresh temp dir. */
export function makeDrives(count: number, prefix = 'drives'): DriveSet {
  const root = makeTempDir(prefix);
  const paths = Array.from({ length: count }, (_, i) => join(root, `d${i + 1}`));
  for (const path of paths) mkdirSync(path);
  return { root, paths };
}

/** `--drives P1,...,Pn --parity M` */
export function drivesArgs(paths: readonly string[], parityShards: number): string[] {
  return ['--drives', paths.join(','), '--parity', String(parityShards)];
}

export interface ShardFile {
  drive: string;
  path: string;
  dataId: string;
  shardIndex: number;
  sizeBytes: number;
}

const shardFileName = /^([0-9A-Za-z_-]+)\.(\d+)$/;

/** Every shard file under DRIVE/shards/<fan-out>/ of each drive (missing drives are skipped), sorted by path. */
export function listShardFiles(drives: readonly string[]): ShardFile[] {
  const out: ShardFile[] = [];
  for (const drive of drives) {
    const shardsDir = join(drive, 'shards');
    if (!existsSync(shardsDir)) continue;
    for (const fanOut of readdirSync(shardsDir, { withFileTypes: true })) {
      if (!fanOut.isDirectory()) continue;
      for (const entry of readdirSync(join(shardsDir, fanOut.name), { withFileTypes: true })) {
        const match = shardFileName.exec(entry.name);
        if (!entry.isFile() || match === null) continue;
        const path = join(shardsDir, fanOut.name, entry.name);
        out.push({ drive, path, dataId: match[1]!, shardIndex: Number(match[2]), sizeBytes: statSync(path).size });
      }
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Shard files grouped by data id. */
export function shardsByDataId(files: readonly ShardFile[]): Map<string, ShardFile[]> {
  const groups = new Map<string, ShardFile[]>();
  for (const file of files) {
    const group = groups.get(file.dataId) ?? [];
    group.push(file);
    groups.set(file.dataId, group);
  }
  for (const group of groups.values()) group.sort((a, b) => a.shardIndex - b.shardIndex);
  return groups;
}

/** Data ids that appear in `after` but not in `before`. */
export function newDataIds(before: readonly ShardFile[], after: readonly ShardFile[]): string[] {
  const known = new Set(before.map((f) => f.dataId));
  return [...new Set(after.map((f) => f.dataId).filter((id) => !known.has(id)))].sort();
}

export interface ShardRecord {
  /** Offset of the record (its 8-byte hash) in the shard file. */
  offset: number;
  /** Record length: hash + block. */
  lengthBytes: number;
}

/**
 * The records of a shard file of `sizeBytes`, given the full-stripe shard block size (stripe bytes /
 * data shards): full records back to back, then one shorter last record if bytes remain.
 */
export function shardRecords(sizeBytes: number, shardBlockBytes: number): ShardRecord[] {
  const full = blockHashBytes + shardBlockBytes;
  const records: ShardRecord[] = [];
  let offset = 0;
  while (offset < sizeBytes) {
    const lengthBytes = Math.min(full, sizeBytes - offset);
    records.push({ offset, lengthBytes });
    offset += lengthBytes;
  }
  return records;
}

/**
 * Indices of the records of `file` whose block does not match its XXH3-64 hash (empty: the whole
 * shard verifies). Uses the server's own hash (call initBitrot() first).
 */
export function badRecords(file: ShardFile, shardBlockBytes: number): number[] {
  const bytes = readFileSync(file.path);
  return shardRecords(bytes.length, shardBlockBytes).flatMap((record, index) => {
    const block = bytes.subarray(record.offset + blockHashBytes, record.offset + record.lengthBytes);
    return bitrotHash(block).equals(bytes.subarray(record.offset, record.offset + blockHashBytes)) ? [] : [index];
  });
}

/** Where a byte was flipped, for messages. */
export interface Flip {
  path: string;
  shardIndex: number;
  stripe: number;
  offset: number;
  inHash: boolean;
}

/**
 * XORs 1..3 random bytes of record `stripe` with non-zero masks, either inside its 8-byte hash or inside
 * the block after it (positional writes; the file keeps its length). Returns where.
 */
export function flipBytesInRecord(file: ShardFile, shardBlockBytes: number, stripe: number, inHash: boolean): Flip[] {
  const record = shardRecords(file.sizeBytes, shardBlockBytes)[stripe];
  if (record === undefined) throw new Error(`${file.path}: no record ${stripe} (size ${file.sizeBytes})`);
  const fd = openSync(file.path, 'r+');
  try {
    const flips: Flip[] = [];
    const offsets = new Set<number>();
    // A short last stripe can leave a block of 1 or 2 bytes: never ask for more offsets than exist.
    const positions = inHash ? blockHashBytes : record.lengthBytes - blockHashBytes;
    const count = Math.min(randomInt(1, 4), positions);
    while (offsets.size < count) {
      offsets.add(inHash ? record.offset + randomInt(0, blockHashBytes) : record.offset + blockHashBytes + randomInt(0, record.lengthBytes - blockHashBytes));
    }
    const one = Buffer.alloc(1);
    for (const offset of offsets) {
      readSync(fd, one, 0, 1, offset);
      one[0] = one[0]! ^ randomInt(1, 256);
      writeSync(fd, one, 0, 1, offset);
      flips.push({ path: file.path, shardIndex: file.shardIndex, stripe, offset, inHash });
    }
    return flips;
  } finally {
    closeSync(fd);
  }
}

/** Copies of files' current bytes, to put back after a test damaged them. */
export class FileBackup {
  private readonly saved = new Map<string, Buffer>();

  save(path: string): void {
    if (!this.saved.has(path)) this.saved.set(path, readFileSync(path));
  }

  /** Writes every saved file back (recreating its directory if needed). */
  restore(): void {
    for (const [path, bytes] of this.saved) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, bytes);
    }
    this.saved.clear();
  }
}

/** A random sample of `count` distinct items. */
export function sample<T>(items: readonly T[], count: number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}
