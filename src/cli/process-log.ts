// What every s3d server process (the node's own and each gateway worker) sets up first: its pino
// logger, and the rule that an error nothing handled ends the process at once.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config/config.js';

/** JSON lines on stdout (pretty when config.log.pretty), written synchronously, with the pid in each. */
export function makeLogger(config: Config): Logger {
  const options = { level: config.log.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (config.log.pretty) return pino(options, pretty({ colorize: true, sync: true }));
  return pino(options, pino.destination({ sync: true }));
}

/**
 * An uncaught exception or unhandled rejection in a running server is a bug: log it and end the
 * process at once by SIGKILL. Node's own exit (and process.exit) joins libuv's worker threads, and
 * LMDB's write thread may be waiting for a transaction callback on this (the main) thread, so that
 * exit can hang forever with the ports still open and nothing answered (seen: a full metadata disk
 * once made lmdb-js reject a promise nobody held). A killed process cannot hang, and LMDB's
 * commits are crash-safe.
 */
export function stopOnUnhandledErrors(log: Logger): void {
  const fatal = (err: unknown, origin: string): void => {
    log.fatal({ err, origin }, 's3d stops: an error nothing handled');
    process.kill(process.pid, 'SIGKILL');
  };
  process.on('uncaughtException', (err) => fatal(err, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => fatal(reason, 'unhandledRejection'));
}

