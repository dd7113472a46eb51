// Real s3d processes erasure-coding over six drives (4 data + 2 parity shards; and the default 3+3):
// bitrot in shard files, lost shard files, drives removed or emptied while serving, drives reordered,
// renamed, emptied and swapped for foreign ones across restarts and at run time, gc of shard files,
// and multipart, copy and range reads of degraded objects. Every read is compared by SHA-256 with
// what was uploaded; a read that cannot be served must fail (5xx, or a cut connection), never
// answer 200 with a complete body of other bytes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { awsOk, python3Result } from '../helpers/clients.js';
import {
  FileBackup,
  blockHashBytes,
  drivesArgs,
  flipBytesInRecord,
  listShardFiles,
  makeDrives,
  newDataIds,
  sample,
  shardRecords,
  shardsByDataId,
  type DriveSet,
  type Flip,
  type ShardFile,
} from '../helpers/drives.js';
import { MiB, sha256Hex, writeRandomFile } from '../helpers/files.js';
import { expectS3Error, objectPath, rawRequest } from '../helpers/raw-request.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const KiB = 1024;
const dataShards = 4;
const parityShards = 2;
const driveCount = dataShards + parityShards;
/** Object bytes per stripe (the server's default), so each shard block of a full stripe is 256 KiB. */
const stripeBytes = MiB;
const shardBlockBytes = stripeBytes / dataShards;
/** Objects up to this size live in the metadata, with no shard files. */
const inlineMaxBytes = 128 * KiB;
/** aws cli v1 multipart threshold and part size (defaults). */
const awsPartBytes = 8 * MiB;
/** boto3 upload_file part size in case 5: not a multiple of the stripe, so part and stripe boundaries differ. */
const boto3PartBytes = 5 * MiB + 12_345;
/** How long the background gc may take to delete the shard files of overwritten or deleted data. */
const gcWaitMs = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

interface Expected {
  key: string;
  size: number;
  sha256: string;
}

type GetResult = { status: number; size: number; sha256: string } | { error: string; status?: number; code?: string; message?: string };

/** boto3, no retries (a degraded read must succeed the first time): GET each key, read the body, hash it. */
const getAllScript = `
client = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
bucket, keys = sys.argv[1], json.loads(sys.argv[2])
results = {}
for key in keys:
    try:
        r = client.get_object(Bucket=bucket, Key=key)
        body = r["Body"].read()
        results[key] = {"status": r["ResponseMetadata"]["HTTPStatusCode"], "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    except ClientError as e:
        results[key] = {"error": "ClientError", "status": e.response["ResponseMetadata"].get("HTTPStatusCode"), "code": e.response["Error"].get("Code")}
    except Exception as e:
        results[key] = {"error": type(e).__name__, "message": str(e)[:300]}
out(results)
`;

/** boto3 put_object of random bytes per {key, size}; returns what was stored. */
const putRandomScript = `
bucket, specs = sys.argv[1], json.loads(sys.argv[2])
stored = []
for spec in specs:
    data = os.urandom(spec["size"])
    s3.put_object(Bucket=bucket, Key=spec["key"], Body=data)
    stored.append({"key": spec["key"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
out(stored)
`;

/** boto3 get_object with Range; compares each answer with the same bytes of a local file. */
const rangeReadsScript = `
client = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
bucket, cases = sys.argv[1], json.loads(sys.argv[2])
checked, failures = 0, []
for case in cases:
    with open(case["file"], "rb") as f:
        whole = f.read()
    size = len(whole)
    for rng in case["ranges"]:
        first, last = rng[len("bytes="):].split("-")
        if first == "":
            start, end = max(0, size - int(last)), size - 1
        else:
            start, end = int(first), (size - 1 if last == "" else min(int(last), size - 1))
        try:
            r = client.get_object(Bucket=bucket, Key=case["key"], Range=rng)
            body = r["Body"].read()
            status = r["ResponseMetadata"]["HTTPStatusCode"]
            want = whole[start:end + 1]
            content_range = r.get("ContentRange")
            if status != 206 or body != want or content_range != f"bytes {start}-{end}/{size}":
                failures.append({"key": case["key"], "range": rng, "status": status, "contentRange": content_range, "gotBytes": len(body), "wantBytes": len(want), "sameBytes": body == want})
        except Exception as e:
            failures.append({"key": case["key"], "range": rng, "error": type(e).__name__ + ": " + str(e)[:300]})
        checked += 1
out({"checked": checked, "failures": failures})
`;

/** boto3 upload_file with parts of sys.argv[4] bytes (multipart above 8 MiB). */
const uploadFileScript = `
from boto3.s3.transfer import TransferConfig
bucket, key, path, part = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s3.upload_file(path, bucket, key, Config=TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=part))
head = s3.head_object(Bucket=bucket, Key=key)
out({"etag": head["ETag"], "size": head["ContentLength"]})
`;

/**
 * CopyObject of sys.argv[2] -> sys.argv[4]; then a multipart upload sys.argv[5] of UploadPartCopy
 * (a range of sys.argv[2] crossing its 8 MiB part boundary), UploadPart (random bytes), UploadPartCopy
 * of the whole sys.argv[4], UploadPartCopy of the last 700 KiB + 5 of sys.argv[3]. Writes the expected
 * bytes of the multipart object to sys.argv[8] (sources' local files: sys.argv[6], sys.argv[7]).
 */
const copyScript = `
MiB = 1024 * 1024
bucket, src_a, src_b, copy_key, mpu_key, file_a, file_b, out_file = sys.argv[1:9]
a, b = open(file_a, "rb").read(), open(file_b, "rb").read()
s3.copy_object(Bucket=bucket, Key=copy_key, CopySource={"Bucket": bucket, "Key": src_a})
upload_id = s3.create_multipart_upload(Bucket=bucket, Key=mpu_key)["UploadId"]
r1 = (5 * MiB + 17, 13 * MiB + 140)
mid = os.urandom(5 * MiB + 333)
r4 = (len(b) - 700 * 1024 - 5, len(b) - 1)
parts = []
p = s3.upload_part_copy(Bucket=bucket, Key=mpu_key, UploadId=upload_id, PartNumber=1, CopySource={"Bucket": bucket, "Key": src_a}, CopySourceRange=f"bytes={r1[0]}-{r1[1]}")
parts.append({"PartNumber": 1, "ETag": p["CopyPartResult"]["ETag"]})
p = s3.upload_part(Bucket=bucket, Key=mpu_key, UploadId=upload_id, PartNumber=2, Body=mid)
parts.append({"PartNumber": 2, "ETag": p["ETag"]})
p = s3.upload_part_copy(Bucket=bucket, Key=mpu_key, UploadId=upload_id, PartNumber=3, CopySource={"Bucket": bucket, "Key": copy_key})
parts.append({"PartNumber": 3, "ETag": p["CopyPartResult"]["ETag"]})
p = s3.upload_part_copy(Bucket=bucket, Key=mpu_key, UploadId=upload_id, PartNumber=4, CopySource={"Bucket": bucket, "Key": src_b}, CopySourceRange=f"bytes={r4[0]}-{r4[1]}")
parts.append({"PartNumber": 4, "ETag": p["CopyPartResult"]["ETag"]})
s3.complete_multipart_upload(Bucket=bucket, Key=mpu_key, UploadId=upload_id, MultipartUpload={"Parts": parts})
expected = a[r1[0]:r1[1] + 1] + mid + a + b[r4[0]:r4[1] + 1]
with open(out_file, "wb") as f:
    f.write(expected)
out({"copy": {"size": len(a), "sha256": hashlib.sha256(a).hexdigest()}, "mpu": {"size": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}, "partBytes": [r1[1] - r1[0] + 1, len(mid), len(a), r4[1] - r4[0] + 1]})
`;

async function getAll(server: S3dServer, bucket: string, keys: readonly string[]): Promise<Record<string, GetResult>> {
  return await python3Result<Record<string, GetResult>>(getAllScript, server, [bucket, JSON.stringify(keys)]);
}

/** Every object reads back (boto3, no retries) with status 200 and exactly the uploaded bytes. */
async function expectAllExact(server: S3dServer, bucket: string, objects: readonly Expected[], context: string): Promise<void> {
  const got = await getAll(server, bucket, objects.map((o) => o.key));
  const wrong = objects
    .filter((o) => {
      const r = got[o.key];
      return r === undefined || 'error' in r || r.status !== 200 || r.size !== o.size || r.sha256 !== o.sha256;
    })
    .map((o) => `GET ${bucket}/${o.key} (${o.size} B, sha256 ${o.sha256.slice(0, 12)}): ${JSON.stringify(got[o.key])}`);
  expect(wrong, `${context}: ${wrong.length} of ${objects.length} GETs not exact\n${server.logs().slice(-3000)}`).toEqual([]);
}

type FailedRead = 'error status' | 'cut' | 'short 200';

/**
 * GETs an object that cannot be served (raw https): it must end in a 5xx (S3 error XML when sent before
 * the body), a cut connection, or a 200 with a short body. A complete 200 body fails the test, with a
 * separate message when its bytes differ from the object's.
 */
async function expectReadFails(server: S3dServer, bucket: string, object: Expected): Promise<FailedRead> {
  let res;
  try {
    res = await rawRequest(server, { method: 'GET', path: objectPath(bucket, object.key) });
  } catch {
    return 'cut';
  }
  const what = `GET ${bucket}/${object.key} (${object.size} B) answered ${res.status} with ${res.body.length} bytes`;
  if (res.status >= 500) {
    if (res.headers['content-type'] !== undefined) expectS3Error(res, (s) => s >= 500);
    return 'error status';
  }
  expect(res.status, `${what}; expected a 5xx or a cut connection`).toBe(200);
  expect(res.body.length === object.size && sha256Hex(res.body) !== object.sha256, `${what}: WRONG BYTES served as a complete 200`).toBe(false);
  expect(res.body.length, `${what}: a complete, correct body although too few shards exist`).toBeLessThan(object.size);
  return 'short 200';
}

async function putRandom(server: S3dServer, bucket: string, specs: { key: string; size: number }[]): Promise<Expected[]> {
  return await python3Result<Expected[]>(putRandomScript, server, [bucket, JSON.stringify(specs)]);
}

/** PUT from node (raw, one request) so the caller can diff shard files around it. */
async function putRaw(server: S3dServer, bucket: string, key: string, size: number): Promise<Expected & { data: Buffer }> {
  const data = randomBytes(size);
  const res = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, key), body: data });
  expect(res.status, `PUT ${bucket}/${key} (${size} B): ${res.body.toString()}`).toBe(200);
  return { key, size, sha256: sha256Hex(data), data };
}

/** Uploads one object while recording which data ids (shard file groups) appeared; returns them. */
async function putAttributed(
  server: S3dServer,
  drives: readonly string[],
  bucket: string,
  key: string,
  size: number,
): Promise<{ object: Expected & { data: Buffer }; dataIds: string[] }> {
  const before = listShardFiles(drives);
  const object = await putRaw(server, bucket, key, size);
  return { object, dataIds: newDataIds(before, listShardFiles(drives)) };
}

async function startSixDrives(prefix: string): Promise<{ server: S3dServer; drives: DriveSet }> {
  const drives = makeDrives(driveCount, prefix);
  const server = await startServer({ extraArgs: drivesArgs(drives.paths, parityShards) });
  return { server, drives };
}

async function createBucket(server: S3dServer, bucket: string): Promise<void> {
  const res = await rawRequest(server, { method: 'PUT', path: `/${bucket}` });
  expect(res.status, res.body.toString()).toBe(200);
}

/** The drive holding the most data shards (index < k) of these data ids: removing it forces decoding. */
function driveWithMostDataShards(files: readonly ShardFile[], drives: readonly string[]): string {
  const counts = new Map(drives.map((d) => [d, 0]));
  for (const f of files) if (f.shardIndex < dataShards) counts.set(f.drive, (counts.get(f.drive) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Removes the drives' temp dir and a files dir (either may be unset when beforeAll failed early). */
function removeTempDirs(drives: DriveSet | undefined, filesDir: string | undefined): void {
  if (drives !== undefined) removeTempDir(drives.root);
  if (filesDir !== undefined) removeTempDir(filesDir);
}

function driveJson(drive: string): string {
  return readFileSync(join(drive, 'drive.json'), 'utf8');
}

describe('erasure coding over 6 drives', () => {
  // ---- Server A: corpus of ~30 objects; bitrot, lost shard files, restarts with moved drives ----
  describe('bitrot, lost shards and drive identity', () => {
    const bucket = 'drives-a';
    let server: S3dServer;
    let drives: DriveSet;
    let filesDir: string;
    const corpus: Expected[] = [];
    let inline: Expected;
    let threeLost: { object: Expected & { data: Buffer }; dataIds: string[] };
    let midBody: { object: Expected & { data: Buffer }; dataIds: string[] };

    beforeAll(async () => {
      ({ server, drives } = await startSixDrives('drives-a'));
      await createBucket(server, bucket);
      filesDir = makeTempDir('drives-files');

      // aws s3 sync of a directory (parallel uploads; the 9 MiB + 333 one is multipart).
      const syncDir = join(filesDir, 'sync');
      mkdirSync(syncDir);
      const syncSizes = [300 * KiB, MiB, MiB + 1, 2.5 * MiB, 3 * MiB - 7, 5 * MiB + 12_345, 64 * KiB, 9 * MiB + 333];
      for (const [i, size] of syncSizes.entries()) {
        const sha256 = await writeRandomFile(join(syncDir, `file-${i}.bin`), size);
        corpus.push({ key: `sync/file-${i}.bin`, size, sha256 });
      }
      await awsOk(['s3', 'sync', syncDir, `s3://${bucket}/sync/`], server);

      // aws s3 cp of single files (17 MiB + 5 is multipart).
      for (const [i, size] of [700 * KiB, 4 * MiB, 17 * MiB + 5].entries()) {
        const path = join(filesDir, `cp-${i}.bin`);
        const sha256 = await writeRandomFile(path, size);
        await awsOk(['s3', 'cp', path, `s3://${bucket}/cp/file-${i}.bin`], server);
        corpus.push({ key: `cp/file-${i}.bin`, size, sha256 });
      }

      // boto3 put_object of random bytes, including both sides of the inline limit.
      const specs = [inlineMaxBytes, inlineMaxBytes + 1, 256 * KiB, MiB - 1, 2 * MiB, 6 * MiB + 1, 11 * MiB + 4321];
      while (specs.length < 17) specs.push(randomInt(inlineMaxBytes + 1, 6 * MiB));
      corpus.push(...(await putRandom(server, bucket, specs.map((size, i) => ({ key: `boto3/obj-${i}`, size })))));

      // Objects whose shard files are known by name (uploaded one at a time with a diff of the drives).
      inline = (await putAttributed(server, drives.paths, bucket, 'attributed/inline', 64 * KiB)).object;
      threeLost = await putAttributed(server, drives.paths, bucket, 'attributed/three-lost', 5 * MiB + 12_345);
      midBody = await putAttributed(server, drives.paths, bucket, 'attributed/mid-body', 6 * MiB + 77);
      corpus.push(inline, threeLost.object, midBody.object);
    }, 180_000);

    afterAll(async () => {
      await server?.dispose();
      removeTempDirs(drives, filesDir);
    });

    it('layout: drive.json on every drive; 6 shards per data item, one per drive; inline objects have no shard files', async () => {
      for (const drive of drives.paths) expect(existsSync(join(drive, 'drive.json')), `${drive}/drive.json`).toBe(true);
      const ids = new Set(drives.paths.map(driveJson));
      expect(ids.size, 'every drive has its own drive.json').toBe(driveCount);

      const groups = shardsByDataId(listShardFiles(drives.paths));
      const striped = corpus.filter((o) => o.size > inlineMaxBytes);
      expect(groups.size, 'data items with shard files').toBeGreaterThanOrEqual(striped.length);
      const badGroups = [...groups.entries()]
        .filter(([, files]) => files.map((f) => f.shardIndex).join(',') !== '0,1,2,3,4,5' || new Set(files.map((f) => f.drive)).size !== driveCount)
        .map(([id, files]) => `${id}: ${files.map((f) => `${f.shardIndex}@${basename(f.drive)}`).join(' ')}`);
      expect(badGroups, 'each data item: shards 0..5, each on a different drive').toEqual([]);

      expect((await putAttributed(server, drives.paths, bucket, 'attributed/inline-2', inlineMaxBytes)).dataIds, 'a 128 KiB object made shard files').toEqual([]);
      expect(threeLost.dataIds.length).toBe(1);
      const files = groups.get(threeLost.dataIds[0]!)!;
      const sizes = new Set(files.map((f) => f.sizeBytes));
      expect(sizes.size, 'all shard files of one data item have the same length').toBe(1);
      const records = shardRecords(files[0]!.sizeBytes, shardBlockBytes);
      expect(records.length, 'one record per 1 MiB stripe').toBe(Math.ceil(threeLost.object.size / stripeBytes));
      const lastStripeBytes = threeLost.object.size % stripeBytes;
      const last = records.at(-1)!;
      expect(last.lengthBytes).toBeGreaterThanOrEqual(blockHashBytes + Math.ceil(lastStripeBytes / dataShards));
      expect(last.lengthBytes).toBeLessThanOrEqual(blockHashBytes + shardBlockBytes);
      await expectAllExact(server, bucket, corpus, 'fresh upload');
    });

    it('overwrite and DeleteObject remove the old shard files from every drive (background gc)', async () => {
      const key = 'attributed/gc';
      const first = await putAttributed(server, drives.paths, bucket, key, 2 * MiB + 5);
      const second = await putAttributed(server, drives.paths, bucket, key, 3 * MiB + 5);
      expect([first.dataIds.length, second.dataIds.length]).toEqual([1, 1]);
      const filesOf = (dataId: string): string[] => listShardFiles(drives.paths).filter((f) => f.dataId === dataId).map((f) => f.path);
      const waitGone = async (dataId: string, what: string): Promise<void> => {
        const deadlineMs = Date.now() + gcWaitMs;
        while (filesOf(dataId).length > 0 && Date.now() < deadlineMs) await sleep(100);
        expect(filesOf(dataId), `${what}: shard files still there ${gcWaitMs} ms later`).toEqual([]);
      };
      await waitGone(first.dataIds[0]!, 'overwritten data item');
      expect(filesOf(second.dataIds[0]!).length).toBe(driveCount);
      await expectAllExact(server, bucket, [second.object], 'overwritten object');
      expect((await rawRequest(server, { method: 'DELETE', path: objectPath(bucket, key) })).status).toBe(204);
      await waitGone(second.dataIds[0]!, 'deleted object');
    });

    it('flipped bytes in shard blocks and in their hashes (up to 2 shards per stripe): every GET is exact', async () => {
      const groups = shardsByDataId(listShardFiles(drives.paths));
      const backup = new FileBackup();
      const patterns: (() => number[])[] = [
        () => [randomInt(0, dataShards)],
        () => [randomInt(dataShards, driveCount)],
        () => sample([0, 1, 2, 3], 2),
        () => [4, 5],
        () => [randomInt(0, dataShards), randomInt(dataShards, driveCount)],
      ];
      const flips: Flip[] = [];
      try {
        const chosen = sample([...groups.keys()], Math.ceil(groups.size * 0.7));
        for (const [n, dataId] of chosen.entries()) {
          const files = groups.get(dataId)!;
          const stripes = shardRecords(files[0]!.sizeBytes, shardBlockBytes).length;
          for (let stripe = 0; stripe < stripes; stripe++) {
            if (stripe > 0 && randomInt(0, 2) === 0) continue;
            for (const shardIndex of patterns[(n + stripe) % patterns.length]!()) {
              const file = files.find((f) => f.shardIndex === shardIndex)!;
              backup.save(file.path);
              flips.push(...flipBytesInRecord(file, shardBlockBytes, stripe, randomInt(0, 4) === 0));
            }
          }
        }
        const inHash = flips.filter((f) => f.inHash).length;
        console.log(`[drives] flipped ${flips.length} bytes (${inHash} in hashes) in ${new Set(flips.map((f) => f.path)).size} shard files of ${chosen.length} data items`);
        expect(inHash).toBeGreaterThan(0);
        const where = flips.map((f) => `${basename(f.path)}@stripe${f.stripe}${f.inHash ? '(hash)' : ''}`);
        await expectAllExact(server, bucket, corpus, `after bitrot at ${[...new Set(where)].join(' ')}`);
      } finally {
        backup.restore();
      }
      expect(server.running(), 'the server died on corrupt shards').toBe(true);
    });

    it('2 shard files deleted per data item (both parity, both data, mixed, random): every GET is exact', async () => {
      const groups = shardsByDataId(listShardFiles(drives.paths));
      const backup = new FileBackup();
      const patterns: (() => number[])[] = [() => [4, 5], () => sample([0, 1, 2, 3], 2), () => [randomInt(0, dataShards), randomInt(dataShards, driveCount)], () => sample([0, 1, 2, 3, 4, 5], 2)];
      const deleted: string[] = [];
      try {
        for (const [n, [, files]] of [...groups.entries()].entries()) {
          for (const shardIndex of patterns[n % patterns.length]!()) {
            const file = files.find((f) => f.shardIndex === shardIndex)!;
            backup.save(file.path);
            rmSync(file.path);
            deleted.push(basename(file.path));
          }
        }
        await expectAllExact(server, bucket, corpus, `after deleting 2 shard files per data item: ${deleted.join(' ')}`);
      } finally {
        backup.restore();
      }
    });

    it('3 shard files deleted: GET fails (5xx or cut), never other bytes; exact again once they are back', async () => {
      const files = shardsByDataId(listShardFiles(drives.paths)).get(threeLost.dataIds[0]!)!;
      const backup = new FileBackup();
      try {
        for (const file of [files[0]!, files[2]!, files[5]!]) {
          backup.save(file.path);
          rmSync(file.path);
        }
        const outcome = await expectReadFails(server, bucket, threeLost.object);
        console.log(`[drives] GET with 3 of 6 shard files gone: ${outcome}`);
        // A rebuild queued by the previous case's degraded GETs (up to 4 run at once) may have read
        // its sources before the deletion and committed its shard after it: delete such a one again.
        const back = [files[0]!, files[2]!, files[5]!].filter((file) => existsSync(file.path));
        if (back.length > 0) console.log(`[drives] rebuilt meanwhile by an earlier repair, deleted again: ${back.map((f) => basename(f.path)).join(' ')}`);
        for (const file of back) rmSync(file.path);
        const viaBoto3 = (await getAll(server, bucket, [threeLost.object.key]))[threeLost.object.key]!;
        expect('error' in viaBoto3 || viaBoto3.size < threeLost.object.size, `boto3 read it whole: ${JSON.stringify(viaBoto3)}`).toBe(true);
        expect('sha256' in viaBoto3 && viaBoto3.sha256 === threeLost.object.sha256 ? 'complete' : 'failed').toBe('failed');
      } finally {
        backup.restore();
      }
      await expectAllExact(server, bucket, [threeLost.object], 'shard files restored');
    });

    it('3 corrupt blocks in stripe 3 only: the GET fails mid-body (or 5xx), never other bytes', async () => {
      const files = shardsByDataId(listShardFiles(drives.paths)).get(midBody.dataIds[0]!)!;
      const backup = new FileBackup();
      try {
        for (const file of [files[0]!, files[1]!, files[4]!]) {
          backup.save(file.path);
          flipBytesInRecord(file, shardBlockBytes, 3, false);
        }
        const outcome = await expectReadFails(server, bucket, midBody.object);
        console.log(`[drives] GET with 3 corrupt blocks in stripe 3 of 7: ${outcome}`);
        // A range inside the healthy stripes 0..2 is still served exactly.
        const range = await rawRequest(server, { method: 'GET', path: objectPath(bucket, midBody.object.key), headers: { range: `bytes=100-${3 * MiB - 1}` } });
        expect(range.status).toBe(206);
        expect(sha256Hex(range.body)).toBe(sha256Hex(midBody.object.data.subarray(100, 3 * MiB)));
      } finally {
        backup.restore();
      }
      await expectAllExact(server, bucket, [midBody.object], 'shard files restored');
    });

    it('restart with the drives reordered and one renamed: every object exact; writes work', async () => {
      const ids = drives.paths.map(driveJson);
      const renamed = `${drives.paths[2]!}-renamed`;
      await server.stop();
      renameSync(drives.paths[2]!, renamed);
      drives.paths[2] = renamed;
      let reordered = sample(drives.paths, driveCount);
      while (reordered.join() === drives.paths.join()) reordered = sample(drives.paths, driveCount);
      await server.restart({ extraArgs: drivesArgs(reordered, parityShards) });
      console.log(`[drives] restarted with --drives ${reordered.map((d) => basename(d)).join(',')}`);
      await expectAllExact(server, bucket, corpus, 'drives reordered and one renamed');
      expect(drives.paths.map(driveJson), 'drive.json rewritten').toEqual(ids);
      const added = await putRandom(server, bucket, [{ key: 'after-reorder', size: 3 * MiB + 3 }]);
      corpus.push(...added);
      await expectAllExact(server, bucket, added, 'written after the reorder');
    });

    it('a drive replaced by an empty dir, or by another server\'s drive, is offline: not written, objects exact', async () => {
      const args = server.extraArgs;
      // A foreign drive: the single drive of a throwaway server.
      const foreign = makeDrives(1, 'drives-foreign');
      const other = await startServer({ extraArgs: ['--drives', foreign.paths[0]!] });
      await other.dispose();
      const foreignJson = driveJson(foreign.paths[0]!);

      const emptied = drives.paths[4]!;
      const wrong = drives.paths[1]!;
      await server.stop();
      renameSync(emptied, `${emptied}-away`);
      mkdirSync(emptied);
      renameSync(wrong, `${wrong}-away`);
      renameSync(foreign.paths[0]!, wrong);
      const wrongFilesBefore = readdirSync(wrong).sort();
      try {
        await server.restart({ extraArgs: [...args] });
        await expectAllExact(server, bucket, corpus, 'one drive empty, one foreign');
        const before = listShardFiles(drives.paths);
        const added = await putRandom(server, bucket, [
          { key: 'while-offline-1', size: 2 * MiB + 9 },
          { key: 'while-offline-2', size: 700 * KiB },
        ]);
        corpus.push(...added);
        await expectAllExact(server, bucket, added, 'written with 2 drives offline');
        const fresh = listShardFiles(drives.paths).filter((f) => !before.some((b) => b.path === f.path));
        expect(fresh.filter((f) => f.drive === emptied || f.drive === wrong).map((f) => f.path), 'shards written to an offline drive').toEqual([]);
        const perItem = [...shardsByDataId(fresh).values()].map((files) => files.length);
        console.log(`[drives] shard files per new data item with 2 drives offline: ${perItem.join(', ')}`);
        expect(perItem.length, 'data items of the 2 new objects').toBe(2);
        for (const count of perItem) expect(count).toBeGreaterThanOrEqual(dataShards);
        expect(readdirSync(emptied), 'the empty replacement dir was written to (it should stay offline)').toEqual([]);
        expect(readdirSync(wrong).sort(), 'the foreign drive was written to').toEqual(wrongFilesBefore);
        expect(driveJson(wrong), 'the foreign drive.json was rewritten').toBe(foreignJson);
      } finally {
        await server.stop();
        rmSync(emptied, { recursive: true, force: true });
        renameSync(`${emptied}-away`, emptied);
        rmSync(wrong, { recursive: true, force: true });
        renameSync(`${wrong}-away`, wrong);
      }
      removeTempDir(foreign.root);
      await server.restart({ extraArgs: [...args] });
      await expectAllExact(server, bucket, corpus, 'both drives back');
    });

    it('a drive dir swapped for another server\'s drive while running is not written; objects exact', async () => {
      const foreign = makeDrives(1, 'drives-foreign-live');
      const other = await startServer({ extraArgs: ['--drives', foreign.paths[0]!] });
      await other.dispose();
      const foreignFiles = readdirSync(foreign.paths[0]!).sort();
      const foreignJson = driveJson(foreign.paths[0]!);
      // The drive that was empty in the previous test: the objects written then have no shard on it
      // (only 4 shards each, as nothing heals yet), so every object keeps at least 4 shards.
      const swapped = drives.paths[4]!;
      renameSync(swapped, `${swapped}-away`);
      renameSync(foreign.paths[0]!, swapped);
      try {
        const added = await putRandom(server, bucket, [
          { key: 'while-swapped-1', size: 3 * MiB + 1 },
          { key: 'while-swapped-2', size: 400 * KiB },
        ]);
        corpus.push(...added);
        await expectAllExact(server, bucket, corpus, 'one drive swapped for a foreign one while running');
        expect(readdirSync(swapped).sort(), `the server wrote into a foreign drive put in place of ${basename(swapped)} while running`).toEqual(foreignFiles);
        expect(driveJson(swapped)).toBe(foreignJson);
      } finally {
        await server.stop();
        rmSync(swapped, { recursive: true, force: true });
        renameSync(`${swapped}-away`, swapped);
      }
      removeTempDir(foreign.root);
      await server.restart();
      await expectAllExact(server, bucket, corpus, 'the drive back after a restart');
    });
  });

  // ---- Server B: drives removed one by one while serving ----
  describe('drives removed while the server runs', () => {
    const bucket = 'drives-b';
    let server: S3dServer;
    let drives: DriveSet;
    let filesDir: string;
    const objects: Expected[] = [];

    beforeAll(async () => {
      ({ server, drives } = await startSixDrives('drives-b'));
      await createBucket(server, bucket);
      filesDir = makeTempDir('drives-b-files');
      objects.push(
        ...(await putRandom(server, bucket, [64 * KiB, 300 * KiB, MiB, 2.5 * MiB + 3, 7 * MiB + 11, 12 * MiB + 5].map((size, i) => ({ key: `before/obj-${i}`, size })))),
      );
      const path = join(filesDir, 'mpu-before.bin');
      const sha256 = await writeRandomFile(path, 20 * MiB + 12_345);
      await awsOk(['s3', 'cp', path, `s3://${bucket}/before/mpu`], server);
      objects.push({ key: 'before/mpu', size: 20 * MiB + 12_345, sha256 });
    }, 120_000);

    afterAll(async () => {
      await server?.dispose();
      removeTempDirs(drives, filesDir);
    });

    it('1, 2, then 3 of 6 drives gone (rm -rf, emptied, rm -rf): reads exact and writes work down to k drives; then prompt 503 and failed reads', async () => {
      const startedMs = Date.now();
      const phase = (what: string): void => console.log(`[drives] ${((Date.now() - startedMs) / 1000).toFixed(1)} s: ${what}`);
      const gone = new Set<string>();
      // Takes out the online drive holding the most data shards: rm -rf, or empty it and keep the dir.
      const takeOut = (how: 'remove' | 'empty'): string => {
        const online = drives.paths.filter((d) => !gone.has(d));
        const victim = driveWithMostDataShards(listShardFiles(online), online);
        if (how === 'remove') rmSync(victim, { recursive: true, force: true });
        else for (const entry of readdirSync(victim)) rmSync(join(victim, entry), { recursive: true, force: true });
        gone.add(victim);
        phase(`${how === 'remove' ? 'removed' : 'emptied'} ${basename(victim)}`);
        return victim;
      };

      // One drive gone (rm -rf).
      const first = takeOut('remove');
      await expectAllExact(server, bucket, objects, '1 drive removed');
      const put = join(filesDir, 'put.bin');
      const mpu = join(filesDir, 'mpu-after.bin');
      const written: Expected[] = [
        { key: 'after1/put', size: 3 * MiB + 7, sha256: await writeRandomFile(put, 3 * MiB + 7) },
        { key: 'after1/mpu', size: 20 * MiB + 5, sha256: await writeRandomFile(mpu, 20 * MiB + 5) },
      ];
      await awsOk(['s3api', 'put-object', '--bucket', bucket, '--key', 'after1/put', '--body', put], server);
      await awsOk(['s3', 'cp', mpu, `s3://${bucket}/after1/mpu`], server);
      await awsOk(['s3', 'cp', `s3://${bucket}/before/obj-4`, `s3://${bucket}/after1/copy-small`], server);
      await awsOk(['s3', 'cp', `s3://${bucket}/before/mpu`, `s3://${bucket}/after1/copy-mpu`], server);
      written.push({ ...objects.find((o) => o.key === 'before/obj-4')!, key: 'after1/copy-small' });
      written.push({ ...objects.find((o) => o.key === 'before/mpu')!, key: 'after1/copy-mpu' });
      await expectAllExact(server, bucket, written, 'written with 1 drive removed');
      objects.push(...written);
      expect(existsSync(first), `the server recreated the removed drive dir ${first}`).toBe(false);
      phase('PUT, multipart upload, CopyObject, UploadPartCopy with 1 drive removed: exact');

      // Two drives gone (the second emptied, its dir kept): still k = 4 writable, nothing written to the empty dir.
      const second = takeOut('empty');
      await expectAllExact(server, bucket, objects, '2 drives gone');
      const afterTwo = await putRandom(server, bucket, [
        { key: 'after2/put', size: 2 * MiB + 1 },
        { key: 'after2/put-small', size: 200 * KiB },
      ]);
      await expectAllExact(server, bucket, afterTwo, 'written with 2 drives gone');
      objects.push(...afterTwo);
      expect(readdirSync(second), `the server wrote into the emptied drive dir ${second}`).toEqual([]);
      phase('reads and writes with 2 drives gone: exact');

      // Three drives gone: fewer than k. Writes answer 503 (promptly), reads of striped objects fail.
      takeOut('remove');
      const putStartedMs = Date.now();
      const refused = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'after3/put'), body: randomBytes(MiB + 1) });
      const refusedMs = Date.now() - putStartedMs;
      expectS3Error(refused, 503);
      phase(`PUT of 1 MiB + 1 with 3 drives gone: ${refused.status} after ${refusedMs} ms`);
      const outcomes: string[] = [];
      for (const object of objects) {
        if (object.size <= inlineMaxBytes) continue;
        outcomes.push(`${object.key}: ${await expectReadFails(server, bucket, object)}`);
      }
      console.log(`[drives] reads with 3 of 6 drives gone:\n  ${outcomes.join('\n  ')}`);
      await expectAllExact(server, bucket, objects.filter((o) => o.size <= inlineMaxBytes), 'inline objects with 3 drives gone');
      expect(server.running()).toBe(true);
      expect.soft(refusedMs, `PUT with too few drives answered 503 only after ${refusedMs} ms (the client waited, sending its body)`).toBeLessThan(5_000);
    }, 150_000);
  });

  // ---- Server D: 6 drives without --parity: 3+3, where a write needs k + 1 = 4 drives ----
  describe('6 drives with the default parity (3+3)', () => {
    const bucket = 'drives-d';
    let server: S3dServer;
    let drives: DriveSet;

    beforeAll(async () => {
      drives = makeDrives(driveCount, 'drives-d');
      server = await startServer({ extraArgs: ['--drives', drives.paths.join(',')] });
      await createBucket(server, bucket);
    });

    afterAll(async () => {
      await server?.dispose();
      removeTempDirs(drives, undefined);
    });

    it('3 data + 3 parity shards; writes need 4 drives (k = m), reads 3', async () => {
      const { object, dataIds } = await putAttributed(server, drives.paths, bucket, 'three-three', 2 * MiB + 3);
      const files = listShardFiles(drives.paths).filter((f) => f.dataId === dataIds[0]);
      expect(files.map((f) => f.shardIndex).sort(), 'shards of one data item with 6 drives and no --parity').toEqual([0, 1, 2, 3, 4, 5]);
      // 3 data shards: each full-stripe block is a third of the stripe.
      expect(shardRecords(files[0]!.sizeBytes, Math.ceil(stripeBytes / 3))[0]!.lengthBytes).toBe(blockHashBytes + Math.ceil(stripeBytes / 3));

      rmSync(drives.paths[0]!, { recursive: true, force: true });
      rmSync(drives.paths[1]!, { recursive: true, force: true });
      const atQuorum = await putRandom(server, bucket, [{ key: 'four-drives', size: MiB + 9 }]);
      await expectAllExact(server, bucket, [object, ...atQuorum], '2 of 6 drives removed (3+3)');

      rmSync(drives.paths[2]!, { recursive: true, force: true });
      const startedMs = Date.now();
      const refused = await rawRequest(server, { method: 'PUT', path: objectPath(bucket, 'three-drives'), body: randomBytes(MiB + 1) });
      const refusedMs = Date.now() - startedMs;
      expectS3Error(refused, 503);
      await expectAllExact(server, bucket, [object, ...atQuorum], '3 of 6 drives removed (3+3): k shards are enough to read');
      expect.soft(refusedMs, `PUT with too few drives answered 503 only after ${refusedMs} ms`).toBeLessThan(5_000);
    }, 90_000);
  });

  // ---- Server C: multipart, copies and ranges with one drive removed ----
  describe('multipart, copy and range reads with one drive removed', () => {
    const bucket = 'drives-c';
    let server: S3dServer;
    let drives: DriveSet;
    let filesDir: string;

    beforeAll(async () => {
      ({ server, drives } = await startSixDrives('drives-c'));
      await createBucket(server, bucket);
      filesDir = makeTempDir('drives-c-files');
    });

    afterAll(async () => {
      await server?.dispose();
      removeTempDirs(drives, filesDir);
    });

    it('aws cli and boto3 multipart uploads, CopyObject, UploadPartCopy and ranges across stripe and part boundaries are exact', async () => {
      const big = join(filesDir, 'big.bin');
      const bigSize = 40 * MiB + 1234;
      const bigSha = await writeRandomFile(big, bigSize);
      const before = listShardFiles(drives.paths);
      await awsOk(['s3', 'cp', big, `s3://${bucket}/big-before`], server);
      const bigFiles = listShardFiles(drives.paths).filter((f) => !before.some((b) => b.path === f.path));
      expect(new Set(bigFiles.map((f) => f.dataId)).size, 'data items of a 40 MiB aws cli multipart upload').toBeGreaterThan(0);

      // Remove the drive holding the most data shards of the 40 MiB object: its reads must decode.
      const removed = driveWithMostDataShards(bigFiles, drives.paths);
      const lostData = bigFiles.filter((f) => f.drive === removed && f.shardIndex < dataShards).length;
      rmSync(removed, { recursive: true, force: true });
      console.log(`[drives] removed ${basename(removed)}: it held ${lostData} data shards of big-before`);

      const mid = join(filesDir, 'mid.bin');
      const midSize = 21 * MiB + 999;
      const midSha = await writeRandomFile(mid, midSize);
      await awsOk(['s3', 'cp', big, `s3://${bucket}/big-after`], server);
      const uploaded = await python3Result<{ size: number }>(uploadFileScript, server, [bucket, 'mid', mid, String(boto3PartBytes)]);
      expect(uploaded.size).toBe(midSize);

      const expectedMpu = join(filesDir, 'mpu-expected.bin');
      const copied = await python3Result<{ copy: { size: number; sha256: string }; mpu: { size: number; sha256: string }; partBytes: number[] }>(copyScript, server, [
        bucket,
        'big-before',
        'mid',
        'big-copy',
        'part-copy',
        big,
        mid,
        expectedMpu,
      ]);
      expect(copied.copy.sha256).toBe(bigSha);
      await expectAllExact(
        server,
        bucket,
        [
          { key: 'big-before', size: bigSize, sha256: bigSha },
          { key: 'big-after', size: bigSize, sha256: bigSha },
          { key: 'mid', size: midSize, sha256: midSha },
          { key: 'big-copy', size: bigSize, sha256: bigSha },
          { key: 'part-copy', ...copied.mpu },
        ],
        'multipart and copies with 1 drive removed',
      );

      const ranges = (size: number, part: number): string[] => [
        'bytes=0-0',
        `bytes=${MiB - 1}-${MiB}`,
        `bytes=${MiB - 100}-${3 * MiB + 100}`,
        `bytes=${shardBlockBytes - 3}-${shardBlockBytes + 3}`,
        `bytes=${part - 10}-${part + 10}`,
        `bytes=${part - 1}-${2 * part}`,
        `bytes=${3 * MiB + 5}-${size - 6}`,
        'bytes=-1000',
        `bytes=${size - 5}-`,
        `bytes=${size - 1}-${size + 1000}`,
      ];
      const [p1, p2, p3] = copied.partBytes as [number, number, number];
      const cases = [
        { key: 'big-before', file: big, ranges: ranges(bigSize, awsPartBytes) },
        { key: 'big-after', file: big, ranges: ranges(bigSize, awsPartBytes) },
        { key: 'big-copy', file: big, ranges: ranges(bigSize, awsPartBytes) },
        { key: 'mid', file: mid, ranges: ranges(midSize, boto3PartBytes) },
        { key: 'part-copy', file: expectedMpu, ranges: [...ranges(copied.mpu.size, p1), `bytes=${p1 + p2 - 7}-${p1 + p2 + 7}`, `bytes=${p1 + p2 + p3 - 100}-${p1 + p2 + p3 + 100}`] },
      ];
      const result = await python3Result<{ checked: number; failures: unknown[] }>(rangeReadsScript, server, [bucket, JSON.stringify(cases)]);
      expect(result.failures, `range reads with ${basename(removed)} removed`).toEqual([]);
      expect(result.checked).toBe(cases.reduce((n, c) => n + c.ranges.length, 0));

      // The aws cli downloads too (its own multipart GETs of ranges).
      const down = join(filesDir, 'down.bin');
      await awsOk(['s3', 'cp', `s3://${bucket}/big-before`, down], server);
      expect(sha256Hex(readFileSync(down))).toBe(bigSha);
    }, 150_000);
  });
});
