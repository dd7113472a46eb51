// s3cmd (python, SigV4 by default) against a real s3d over HTTPS: `info` and `ws-info` read bucket
// configurations (request payment, website, lifecycle, policy, CORS, ACL), which must answer as AWS
// does for a bucket without them; `--acl-public` asks for a public object, which Tessera cannot give,
// so it is refused and stores nothing; and put/get/ls/del of a small file round-trip.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { diagnostics, missingClient, s3cmd, s3cmdSetup, type S3cmdSetup } from '../helpers/clients.js';
import { sha256File, writeRandomFile } from '../helpers/files.js';
import { makeTempDir, removeTempDir, startServer, type S3dServer } from '../helpers/server.js';

const bucket = 's3cmd-e2e';
const smallFileBytes = 100_003;

const skipReason = missingClient('s3cmd');

describe.skipIf(skipReason !== undefined)('s3cmd (SigV4, HTTPS)', () => {
  let server: S3dServer;
  let setup: S3cmdSetup;
  let work: string;

  beforeAll(async () => {
    server = await startServer();
    setup = s3cmdSetup(server);
    work = makeTempDir('s3cmd-files');
    const mb = await s3cmd(['mb', `s3://${bucket}`], setup, server);
    expect(mb.code, diagnostics('s3cmd mb', mb, server)).toBe(0);
  });
  afterAll(async () => {
    await server?.dispose();
    setup?.dispose();
    if (work !== undefined) removeTempDir(work);
  });

  it('info s3://bucket succeeds and reports what AWS reports for a bucket without configuration', async () => {
    const info = await s3cmd(['info', `s3://${bucket}`], setup, server);
    const why = diagnostics('s3cmd info', info, server);
    expect(info.code, why).toBe(0);
    expect(info.stdout, why).toContain(`s3://${bucket}/ (bucket):`);
    expect(info.stdout, why).toMatch(/Location:\s+us-east-1/);
    // GetBucketRequestPayment answers <Payer>BucketOwner</Payer> on AWS; s3cmd prints "none" when
    // the request fails (it swallows the error), so this line shows whether the read was answered.
    expect(info.stdout, why).toMatch(/Payer:\s+BucketOwner/);
    expect(info.stdout, why).toMatch(/Expiration Rule: none/);
    expect(info.stdout, why).toMatch(/Policy:\s+none/);
    expect(info.stdout, why).toMatch(/CORS:\s+none/);
    expect(info.stdout, why).toMatch(/ACL:\s+\S+: FULL_CONTROL/);
  });

  it('ws-info s3://bucket succeeds: a bucket without a website configuration', async () => {
    const wsInfo = await s3cmd(['ws-info', `s3://${bucket}`], setup, server);
    const why = diagnostics('s3cmd ws-info', wsInfo, server);
    expect(wsInfo.code, why).toBe(0);
    // What s3cmd prints when GetBucketWebsite answers 404 NoSuchWebsiteConfiguration.
    expect(wsInfo.stdout, why).toContain(`Bucket s3://${bucket}/: Unable to receive website configuration.`);
    expect(wsInfo.stderr, why).not.toMatch(/ERROR/);
  });

  it('put --acl-public is refused with 400 AccessControlListNotSupported and stores nothing', async () => {
    const local = join(work, 'public.bin');
    await writeRandomFile(local, smallFileBytes);
    const put = await s3cmd(['put', '--acl-public', local, `s3://${bucket}/public.bin`], setup, server);
    const why = diagnostics('s3cmd put --acl-public', put, server);
    expect(put.code, why).not.toBe(0);
    expect(put.stderr, why).toMatch(/400 \(AccessControlListNotSupported\)/);
    expect(put.stdout, why).not.toMatch(/Public URL/);

    const ls = await s3cmd(['ls', `s3://${bucket}/`], setup, server);
    expect(ls.code, diagnostics('s3cmd ls', ls, server)).toBe(0);
    expect(ls.stdout, diagnostics('s3cmd ls', ls, server)).not.toContain('public.bin');
    const info = await s3cmd(['info', `s3://${bucket}/public.bin`], setup, server);
    expect(info.code, diagnostics('s3cmd info (object)', info, server)).not.toBe(0);
    expect(info.stderr, diagnostics('s3cmd info (object)', info, server)).toMatch(/404/);
  });

  it('put, ls, get and del of a small file round-trip (SHA-256 equal)', async () => {
    const local = join(work, 'small.bin');
    const back = join(work, 'small.back');
    const expected = await writeRandomFile(local, smallFileBytes);
    const key = `s3://${bucket}/dir/small.bin`;

    const put = await s3cmd(['put', local, key], setup, server);
    expect(put.code, diagnostics('s3cmd put', put, server)).toBe(0);
    const ls = await s3cmd(['ls', `s3://${bucket}/dir/`], setup, server);
    expect(ls.code, diagnostics('s3cmd ls', ls, server)).toBe(0);
    expect(ls.stdout, diagnostics('s3cmd ls', ls, server)).toMatch(new RegExp(`\\s${smallFileBytes}\\s+${key}\\s*$`, 'm'));

    const get = await s3cmd(['get', key, back], setup, server);
    expect(get.code, diagnostics('s3cmd get', get, server)).toBe(0);
    expect(await sha256File(back)).toBe(expected);

    const del = await s3cmd(['del', key], setup, server);
    expect(del.code, diagnostics('s3cmd del', del, server)).toBe(0);
    const after = await s3cmd(['ls', `s3://${bucket}/dir/`], setup, server);
    expect(after.code, diagnostics('s3cmd ls (after del)', after, server)).toBe(0);
    expect(after.stdout).not.toContain('small.bin');
  });
});
