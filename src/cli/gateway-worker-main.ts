// Entry of a gateway worker process: `s3d server` with config `workers` > 1 forks it
// (src/cluster/gateway-workers.ts). It takes its orders and its connections from the node's process
// over the IPC channel, ignores SIGINT (a terminal's Ctrl-C reaches the whole process group; the
// node's process stops it), and stops gracefully on SIGTERM. It ends by SIGKILL when the node's
// process goes away without stopping it, so no exit can hang on LMDB (see stopOnUnhandledErrors).
import type { Socket } from 'node:net';
import { runGatewayWorker, sendToNode, type ConnectionAcceptors, type NodeMessage } from '../cluster/gateway-worker.js';
import { cpuProfileDirEnv, installCpuProfiler } from './cpu-profile.js';
import { tuneGarbageCollectorLogged } from './gc-tuning.js';
import { makeLogger, stopOnUnhandledErrors } from './process-log.js';

/** Messages from the node's process, in order; next() waits for the next one. */
class MessageQueue {
  private readonly queued: NodeMessage[] = [];
  private waiter: ((message: NodeMessage) => void) | undefined;

  push(message: NodeMessage): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(message);
    else this.queued.push(message);
  }

  next(): Promise<NodeMessage> {
    const message = this.queued.shift();
    if (message) return Promise.resolve(message);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

async function main(): Promise<void> {
  let stoppedCleanly = false;
  process.on('exit', () => {
    if (!stoppedCleanly) process.kill(process.pid, 'SIGKILL');
  });
  const messages = new MessageQueue();
  const acceptors: ConnectionAcceptors = {};
  process.on('message', (message: NodeMessage, socket: Socket | undefined) => {
    if (message.type !== 'connection') {
      messages.push(message);
      return;
    }
    sendToNode({ type: 'accepted', id: message.id }); // the node's process may close its copy now
    const accept = acceptors[message.protocol];
    if (socket && accept) accept(socket);
    else socket?.destroy();
  });
  process.on('disconnect', () => {
    if (!stoppedCleanly) process.kill(process.pid, 'SIGKILL'); // the node's process is gone
  });
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => messages.push({ type: 'stop' }));
  sendToNode({ type: 'waiting' }); // 'message' events before a listener are lost: ask only now
  const first = await messages.next();
  if (first.type !== 'start') throw new Error(`gateway worker: expected a start message, got ${first.type}`);
  const { start } = first;
  const log = makeLogger(start.config).child({ worker: start.index });
  tuneGarbageCollectorLogged(log);
  stopOnUnhandledErrors(log);
  const finishProfile = installCpuProfiler(process.env[cpuProfileDirEnv], log);
  await runGatewayWorker(start, log, () => messages.next(), acceptors);
  await finishProfile?.();
  stoppedCleanly = true;
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`s3d gateway worker: ${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
  process.kill(process.pid, 'SIGKILL');
});
