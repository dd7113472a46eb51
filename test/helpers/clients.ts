// Real S3 clients pointed at a test server: aws cli v1, python3 + boto3 scripts, rclone and s3cmd
// with config files in a temp dir, and @aws-sdk/client-s3 v3 with an https agent that trusts the
// server's self-signed certificate.
import { spawn, spawnSync } from 'node:child_process';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { makeTempDir, region, removeTempDir, type S3dServer } from './server.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const commandTimeoutMs = 300_000;
/** Bytes of a client's stderr/stdout and of the server log quoted in a failure message. */
const diagnosticTailBytes = 6000;

/** Runs a command (stdin: `input`, or the bytes of `inputFile`); never rejects on a non-zero exit (the caller asserts on `code`). */
export async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  opts: { input?: string; inputFile?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return await new Promise<RunResult>((resolveRun, reject) => {
    const child = spawn(command, args, { env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      stderr += `\n[killed after ${opts.timeoutMs ?? commandTimeoutMs} ms]`;
    }, opts.timeoutMs ?? commandTimeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
    // A client that exits early (e.g. on a refused request) closes stdin; that is its answer, not ours.
    child.stdin.on('error', () => undefined);
    if (opts.inputFile !== undefined) createReadStream(opts.inputFile).on('error', reject).pipe(child.stdin);
    else child.stdin.end(opts.input ?? '');
  });
}

/** `aws ARGS --endpoint-url ENDPOINT --ca-bundle CA` with the server's credentials and an isolated config. */
export async function aws(args: string[], server: S3dServer, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return await run('aws', [...args, '--endpoint-url', server.endpoint, '--ca-bundle', server.caFile], { ...server.env, ...opts.env }, opts);
}

/** Runs `aws` and throws with its output unless it exits 0; returns stdout. */
export async function awsOk(args: string[], server: S3dServer, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  const result = await aws(args, server, opts);
  if (result.code !== 0) throw new Error(`aws ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result.stdout;
}

/** Runs `aws ... --output json` and parses stdout (empty stdout -> {}). */
export async function awsJson(args: string[], server: S3dServer): Promise<Record<string, unknown>> {
  const stdout = await awsOk([...args, '--output', 'json'], server);
  return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
}

let pythonCache: string | undefined;

/** A python interpreter that can `import boto3`: $S3D_TEST_PYTHON, python3, /usr/bin/python3. */
export function pythonWithBoto3(): string {
  if (pythonCache !== undefined) return pythonCache;
  const candidates = [process.env.S3D_TEST_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import boto3'], { encoding: 'utf8' });
    if (probe.status === 0) {
      pythonCache = candidate;
      return candidate;
    }
  }
  throw new Error(`no python with boto3 among ${candidates.join(', ')}`);
}

/** Preamble of every boto3 script: `s3` is a client with boto3's default config, `ENDPOINT`, `CA`. */
export const boto3Preamble = `
import base64, hashlib, json, os, sys, zlib
import boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError
ENDPOINT = os.environ["S3_ENDPOINT"]
CA = os.environ["S3_CA_FILE"]
s3 = boto3.client("s3", endpoint_url=ENDPOINT, verify=CA, region_name="us-east-1")
def out(value):
    print("RESULT " + json.dumps(value), flush=True)
`;

/** Writes `script` (after the boto3 preamble) to a temp file and runs it with python3. */
export async function python3(script: string, server: S3dServer, args: string[] = [], timeoutMs = commandTimeoutMs): Promise<RunResult> {
  const dir = makeTempDir('py');
  try {
    const file = join(dir, 'script.py');
    writeFileSync(file, `${boto3Preamble}\n${script}\n`);
    return await run(pythonWithBoto3(), [file, ...args], server.env, { timeoutMs });
  } finally {
    removeTempDir(dir);
  }
}

/**
 * Runs a boto3 script that must exit 0 and print one `RESULT <json>` line; returns the parsed JSON.
 * A failure throws with the script's output and the tail of the server log.
 */
export async function python3Result<T = Record<string, unknown>>(script: string, server: S3dServer, args: string[] = [], timeoutMs = commandTimeoutMs): Promise<T> {
  const result = await python3(script, server, args, timeoutMs);
  const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (result.code !== 0 || line === undefined) {
    throw new Error(`python exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}\n${serverLogTail(server)}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

/** dns.lookup that maps *.localhost (virtual-host buckets) to 127.0.0.1; everything else as usual. */
export function localhostLookup(
  hostname: string,
  options: { all?: boolean } | number | undefined,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  const all = typeof options === 'object' && options !== null && options.all === true;
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dnsLookup(hostname, { all } as { all: true }, callback as never);
}

/**
 * An https agent trusting the server's CA, with standard hostname verification unless
 * `bucketHostAsLocalhost`: then `bucket.localhost` is checked as `localhost`, because no TLS stack
 * (Node, OpenSSL, curl) accepts a `*.localhost` wildcard (a wildcard right above a single label).
 */
export function trustingAgent(server: S3dServer, keepAlive = true, bucketHostAsLocalhost = false): Agent {
  return new Agent({
    ca: readFileSync(server.caFile),
    keepAlive,
    lookup: localhostLookup as never,
    ...(bucketHostAsLocalhost
      ? { checkServerIdentity: (host: string, cert: PeerCertificate) => checkServerIdentity(host.endsWith('.localhost') ? 'localhost' : host, cert) }
      : {}),
  });
}

/** @aws-sdk/client-s3 with defaults except endpoint, region, credentials, path style and the trusting agent. */
export function s3Client(server: S3dServer, opts: { forcePathStyle?: boolean; endpoint?: string; bucketHostAsLocalhost?: boolean } = {}): S3Client {
  return new S3Client({
    endpoint: opts.endpoint ?? server.endpoint,
    region,
    forcePathStyle: opts.forcePathStyle ?? true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    requestHandler: new NodeHttpHandler({ httpsAgent: trustingAgent(server, true, opts.bucketHostAsLocalhost ?? false) }),
  });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Plain https request to a full URL (e.g. a presigned URL), trusting the server's CA. */
export async function fetchUrl(url: string, server: S3dServer, opts: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  return await new Promise<HttpResult>((resolveFetch, reject) => {
    const req = httpsRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: trustingAgent(server, false) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolveFetch({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Whether the client program `binary` can be run (`binary versionArg` exits 0). Returns undefined
 * when it can, else the reason to skip. With S3D_TEST_REQUIRE_CLIENTS=1 (set by .ci/run) a missing
 * client is an error instead: CI must never pass by skipping the real-client tests.
 */
export function missingClient(binary: string, versionArg = '--version'): string | undefined {
  const probe = spawnSync(binary, [versionArg], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status === 0) return undefined;
  const reason = `${binary} is not installed or does not run (${probe.error?.message ?? `exit ${probe.status}: ${probe.stderr.trim()}`})`;
  if (process.env.S3D_TEST_REQUIRE_CLIENTS === '1') throw new Error(`${reason}; S3D_TEST_REQUIRE_CLIENTS=1 requires it (apt-get install ${binary})`);
  console.log(`skipping the ${binary} tests: ${reason}`);
  return reason;
}

function tail(text: string): string {
  return text.length > diagnosticTailBytes ? `...${text.slice(-diagnosticTailBytes)}` : text;
}

/** The last lines of the server's log, for an assertion message. */
export function serverLogTail(server: S3dServer): string {
  return `--- server log tail ---\n${tail(server.logs())}`;
}

/** The tail of a command's output and of the server log, for an assertion message. */
export function diagnostics(label: string, result: RunResult, server: S3dServer): string {
  return `${label}: exit ${result.code}\n--- stderr ---\n${tail(result.stderr)}\n--- stdout ---\n${tail(result.stdout)}\n${serverLogTail(server)}`;
}

/** An rclone config in a temp dir with one S3 remote, `tessera:`, pointed at the server. */
export interface RcloneSetup {
  readonly dir: string;
  readonly configFile: string;
  /** The remote name, without the colon. */
  readonly remote: string;
  dispose(): void;
}

/**
 * Writes rclone.conf with an S3 remote (provider Other, path style, the server's endpoint,
 * credentials and region; every other option at rclone's default, multipart settings included).
 * The CA goes on the command line (`--ca-cert`), see rclone().
 */
export function rcloneSetup(server: S3dServer): RcloneSetup {
  const dir = makeTempDir('rclone');
  const configFile = join(dir, 'rclone.conf');
  const remote = 'tessera';
  writeFileSync(
    configFile,
    [
      `[${remote}]`,
      'type = s3',
      'provider = Other',
      'env_auth = false',
      `access_key_id = ${server.accessKey}`,
      `secret_access_key = ${server.secretKey}`,
      `endpoint = ${server.endpoint}`,
      `region = ${region}`,
      'force_path_style = true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { dir, configFile, remote, dispose: () => removeTempDir(dir) };
}

/** `rclone --config FILE --ca-cert CA ARGS`; never rejects on a non-zero exit; killed after `timeoutMs`. */
export async function rclone(args: string[], setup: RcloneSetup, server: S3dServer, opts: { inputFile?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  // rclone's AWS SDK would load AWS_CA_BUNDLE itself and refuse to run with rclone's own transport.
  const env: Record<string, string> = { ...server.env, RCLONE_CONFIG: setup.configFile };
  delete env.AWS_CA_BUNDLE;
  return await run('rclone', ['--config', setup.configFile, '--ca-cert', server.caFile, ...args], env, { ...opts, cwd: setup.dir });
}

/** An s3cmd config file in a temp dir pointed at the server (path style, HTTPS with its CA). */
export interface S3cmdSetup {
  readonly dir: string;
  readonly configFile: string;
  dispose(): void;
}

/**
 * Writes an s3cmd config: host_base and host_bucket both `127.0.0.1:PORT` (no `%(bucket)s`, so path
 * style), HTTPS verified against the server's CA (ca_certs_file), SigV4 unless `signatureV2`.
 */
export function s3cmdSetup(server: S3dServer, opts: { signatureV2?: boolean } = {}): S3cmdSetup {
  const dir = makeTempDir('s3cmd');
  const configFile = join(dir, 's3cfg');
  const hostPort = new URL(server.endpoint).host;
  writeFileSync(
    configFile,
    [
      '[default]',
      `access_key = ${server.accessKey}`,
      `secret_key = ${server.secretKey}`,
      `host_base = ${hostPort}`,
      `host_bucket = ${hostPort}`,
      `bucket_location = ${region}`,
      'use_https = True',
      `ca_certs_file = ${server.caFile}`,
      'check_ssl_certificate = True',
      'check_ssl_hostname = True',
      `signature_v2 = ${opts.signatureV2 === true ? 'True' : 'False'}`,
      'progress_meter = False',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return { dir, configFile, dispose: () => removeTempDir(dir) };
}

/** `s3cmd -c FILE ARGS`; never rejects on a non-zero exit; killed after `timeoutMs` (default 120 s). */
export async function s3cmd(args: string[], setup: S3cmdSetup, server: S3dServer, opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  return await run('s3cmd', ['-c', setup.configFile, ...args], server.env, { timeoutMs: opts.timeoutMs ?? 120_000, cwd: setup.dir });
}
