// Child entry point of the bench's peer server: runs s3rver (npm, CommonJS) over HTTPS in this process,
// so the bench samples this pid's CPU and RSS from /proc exactly as it does for s3d. Started by
// peer-process.ts (which imports only the constants: main runs when this file is the entry point);
// prints one JSON ready line to stdout, closes on SIGTERM or SIGINT.
//
//   node dist/bench/peer-s3rver.js --directory DIR --port N --cert-file PEM --key-file PEM

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The `msg` of the JSON line printed once s3rver listens; peer-process.ts waits for it. */
export const peerReadyMessage = 's3rver ready';
/**
 * After SIGTERM, open keep-alive or in-flight connections get this long to finish before the process
 * exits anyway (below peer-process.ts's SIGKILL bound, so a normal stop ends with exit 0).
 */
export const peerCloseGraceMs = 5_000;

/** The subset of s3rver 3.7.1's constructor options this entry point sets (see its README). */
interface S3rverOptions {
  address: string;
  port: number;
  key: Buffer;
  cert: Buffer;
  /**
   * Drops the per-request koa-logger line and every other log line (winston Console transport silenced),
   * including the error behind a 500 InternalError: rerun with silent false to see one.
   */
  silent: boolean;
  directory: string;
  resetOnClose: boolean;
  /** Path-style only: the bench never sends bucket.host requests. */
  vhostBuckets: boolean;
  configureBuckets: readonly [];
}

/** The part of an S3rver instance used here; s3rver ships no TypeScript types. */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer: Server & { closeAllConnections(): void };
}

type S3rverConstructor = new (options: S3rverOptions) => S3rverInstance;

function parseOptions(): { directory: string; port: number; certFile: string; keyFile: string } {
  const { values } = parseArgs({
    options: {
      directory: { type: 'string' },
      port: { type: 'string' },
      'cert-file': { type: 'string' },
      'key-file': { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (values.directory === undefined || values['cert-file'] === undefined || values['key-file'] === undefined) {
    throw new Error('usage: peer-s3rver --directory DIR --port N --cert-file PEM --key-file PEM');
  }
  if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new Error(`--port ${values.port}: not a TCP port`);
  return { directory: values.directory, port, certFile: values['cert-file'], keyFile: values['key-file'] };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const instance = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    key: readFileSync(options.keyFile),
    cert: readFileSync(options.certFile),
    silent: true,
    directory: options.directory,
    // The bench deletes the work dir itself, and keeps it with --keep-data.
    resetOnClose: false,
    vhostBuckets: false,
    configureBuckets: [],
  });
  const address = await instance.run();
  process.stdout.write(`${JSON.stringify({ msg: peerReadyMessage, address: address.address, port: address.port, pid: process.pid })}\n`);

  let closing = false;
  const close = (): void => {
    if (closing) return;
    closing = true;
    setTimeout(() => {
      instance.httpServer.closeAllConnections();
      process.exit(0);
    }, peerCloseGraceMs).unref();
    instance.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`s3rver close failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', close);
  process.on('SIGINT', close);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`peer-s3rver: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
