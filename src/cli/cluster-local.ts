// `s3d cluster start|stop --dir DIR`: runs every DIR/node-*.yaml as a background `s3d server`
// (logs in DIR/node-i.log, pids in DIR/node-i.pid) and stops them: the one-command local cluster
// behind `make cluster`.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../util/errors.js';
import { processAlive as alive } from '../util/process-alive.js';

/** How long `start` waits for every node's ready line, in ms. */
export const clusterStartTimeoutMs = 60_000;
/** How long `stop` waits for the processes to exit after SIGTERM, in ms. */
export const clusterStopTimeoutMs = 30_000;

const s3dBin = fileURLToPath(new URL('../../../bin/s3d', import.meta.url));

async function nodeConfigs(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^node-\d+\.yaml$/.test(n));
  return names.sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0])).map((n) => join(dir, n));
}


async function pidOf(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/**
 * The "s3d ready" line that process `pid` wrote to its (appended) log, or undefined. Lines of
 * earlier runs in the same log carry other pids and never count: a node is ready only once the
 * process just started is listening.
 */
export function readyLineOf(log: string, pid: number): { endpoints: string[] } | undefined {
  for (const match of [...log.matchAll(/^\{.*"msg":"s3d ready".*\}$/gm)].reverse()) {
    try {
      const line = JSON.parse(match[0]) as { pid?: number; endpoints?: string[] };
      if (line.pid === pid && Array.isArray(line.endpoints)) return { endpoints: line.endpoints };
    } catch {
      // a torn line (the node is writing it now): read again on the next poll
    }
  }
  return undefined;
}

/**
 * Starts each node of DIR in the background and waits for all ready lines. Returns each node's
 * S3 endpoint. Throws InvalidConfig when DIR has no node configs, NodeStartFailed when a node
 * exits or is not ready within clusterStartTimeoutMs (its log is named).
 */
export async function startLocalCluster(dirArg: string): Promise<string[]> {
  const dir = resolve(dirArg);
  const configs = await nodeConfigs(dir);
  if (configs.length === 0) throw new TesseraError('InvalidConfig', `${dir} holds no node-*.yaml; run s3d cluster init --out ${dir} first`);
  const endpoints: string[] = [];
  const pending: Array<{ log: string; pid: number }> = [];
  for (const config of configs) {
    const base = config.replace(/\.yaml$/, '');
    const running = await pidOf(`${base}.pid`);
    if (running !== undefined) {
      pending.push({ log: `${base}.log`, pid: running });
      continue;
    }
    const out = openSync(`${base}.log`, 'a');
    const child = spawn(process.execPath, [s3dBin, 'server', '--config', config], { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.unref();
    await writeFile(`${base}.pid`, `${child.pid}\n`);
    pending.push({ log: `${base}.log`, pid: child.pid! });
  }
  const deadline = Date.now() + clusterStartTimeoutMs;
  for (const node of pending) {
    for (;;) {
      const log = await readFile(node.log, 'utf8').catch(() => '');
      const ready = readyLineOf(log, node.pid);
      if (ready) {
        endpoints.push(...ready.endpoints.slice(0, 1));
        break;
      }
      if (!alive(node.pid)) throw new TesseraError('NodeStartFailed', `a node exited during start-up; see ${node.log}`);
      if (Date.now() > deadline) throw new TesseraError('NodeStartFailed', `a node was not ready within ${clusterStartTimeoutMs} ms; see ${node.log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return endpoints;
}

/** Sends SIGTERM to every running node of DIR and waits for them to exit; returns how many stopped. */
export async function stopLocalCluster(dirArg: string): Promise<number> {
  const dir = resolve(dirArg);
  let stopped = 0;
  const pids: number[] = [];
  for (const config of await nodeConfigs(dir)) {
    const pidFile = config.replace(/\.yaml$/, '.pid');
    const pid = await pidOf(pidFile);
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM');
      pids.push(pid);
    }
    await rm(pidFile, { force: true });
  }
  const deadline = Date.now() + clusterStopTimeoutMs;
  for (const pid of pids) {
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    stopped++;
  }
  return stopped;
}
