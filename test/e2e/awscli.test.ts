// aws cli v1 (`aws s3` and `aws s3api`) against a real s3d: real files of this machine round-trip
// byte-exact, sync of a directory tree, multipart, presigned URLs, listing, copy, delete.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { aws, awsJson, awsOk, fetchUrl } from '../helpers/clients.js';
import { MiB, listFilesRecursive, sha256File, sha256Hex, writeRandomFile } from '../helpers/files.js';
import { expectS3Error, objectPath, rawRequest } from '../helpers/raw-request.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 'awscli-e2e';
const awsVersion = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const awsCliV1 = `${awsVersion.stdout}${awsVersion.stderr}`.trim().startsWith('aws-cli/1.');
const bigTimeoutMs = 400_000;

/** Candidate trees for `aws s3 sync`: nested dirs, a few hundred+ files, bounded below. */
const syncSourceCandidates = ['/usr/share/perl', '/usr/share/zoneinfo', '/usr/share/mime', '/usr/share/X11', '/usr/share/doc'];
const syncFilesMax = 2000;
const syncBytesMax = 60 * MiB;

/** Copies regular, readable files of `source` into `dest` (no symlinks), within the bounds above. */
function stageTree(source: string, dest: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const hourAgo = new Date(Date.now() - 3600_000);
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch {
      return;
    }
    for (const entry of entries) {
      if (files >= syncFilesMax) return;
      const full = join(dir, entry.name);
      if (!/^[\w.+@=,-]+$/.test(entry.name)) continue;
      if (entry.isDirectory()) {
        walk(full);
      } else if (entry.isFile()) {
        const size = statSync(full).size;
        if (bytes + size > syncBytesMax) continue;
        const target = join(dest, full.slice(source.length + 1));
        mkdirSync(dirname(target), { recursive: true });
        try {
          copyFileSync(full, target);
        } catch {
          continue;
        }
        // Older than any LastModified the server will give, so a second sync uploads nothing.
        utimesSync(target, hourAgo, hourAgo);
        files += 1;
        bytes += size;
      }
    }
  };
  walk(source);
  return { files, bytes };
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

describe('aws cli v1', () => {
  let server: S3dServer;
  let work: string;

  beforeAll(async () => {
    server = await startServer();
    work = makeTempDir('awscli');
  });
  afterAll(async () => {
    await server?.dispose();
    if (work !== undefined) removeTempDir(work);
  });

  it('aws s3 mb creates a bucket that aws s3 ls lists', async () => {
    const mb = await aws(['s3', 'mb', `s3://${bucket}`], server);
    expect(mb.code, mb.stderr).toBe(0);
    expect(mb.stdout).toContain(`make_bucket: ${bucket}`);
    const ls = await awsOk(['s3', 'ls'], server);
    expect(ls).toMatch(new RegExp(`\\s${bucket}\\s*$`, 'm'));
  });

  describe('aws s3 cp of real files round-trips byte-exact', () => {
    const emptyFile = (): string => {
      const path = join(work, 'empty');
      writeFileSync(path, '');
      return path;
    };
    const unicodeFile = (): string => {
      const path = join(work, 'héllo wörld – ✓ 日本語.txt');
      writeFileSync(path, 'unicode name, unicode content: ünïcödé ✓ 日本語\n'.repeat(50));
      return path;
    };
    const spacesFile = (): string => {
      const path = join(work, 'spaces.txt');
      writeFileSync(path, 'a key with spaces\n');
      return path;
    };
    const cases: Array<{ name: string; local: () => string; key: string }> = [
      { name: 'the node binary (~100 MB, multipart)', local: () => process.execPath, key: 'files/bin/node' },
      { name: '/etc/passwd', local: () => '/etc/passwd', key: 'files/etc/passwd' },
      { name: 'an empty file', local: emptyFile, key: 'files/empty' },
      { name: 'a file with a unicode name', local: unicodeFile, key: 'files/héllo wörld – ✓ 日本語.txt' },
      { name: 'a key with spaces', local: spacesFile, key: 'files/dir with spaces/name with  two  spaces.txt' },
    ];
    for (const c of cases) {
      it(`cp up and back: ${c.name}`, async () => {
        const local = c.local();
        const expected = await sha256File(local);
        await awsOk(['s3', 'cp', local, `s3://${bucket}/${c.key}`], server, { timeoutMs: bigTimeoutMs });
        const back = join(work, `back-${sha256Hex(c.key).slice(0, 12)}`);
        await awsOk(['s3', 'cp', `s3://${bucket}/${c.key}`, back], server, { timeoutMs: bigTimeoutMs });
        expect(statSync(back).size).toBe(statSync(local).size);
        expect(await sha256File(back)).toBe(expected);
      }, bigTimeoutMs);
    }

    it('aws s3 ls shows the keys (non-recursive with PRE, and --recursive)', async () => {
      const top = await awsOk(['s3', 'ls', `s3://${bucket}/files/`], server);
      expect(top).toMatch(/PRE bin\/$/m);
      expect(top).toMatch(/PRE etc\/$/m);
      expect(top).toMatch(/PRE dir with spaces\/$/m);
      expect(top).toMatch(/\s0 empty$/m);
      expect(top).toContain('héllo wörld – ✓ 日本語.txt');
      const recursive = await awsOk(['s3', 'ls', `s3://${bucket}/files/`, '--recursive'], server);
      for (const c of cases) expect(recursive).toContain(c.key);
      const nodeLine = recursive.split('\n').find((l) => l.endsWith(' files/bin/node'));
      expect(nodeLine, recursive).toBeDefined();
      expect(nodeLine).toContain(` ${statSync(process.execPath).size} `);
    });
  });

  it('aws s3 sync of a /usr/share tree up and back down, every file sha256-equal', async () => {
    const source = syncSourceCandidates.find((d) => existsSync(d));
    expect(source, 'no /usr/share tree to sync').toBeDefined();
    const staging = join(work, 'sync-up');
    const { files } = stageTree(source as string, staging);
    expect(files).toBeGreaterThan(100);
    const up = await awsOk(['s3', 'sync', staging, `s3://${bucket}/tree/`, '--only-show-errors'], server, { timeoutMs: bigTimeoutMs });
    expect(up.trim()).toBe('');
    const down = join(work, 'sync-down');
    await awsOk(['s3', 'sync', `s3://${bucket}/tree/`, down, '--only-show-errors'], server, { timeoutMs: bigTimeoutMs });
    const upFiles = listFilesRecursive(staging);
    expect(upFiles.length).toBe(files);
    expect(listFilesRecursive(down)).toEqual(upFiles);
    const mismatched: string[] = [];
    for (const rel of upFiles) {
      if ((await sha256File(join(staging, rel))) !== (await sha256File(join(down, rel)))) mismatched.push(rel);
    }
    expect(mismatched).toEqual([]);
    // Sizes and LastModified from ListObjectsV2 must make a second sync a no-op.
    const again = await awsOk(['s3', 'sync', staging, `s3://${bucket}/tree/`], server, { timeoutMs: bigTimeoutMs });
    expect(again).not.toMatch(/upload:/);
  }, bigTimeoutMs);

  let random100Sha256 = '';

  it('multipart cp of a 100 MiB random file and back, sha256 equal, ETag of 13 parts', async () => {
    const local = join(work, 'random-100m');
    const expected = await writeRandomFile(local, 100 * MiB);
    random100Sha256 = expected;
    await awsOk(['s3', 'cp', local, `s3://${bucket}/big/random-100m`], server, { timeoutMs: bigTimeoutMs });
    const head = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'big/random-100m'], server);
    expect(head.ContentLength).toBe(100 * MiB);
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-13"$/);
    const back = join(work, 'random-100m.back');
    await awsOk(['s3', 'cp', `s3://${bucket}/big/random-100m`, back], server, { timeoutMs: bigTimeoutMs });
    expect(await sha256File(back)).toBe(expected);
    // A range across the boundary of parts 1 and 2 (8 MiB parts) is stitched exactly.
    const start = 8 * MiB - 1000;
    const range = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'big/random-100m'), headers: { range: `bytes=${start}-${start + 2999}` } });
    expect(range.status).toBe(206);
    const localBytes = readFileSync(local);
    expect(range.body.equals(localBytes.subarray(start, start + 3000))).toBe(true);
  }, bigTimeoutMs);

  it('server-side aws s3 cp (UploadPartCopy for 100 MiB, CopyObject for small) and aws s3 mv', async () => {
    expect(random100Sha256, 'depends on the 100 MiB test').not.toBe('');
    await awsOk(['s3', 'cp', `s3://${bucket}/big/random-100m`, `s3://${bucket}/copies/random-100m`], server, { timeoutMs: bigTimeoutMs });
    const head = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'copies/random-100m'], server);
    expect(head.ETag, 'aws cli should have copied in parts (UploadPartCopy)').toMatch(/-\d+"$/);
    const back = join(work, 'copy-100m.back');
    await awsOk(['s3', 'cp', `s3://${bucket}/copies/random-100m`, back], server, { timeoutMs: bigTimeoutMs });
    expect(await sha256File(back)).toBe(random100Sha256);

    await awsOk(['s3', 'cp', `s3://${bucket}/files/etc/passwd`, `s3://${bucket}/copies/passwd`], server);
    await awsOk(['s3', 'mv', `s3://${bucket}/copies/passwd`, `s3://${bucket}/copies/passwd-moved`], server);
    const gone = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'copies/passwd'], server);
    expect(gone.code).not.toBe(0);
    const moved = join(work, 'passwd-moved');
    await awsOk(['s3', 'cp', `s3://${bucket}/copies/passwd-moved`, moved], server);
    expect(readFileSync(moved).equals(readFileSync('/etc/passwd'))).toBe(true);
  }, bigTimeoutMs);

  describe('aws s3 presign', () => {
    const v4ConfigEnv = (): Record<string, string> => {
      const file = join(work, 'aws-config-s3v4');
      writeFileSync(file, '[default]\nregion = us-east-1\ns3 =\n  signature_version = s3v4\n');
      return { AWS_CONFIG_FILE: file };
    };
    const variants: Array<{ name: string; env: () => Record<string, string>; marker: RegExp }> = [
      // aws cli v1's default for s3 presign is SigV2 query auth (AWSAccessKeyId, Signature, Expires); v2's is SigV4.
      { name: `default (${awsCliV1 ? 'SigV2' : 'SigV4'} query auth)`, env: () => ({}), marker: awsCliV1 ? /[?&]Signature=/ : /[?&]X-Amz-Signature=/ },
      { name: 's3v4 (SigV4 query auth)', env: v4ConfigEnv, marker: /[?&]X-Amz-Signature=/ },
    ];
    for (const v of variants) {
      it(`${v.name}: a presigned GET URL fetched with node https returns the object`, async () => {
        const url = (await awsOk(['s3', 'presign', `s3://${bucket}/files/etc/passwd`, '--expires-in', '300'], server, { env: v.env() })).trim();
        expect(url).toMatch(v.marker);
        const res = await fetchUrl(url, server);
        expect(res.status, res.body.toString()).toBe(200);
        expect(res.body.equals(readFileSync('/etc/passwd'))).toBe(true);
      });

      it(`${v.name}: an expired presigned URL gets 403 AccessDenied`, async () => {
        const url = (await awsOk(['s3', 'presign', `s3://${bucket}/files/etc/passwd`, '--expires-in', '1'], server, { env: v.env() })).trim();
        await new Promise((r) => setTimeout(r, 2000));
        const res = await fetchUrl(url, server);
        expectS3Error(res, 403, 'AccessDenied');
      });
    }
  });

  describe('aws s3api', () => {
    it('head-object returns size and the MD5 ETag of a single-part object', async () => {
      const head = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'files/etc/passwd'], server);
      const passwd = readFileSync('/etc/passwd');
      expect(head.ContentLength).toBe(passwd.length);
      expect(head.ETag).toBe(`"${md5Hex(passwd)}"`);
      expect(typeof head.LastModified).toBe('string');
    });

    it('get-object --range returns the exact bytes (and raw GET answers 206 with Content-Range)', async () => {
      const local = join(work, 'range.bin');
      await writeRandomFile(local, MiB + 17);
      const data = readFileSync(local);
      await awsOk(['s3api', 'put-object', '--bucket', bucket, '--key', 'api/range.bin', '--body', local], server);
      const out = join(work, 'range.out');
      const got = await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', 'api/range.bin', '--range', 'bytes=1000-1999', out], server);
      expect(got.ContentRange).toBe(`bytes 1000-1999/${data.length}`);
      expect(got.ContentLength).toBe(1000);
      expect(readFileSync(out).equals(data.subarray(1000, 2000))).toBe(true);

      const suffix = await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', 'api/range.bin', '--range', 'bytes=-10', out], server);
      expect(suffix.ContentLength).toBe(10);
      expect(readFileSync(out).equals(data.subarray(data.length - 10))).toBe(true);

      const raw = await rawRequest(server, { method: 'GET', path: objectPath(bucket, 'api/range.bin'), headers: { range: `bytes=${MiB}-` } });
      expect(raw.status).toBe(206);
      expect(raw.headers['content-range']).toBe(`bytes ${MiB}-${data.length - 1}/${data.length}`);
      expect(raw.body.equals(data.subarray(MiB))).toBe(true);
    });

    it('put-object with --metadata and --content-type; head-object returns them', async () => {
      const local = join(work, 'meta.txt');
      writeFileSync(local, 'metadata test body\n');
      const put = await awsJson(
        ['s3api', 'put-object', '--bucket', bucket, '--key', 'api/meta.txt', '--body', local, '--metadata', 'color=blue,size=XL', '--content-type', 'text/x-tessera'],
        server,
      );
      expect(put.ETag).toBe(`"${md5Hex(readFileSync(local))}"`);
      const head = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'api/meta.txt'], server);
      expect(head.Metadata).toEqual({ color: 'blue', size: 'XL' });
      expect(head.ContentType).toBe('text/x-tessera');
      expect(head.ContentLength).toBe(readFileSync(local).length);
    });

    it('copy-object with --metadata-directive REPLACE replaces metadata and content type, keeps the body', async () => {
      await awsJson(
        [
          's3api', 'copy-object', '--bucket', bucket, '--key', 'api/meta-copy.txt', '--copy-source', `${bucket}/api/meta.txt`,
          '--metadata-directive', 'REPLACE', '--metadata', 'shade=dark', '--content-type', 'application/x-replaced',
        ],
        server,
      );
      const head = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'api/meta-copy.txt'], server);
      expect(head.Metadata).toEqual({ shade: 'dark' });
      expect(head.ContentType).toBe('application/x-replaced');
      const out = join(work, 'meta-copy.out');
      await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', 'api/meta-copy.txt', out], server);
      expect(readFileSync(out).toString()).toBe('metadata test body\n');

      // The default directive (COPY) keeps the source's metadata.
      await awsJson(['s3api', 'copy-object', '--bucket', bucket, '--key', 'api/meta-copy2.txt', '--copy-source', `${bucket}/api/meta.txt`], server);
      const head2 = await awsJson(['s3api', 'head-object', '--bucket', bucket, '--key', 'api/meta-copy2.txt'], server);
      expect(head2.Metadata).toEqual({ color: 'blue', size: 'XL' });
      expect(head2.ContentType).toBe('text/x-tessera');
    });

    const listKeys = ['lst/a/1', 'lst/a/2', 'lst/b/1', 'lst/c', 'lst/d', 'lst/e'];

    it('list-objects-v2 with --prefix/--delimiter groups common prefixes', async () => {
      const dir = join(work, 'lst');
      for (const key of listKeys) {
        const path = join(dir, key.slice('lst/'.length));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, key);
      }
      await awsOk(['s3', 'cp', dir, `s3://${bucket}/lst/`, '--recursive', '--only-show-errors'], server);
      const res = await awsJson(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/', '--delimiter', '/'], server);
      expect((res.CommonPrefixes as Array<{ Prefix: string }>).map((p) => p.Prefix)).toEqual(['lst/a/', 'lst/b/']);
      expect((res.Contents as Array<{ Key: string }>).map((o) => o.Key)).toEqual(['lst/c', 'lst/d', 'lst/e']);
    });

    it('list-objects-v2 pagination: --max-items/--starting-token and --max-keys/--continuation-token', async () => {
      const first = await awsJson(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/', '--max-items', '4', '--page-size', '3'], server);
      const firstKeys = (first.Contents as Array<{ Key: string }>).map((o) => o.Key);
      expect(firstKeys).toEqual(listKeys.slice(0, 4));
      expect(typeof first.NextToken).toBe('string');
      const rest = await awsJson(
        ['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/', '--page-size', '3', '--starting-token', first.NextToken as string],
        server,
      );
      expect((rest.Contents as Array<{ Key: string }>).map((o) => o.Key)).toEqual(listKeys.slice(4));

      const page1 = await awsJson(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/', '--max-keys', '2', '--no-paginate'], server);
      expect(page1.IsTruncated).toBe(true);
      expect(page1.KeyCount).toBe(2);
      expect((page1.Contents as Array<{ Key: string }>).map((o) => o.Key)).toEqual(listKeys.slice(0, 2));
      const page2 = await awsJson(
        ['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/', '--max-keys', '10', '--no-paginate', '--continuation-token', page1.NextContinuationToken as string],
        server,
      );
      expect(page2.IsTruncated).toBe(false);
      expect((page2.Contents as Array<{ Key: string }>).map((o) => o.Key)).toEqual(listKeys.slice(2));
    });

    it('list-object-versions lists every key once as the latest version', async () => {
      const res = await awsJson(['s3api', 'list-object-versions', '--bucket', bucket, '--prefix', 'lst/'], server);
      const versions = res.Versions as Array<{ Key: string; IsLatest: boolean; VersionId: string }>;
      expect(versions.map((v) => v.Key)).toEqual(listKeys);
      for (const v of versions) {
        expect(v.IsLatest).toBe(true);
        expect(typeof v.VersionId).toBe('string');
      }
    });

    it('delete-objects deletes the listed keys and reports them', async () => {
      const res = await awsJson(
        ['s3api', 'delete-objects', '--bucket', bucket, '--delete', JSON.stringify({ Objects: [{ Key: 'lst/d' }, { Key: 'lst/e' }, { Key: 'lst/never-existed' }] })],
        server,
      );
      expect(((res.Deleted as Array<{ Key: string }>) ?? []).map((d) => d.Key).sort()).toEqual(['lst/d', 'lst/e', 'lst/never-existed']);
      expect(res.Errors).toBeUndefined();
      const left = await awsJson(['s3api', 'list-objects-v2', '--bucket', bucket, '--prefix', 'lst/'], server);
      expect((left.Contents as Array<{ Key: string }>).map((o) => o.Key)).toEqual(listKeys.slice(0, 4));
      const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', 'lst/d'], server);
      expect(head.code).not.toBe(0);
      expect(head.stderr).toMatch(/404|Not Found/);
    });

    it('create-multipart-upload / upload-part / list-parts / complete; get-object --part-number', async () => {
      const key = 'api/mpu.bin';
      const part1 = join(work, 'part1');
      const part2 = join(work, 'part2');
      await writeRandomFile(part1, 5 * MiB);
      await writeRandomFile(part2, MiB + 123);
      const p1 = readFileSync(part1);
      const p2 = readFileSync(part2);
      const create = await awsJson(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key], server);
      const uploadId = create.UploadId as string;
      expect(typeof uploadId).toBe('string');
      const u1 = await awsJson(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '1', '--body', part1], server);
      const u2 = await awsJson(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '2', '--body', part2], server);
      expect(u1.ETag).toBe(`"${md5Hex(p1)}"`);
      expect(u2.ETag).toBe(`"${md5Hex(p2)}"`);

      const parts = await awsJson(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', uploadId], server);
      const listed = parts.Parts as Array<{ PartNumber: number; ETag: string; Size: number }>;
      expect(listed.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
        [1, u1.ETag, p1.length],
        [2, u2.ETag, p2.length],
      ]);

      const uploads = await awsJson(['s3api', 'list-multipart-uploads', '--bucket', bucket, '--prefix', 'api/'], server);
      expect((uploads.Uploads as Array<{ UploadId: string }>).map((u) => u.UploadId)).toContain(uploadId);

      const complete = await awsJson(
        [
          's3api', 'complete-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId,
          '--multipart-upload', JSON.stringify({ Parts: [{ ETag: u1.ETag, PartNumber: 1 }, { ETag: u2.ETag, PartNumber: 2 }] }),
        ],
        server,
      );
      const expectedEtag = `"${md5Hex(Buffer.concat([createHash('md5').update(p1).digest(), createHash('md5').update(p2).digest()]))}-2"`;
      expect(complete.ETag).toBe(expectedEtag);

      const out = join(work, 'mpu.out');
      const whole = await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', key, out], server);
      expect(whole.ContentLength).toBe(p1.length + p2.length);
      expect(whole.ETag).toBe(expectedEtag);
      expect(readFileSync(out).equals(Buffer.concat([p1, p2]))).toBe(true);

      const first = await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', key, '--part-number', '1', out], server);
      expect(first.ContentLength).toBe(p1.length);
      expect(first.PartsCount).toBe(2);
      expect(readFileSync(out).equals(p1)).toBe(true);
      const second = await awsJson(['s3api', 'get-object', '--bucket', bucket, '--key', key, '--part-number', '2', out], server);
      expect(second.ContentLength).toBe(p2.length);
      expect(readFileSync(out).equals(p2)).toBe(true);
    });

    it('abort-multipart-upload removes the upload: list-parts then fails with NoSuchUpload', async () => {
      const key = 'api/aborted.bin';
      const create = await awsJson(['s3api', 'create-multipart-upload', '--bucket', bucket, '--key', key], server);
      const uploadId = create.UploadId as string;
      const part = join(work, 'abort-part');
      writeFileSync(part, 'x'.repeat(1000));
      await awsJson(['s3api', 'upload-part', '--bucket', bucket, '--key', key, '--upload-id', uploadId, '--part-number', '1', '--body', part], server);
      await awsOk(['s3api', 'abort-multipart-upload', '--bucket', bucket, '--key', key, '--upload-id', uploadId], server);
      const parts = await aws(['s3api', 'list-parts', '--bucket', bucket, '--key', key, '--upload-id', uploadId], server);
      expect(parts.code).not.toBe(0);
      expect(parts.stderr).toContain('NoSuchUpload');
      const uploads = await awsJson(['s3api', 'list-multipart-uploads', '--bucket', bucket], server);
      expect(((uploads.Uploads as Array<{ UploadId: string }>) ?? []).map((u) => u.UploadId)).not.toContain(uploadId);
      const head = await aws(['s3api', 'head-object', '--bucket', bucket, '--key', key], server);
      expect(head.code).not.toBe(0);
    });
  });

  it('aws s3 rm --recursive empties the bucket', async () => {
    await awsOk(['s3', 'rm', `s3://${bucket}/`, '--recursive', '--only-show-errors'], server, { timeoutMs: bigTimeoutMs });
    const ls = await aws(['s3', 'ls', `s3://${bucket}/`, '--recursive'], server);
    expect(ls.stdout.trim()).toBe('');
    const list = await awsJson(['s3api', 'list-objects-v2', '--bucket', bucket], server);
    expect(list.Contents).toBeUndefined();
  }, bigTimeoutMs);

  it('aws s3 rb removes the bucket', async () => {
    const rb = await aws(['s3', 'rb', `s3://${bucket}`], server);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stdout).toContain(`remove_bucket: ${bucket}`);
    const ls = await awsOk(['s3', 'ls'], server);
    expect(ls).not.toContain(bucket);
    const head = await aws(['s3api', 'head-bucket', '--bucket', bucket], server);
    expect(head.code).not.toBe(0);
    expect(head.stderr).toMatch(/404|Not Found/);
  });
});
