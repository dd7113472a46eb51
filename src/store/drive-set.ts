// The drives of one node's erasure set. Each drive directory carries DRIVE/drive.json with its
// id; the set's format (drive ids in order, data and parity shard counts) is DATA/format.json,
// written once at the first start. Drives are recognised by id, not path, so a drive mounted
// elsewhere is found; a directory without drive.json (empty or replaced) or with an id from
// another set is offline and never used.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file.js';
import { errorCodeOf, TesseraError } from '../util/errors.js';
import { drivesMax } from '../util/limits.js';
import { LocalShardStore } from './local-shard-store.js';
import type { ShardStore, ShardStoreSet } from './shard-store.js';

/** DATA/format.json: the erasure set as formatted at first start. */
export interface SetFormat {
  formatVersion: 1;
  /** Drive ids in set order; shard placement rotates over this list. */
  drives: string[];
  dataShards: number;
  parityShards: number;
}

interface DriveFile {
  formatVersion: 1;
  driveId: string;
}

/**
 * Parity shards for `drives` drives when none is configured (MinIO's defaults as reference):
 * 1 drive 0; 2-3 drives 1; 4-5 drives 2; 6-7 drives 3; 8 or more 4.
 */
export function defaultParityShards(drives: number): number {
  if (drives <= 1) return 0;
  if (drives <= 3) return 1;
  if (drives <= 5) return 2;
  if (drives <= 7) return 3;
  return 4;
}

/** A drive of the set as found at start-up. */
export interface DriveState {
  driveId: string;
  path: string | undefined;
  store: ShardStore | undefined;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (errorCodeOf(err) === 'ENOENT') return undefined;
    throw new TesseraError('InvalidDrive', `${path} is unreadable or not JSON: ${(err as Error).message}`);
  }
}

async function isEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length === 0;
  } catch (err) {
    if (errorCodeOf(err) === 'ENOENT') return true;
    throw err;
  }
}

/** The node's drives, opened. */
export class DriveSet implements ShardStoreSet {
  private constructor(
    readonly format: SetFormat,
    private readonly byId: ReadonlyMap<string, DriveState>,
  ) {}

  /**
   * Opens the drives at `paths` against DATA/format.json, formatting them on the first start
   * (each must then be empty or absent). `parityShards` undefined = defaultParityShards.
   * Throws InvalidConfig (bad drive list, parity, a non-empty unformatted drive at first start,
   * a parity different from the format's), InvalidDrive (unreadable id files).
   */
  static async open(dataDir: string, paths: readonly string[], parityShards: number | undefined, log: Logger): Promise<DriveSet> {
    const absolute = paths.map((p) => resolve(p));
    if (absolute.length === 0 || absolute.length > drivesMax) {
      throw new TesseraError('InvalidConfig', `config field "drives": need 1 to ${drivesMax} drives (got ${absolute.length})`);
    }
    if (new Set(absolute).size !== absolute.length) throw new TesseraError('InvalidConfig', 'config field "drives": a directory is listed twice');
    const formatPath = join(dataDir, 'format.json');
    let format = await readJson<SetFormat>(formatPath);
    if (!format) {
      format = await DriveSet.formatDrives(absolute, parityShards);
      await writeFileAtomic(formatPath, `${JSON.stringify(format, null, 2)}\n`, 0o644);
      log.info({ drives: absolute, dataShards: format.dataShards, parityShards: format.parityShards }, 'formatted a new erasure set');
    } else if (parityShards !== undefined && parityShards !== format.parityShards) {
      throw new TesseraError('InvalidConfig', `config field "parityShards": the set was formatted with ${format.parityShards} parity shards (got ${parityShards}); parity is fixed at format time`);
    }
    if (absolute.length !== format.drives.length) {
      throw new TesseraError('InvalidConfig', `config field "drives": the set was formatted with ${format.drives.length} drives, ${absolute.length} are listed`);
    }
    const found = new Map<string, string>();
    for (const path of absolute) {
      const file = await readJson<DriveFile>(join(path, 'drive.json'));
      if (!file) log.warn({ path }, 'drive has no drive.json (empty or replaced): offline until healed');
      else if (!format.drives.includes(file.driveId)) log.warn({ path, driveId: file.driveId }, 'drive belongs to another set: offline');
      else if (found.has(file.driveId)) log.warn({ path, driveId: file.driveId }, 'drive id seen twice: offline');
      else found.set(file.driveId, path);
    }
    const byId = new Map<string, DriveState>();
    for (const driveId of format.drives) {
      const path = found.get(driveId);
      const store = path ? await LocalShardStore.open(path) : undefined;
      if (!path) log.warn({ driveId }, 'drive of the set not found: offline');
      byId.set(driveId, { driveId, path, store });
    }
    return new DriveSet(format, byId);
  }

  private static async formatDrives(paths: readonly string[], parityShards: number | undefined): Promise<SetFormat> {
    const parity = parityShards ?? defaultParityShards(paths.length);
    const data = paths.length - parity;
    if (!Number.isInteger(parity) || parity < 0 || data < 1 || parity > data) {
      throw new TesseraError('InvalidConfig', `config field "parityShards": must be 0..${Math.floor(paths.length / 2)} for ${paths.length} drives (got ${parity})`);
    }
    const drives: string[] = [];
    for (const path of paths) {
      if (await readJson<DriveFile>(join(path, 'drive.json'))) {
        throw new TesseraError('InvalidConfig', `config field "drives": ${path} already belongs to a set, but ${'DATA/format.json'} is missing; refusing to reformat it`);
      }
      if (!(await isEmptyDir(path))) throw new TesseraError('InvalidConfig', `config field "drives": ${path} is not empty; a new drive must be empty`);
      await mkdir(path, { recursive: true });
      const driveId = randomUUID();
      await writeFileAtomic(join(path, 'drive.json'), `${JSON.stringify({ formatVersion: 1, driveId } satisfies DriveFile, null, 2)}\n`, 0o644);
      drives.push(driveId);
    }
    return { formatVersion: 1, drives, dataShards: data, parityShards: parity };
  }

  /** The store of drive `driveId`, or undefined when it is offline. */
  store(driveId: string): ShardStore | undefined {
    return this.byId.get(driveId)?.store;
  }

  /** Every drive of the set, in format order. */
  drives(): DriveState[] {
    return [...this.byId.values()];
  }

  /**
   * Drive ids for shards 0..k+m-1 of a new data item: the set's order rotated by a hash of
   * `dataId`, so shard files spread evenly over the drives.
   */
  placement(dataId: string, _placementKey?: string): string[] {
    const ids = this.format.drives;
    const start = Number.parseInt(dataId.slice(0, 8), 16) % ids.length;
    return ids.map((_, i) => ids[(start + i) % ids.length]!);
  }

  localStores(): ShardStore[] {
    return this.drives().flatMap((d) => (d.store ? [d.store] : []));
  }

  async close(): Promise<void> {
    await Promise.all(this.drives().map((d) => d.store?.close()));
  }
}
