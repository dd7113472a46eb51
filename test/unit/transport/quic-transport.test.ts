// QuicTransport over real QUIC on 127.0.0.1: small and 64 MiB calls, remote errors, deadlines,
// refusal of unknown keys in both directions, concurrency, peer restart and health.
import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/util/errors.js';
import { callFailuresToDown } from '../../../src/util/limits.js';
import { generateNodeKey, identityFromPem, type NodeIdentity } from '../../../src/transport/identity.js';
import { QuicTransport, type QuicTransportLimits } from '../../../src/transport/quic-transport.js';
import type { CallHandler, InboundCall, PeerAddress, Reply } from '../../../src/transport/transport.js';
import { waitFor } from '../../helpers/wait.js';
import { freeUdpPort } from '../../helpers/server.js';

const MiB = 1024 * 1024;
const testLimits: Partial<QuicTransportLimits> = { handshakeTimeoutMs: 500, connectionIdleTimeoutMs: 3_000, keepAliveIntervalMs: 500 };

interface Node {
  nodeId: string;
  identity: NodeIdentity;
  /** PKCS#8 PEM of the identity's private key. */
  pem: string;
  port: number;
  peer: PeerAddress;
}

const open: QuicTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((transport) => transport.close()));
});

async function node(nodeId: string): Promise<Node> {
  const pem = generateNodeKey().privateKeyPem;
  const identity = identityFromPem(pem);
  const port = await freeUdpPort();
  return { nodeId, identity, pem, port, peer: { nodeId, host: '127.0.0.1', port, publicKey: identity.publicKey } };
}

async function start(self: Node, peers: PeerAddress[], handler?: CallHandler): Promise<QuicTransport> {
  const transport = new QuicTransport({ identity: self.identity, nodeId: self.nodeId, peers, listen: { host: '127.0.0.1', port: self.port }, limits: testLimits });
  open.push(transport);
  if (handler !== undefined) await transport.listen(handler);
  return transport;
}

async function* chunks(data: Buffer, chunkBytes: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += chunkBytes) yield data.subarray(at, at + chunkBytes);
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Reads a reply's body to the end (the contract: consume it or return its iterator). */
async function drain(reply: Promise<Reply>): Promise<Reply> {
  const done = await reply;
  await collect(done.body);
  return done;
}

/**
 * Node `b` in a child process (the built transport in dist/), so the test can SIGKILL it: it
 * answers every call with its pid and prints "ready" once listening.
 */
async function startPeerProcess(self: Node, peers: PeerAddress[]): Promise<ChildProcess> {
  const transportModule = fileURLToPath(new URL('../../../dist/src/transport/quic-transport.js', import.meta.url));
  const identityModule = fileURLToPath(new URL('../../../dist/src/transport/identity.js', import.meta.url));
  const script = `
    const { QuicTransport } = await import(${JSON.stringify(transportModule)});
    const { identityFromPem } = await import(${JSON.stringify(identityModule)});
    const options = JSON.parse(process.argv[1]);
    const transport = new QuicTransport({ ...options, identity: identityFromPem(options.pem) });
    await transport.listen(async () => ({ header: { pid: process.pid } }));
    process.stdout.write('ready\\n');`;
  const options = { pem: self.pem, nodeId: self.nodeId, peers, listen: { host: '127.0.0.1', port: self.port }, limits: testLimits };
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`peer process exited with ${code}`)));
  });
  return child;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** The test service: echo (header and body), fail (a TesseraError), hang (until the signal). */
function service(log: { calls: InboundCall[]; aborted: string[]; active: number; maxActive: number }): CallHandler {
  return async (call) => {
    log.calls.push(call);
    log.active++;
    log.maxActive = Math.max(log.maxActive, log.active);
    try {
      if (call.method === 'echo') return { header: { echoed: call.header, from: call.from }, body: call.body };
      if (call.method === 'slow-echo') {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return { header: call.header };
      }
      if (call.method === 'fail') throw new TesseraError('ShardNotFound', 'shard 3 is missing', { shard: 3 });
      if (call.method === 'hang') {
        await new Promise<void>((resolve) => call.signal.addEventListener('abort', () => resolve(), { once: true }));
        log.aborted.push(call.method);
        throw call.signal.reason;
      }
      throw new Error(`no method ${call.method}`);
    } finally {
      log.active--;
    }
  };
}

const newLog = () => ({ calls: [] as InboundCall[], aborted: [] as string[], active: 0, maxActive: 0 });


describe('QuicTransport', () => {
  it('echoes a small header and reports the authenticated caller', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await start(b, [a.peer, b.peer], service(newLog()));
    const client = await start(a, [a.peer, b.peer]);
    const header = { shard: 7, key: new Uint8Array([1, 2, 3]), name: 'x' };
    const reply = await client.call('b', { method: 'echo', header }, { timeoutMs: 5_000 });
    // Binary stays binary: msgpack bin arrives as a Buffer (a Uint8Array).
    expect(reply.header).toEqual({ echoed: { ...header, key: Buffer.from([1, 2, 3]) }, from: 'a' });
    expect((await collect(reply.body)).length).toBe(0);
    expect(client.health('b')).toMatchObject({ up: true, consecutiveFailures: 0, inFlight: 0 });
    await expect(client.call('zz', { method: 'echo', header: 1 }, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'PeerUnknown' });
  });

  it('carries 64 MiB each way on one call, byte for byte', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await start(b, [a.peer, b.peer], service(newLog()));
    const client = await start(a, [a.peer, b.peer]);
    const data = randomBytes(64 * MiB);
    const reply = await client.call('b', { method: 'echo', header: null, body: chunks(data, MiB) }, { timeoutMs: 15_000 });
    const received = await collect(reply.body);
    expect(received.length).toBe(data.length);
    expect(sha256(received)).toBe(sha256(data));
    expect(client.health('b').inFlight).toBe(0);
  });

  it('delivers a handler TesseraError with its code, message and details', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await start(b, [a.peer, b.peer], service(newLog()));
    const client = await start(a, [a.peer, b.peer]);
    const error = await client.call('b', { method: 'fail', header: null }, { timeoutMs: 5_000 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ code: 'ShardNotFound', message: 'shard 3 is missing', details: { shard: 3, remoteNode: 'b' } });
    await expect(client.call('b', { method: 'nope', header: null }, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'RemoteError' });
    expect(client.health('b').up).toBe(true); // handler errors prove the peer is up
  });

  it('fails a call whose handler never answers with CallTimeout, and aborts the handler', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const log = newLog();
    await start(b, [a.peer, b.peer], service(log));
    const client = await start(a, [a.peer, b.peer]);
    await drain(client.call('b', { method: 'echo', header: 0 }, { timeoutMs: 5_000 })); // connect first
    const startedMs = Date.now();
    const error = await client.call('b', { method: 'hang', header: null }, { timeoutMs: 300 }).catch((err: unknown) => err);
    const elapsedMs = Date.now() - startedMs;
    expect(error).toMatchObject({ code: 'CallTimeout' });
    expect(elapsedMs).toBeGreaterThanOrEqual(290);
    expect(elapsedMs).toBeLessThan(800);
    await waitFor(() => log.aborted.length === 1, 2_000, 'the handler to be aborted'); // the callee's deadline (t) aborted the handler
    expect(client.health('b').inFlight).toBe(0);
    const controller = new AbortController();
    const aborted = client.call('b', { method: 'hang', header: null }, { timeoutMs: 5_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(aborted).rejects.toMatchObject({ code: 'CallAborted' });
  });

  it('times out while the reply body is still arriving, and frees the slot of a returned body', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await start(b, [a.peer, b.peer], async () => ({
      header: 'slow',
      body: (async function* () {
        for (;;) {
          yield Buffer.alloc(1024);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
    }));
    const client = await start(a, [a.peer, b.peer]);
    const reply = await client.call('b', { method: 'stream', header: null }, { timeoutMs: 400 });
    expect(reply.header).toBe('slow');
    await expect(collect(reply.body)).rejects.toMatchObject({ code: 'CallTimeout' });
    expect(client.health('b').inFlight).toBe(0);
    const early = await client.call('b', { method: 'stream', header: null }, { timeoutMs: 5_000 });
    expect(client.health('b').inFlight).toBe(1);
    for await (const chunk of early.body) {
      expect(chunk.length).toBeGreaterThan(0);
      break; // returns the iterator
    }
    expect(client.health('b').inFlight).toBe(0);
  });

  it('refuses an inbound connection from a key that is not in the peer list', async () => {
    const [a, b, stranger] = [await node('a'), await node('b'), await node('a')];
    const log = newLog();
    const server = await start(b, [a.peer, b.peer], service(log));
    // The stranger claims to be node a and knows b's real key, but its own key is not listed at b.
    const client = await start(stranger, [stranger.peer, b.peer]);
    await expect(client.call('b', { method: 'echo', header: 1 }, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: expect.stringMatching(/PeerUnreachable|CallTimeout/) });
    expect(log.calls.length).toBe(0);
    expect(server.stats().refusedConnections).toBeGreaterThanOrEqual(1);
  });

  it('refuses to call a peer that presents another key than the configured one', async () => {
    const [a, b, impostor] = [await node('a'), await node('b'), await node('b')];
    const log = newLog();
    await start(b, [a.peer, b.peer], service(log));
    // a's list says node b has the impostor's key at b's real address.
    const client = await start(a, [a.peer, { ...b.peer, publicKey: impostor.identity.publicKey }]);
    await expect(client.call('b', { method: 'echo', header: 1 }, { timeoutMs: 2_000 })).rejects.toMatchObject({ code: 'PeerNotAuthorized' });
    expect(log.calls.length).toBe(0);
    expect(client.health('b').consecutiveFailures).toBe(1);
  });

  it('runs 16 calls concurrently on one connection', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const log = newLog();
    await start(b, [a.peer, b.peer], service(log));
    const client = await start(a, [a.peer, b.peer]);
    await drain(client.call('b', { method: 'echo', header: 0 }, { timeoutMs: 5_000 }));
    const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => client.call('b', { method: 'slow-echo', header: { i } }, { timeoutMs: 5_000 })));
    expect(replies.map((reply) => reply.header)).toEqual(Array.from({ length: 16 }, (_, i) => ({ i })));
    await Promise.all(replies.map((reply) => collect(reply.body)));
    expect(log.maxActive).toBe(16);
    expect(client.health('b').inFlight).toBe(0);
  });

  it('reconnects to a restarted peer, and health follows the peer down and up', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const first = await start(b, [a.peer, b.peer], service(newLog()));
    const client = await start(a, [a.peer, b.peer]);
    await drain(client.call('b', { method: 'echo', header: 1 }, { timeoutMs: 5_000 }));
    expect(client.health('b').up).toBe(true);

    await first.close();
    await waitFor(() => !client.health('b').up, 3_000, 'the peer to be reported down');
    await expect(client.call('b', { method: 'echo', header: 2 }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: expect.stringMatching(/PeerUnreachable|CallTimeout/) });

    await start(b, [a.peer, b.peer], service(newLog()));
    await waitFor(() => client.health('b').up, 5_000, 'the peer to be reported up'); // the background reconnect found it
    const reply = await drain(client.call('b', { method: 'echo', header: 3 }, { timeoutMs: 2_000 }));
    expect(reply.header).toEqual({ echoed: 3, from: 'a' });
    expect(client.health('b').consecutiveFailures).toBe(0);
  });

  it('reaches a peer that was SIGKILLed and restarted long before the old connection would idle out', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const children: ChildProcess[] = [];
    try {
      children.push(await startPeerProcess(b, [a.peer, b.peer]));
      // With a 60 s idle timeout, only noticing the silent connection gets the client through.
      const client = new QuicTransport({ identity: a.identity, nodeId: 'a', peers: [a.peer, b.peer], listen: { host: '127.0.0.1', port: a.port }, limits: { ...testLimits, connectionIdleTimeoutMs: 60_000 } });
      open.push(client);
      const first = await drain(client.call('b', { method: 'pid', header: null }, { timeoutMs: 5_000 }));
      expect(first.header).toEqual({ pid: children[0]!.pid });

      children[0]!.kill('SIGKILL');
      await new Promise((resolve) => children[0]!.once('exit', resolve));
      children.push(await startPeerProcess(b, [a.peer, b.peer]));

      const errors: string[] = [];
      const end = Date.now() + 20_000;
      let reply: Reply | undefined;
      while (reply === undefined && Date.now() < end) {
        reply = await drain(client.call('b', { method: 'pid', header: null }, { timeoutMs: 500 })).catch((err: TesseraError) => {
          errors.push(err.code);
          return undefined;
        });
        if (reply === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(reply?.header, `errors before the restarted peer answered: ${errors.join(', ')}`).toEqual({ pid: children[1]!.pid });
      expect(errors.every((code) => code === 'CallTimeout' || code === 'PeerUnreachable')).toBe(true);
      // The link drops the connection once callFailuresToDown calls time out on it, then reconnects
      // after a short backoff (calls meanwhile fail at once); waiting out the idle timeout instead
      // fails about 40 calls.
      expect(errors.filter((code) => code === 'CallTimeout').length, errors.join()).toBeLessThanOrEqual(callFailuresToDown);
      expect(errors.length, errors.join()).toBeLessThanOrEqual(10);
    } finally {
      for (const child of children) child.kill('SIGKILL');
    }
  });

  it('fails calls in flight with TransportClosed on close, and later calls at once', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await start(b, [a.peer, b.peer], service(newLog()));
    const client = await start(a, [a.peer, b.peer]);
    await drain(client.call('b', { method: 'echo', header: 0 }, { timeoutMs: 5_000 }));
    const pending = client.call('b', { method: 'hang', header: null }, { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'TransportClosed' });
    await expect(client.call('b', { method: 'echo', header: 0 }, { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'TransportClosed' });
  });
});
