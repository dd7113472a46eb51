// The behaviour every Transport implementation must show, on real sockets on 127.0.0.1. Each
// implementation's test file calls describeTransportContract() with a factory; nothing here knows
// whether QUIC or TLS runs underneath.
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateNodeKey, identityFromPem, type NodeIdentity } from '../../../src/transport/identity.js';
import type { CallHandler, InboundCall, PeerAddress, Transport } from '../../../src/transport/transport.js';
import { TesseraError } from '../../../src/util/errors.js';
import { waitFor } from '../../helpers/wait.js';

/** The constructor options both implementations take. */
export interface ContractTransportOptions {
  identity: NodeIdentity;
  nodeId: string;
  peers: PeerAddress[];
  listen: { host: string; port: number };
  limits?: { callsPerPeerMax?: number };
}

export type MakeTransport = (options: ContractTransportOptions) => Transport;

const host = '127.0.0.1';
const MiB = 1024 * 1024;

/** A fresh Ed25519 node identity. */
export function newIdentity(): NodeIdentity {
  return identityFromPem(generateNodeKey().privateKeyPem);
}

/** `totalBytes` of pseudo-random data in `chunkBytes` chunks; `digest()` is the SHA-256 of what was yielded. */
export function patternBody(totalBytes: number, chunkBytes = 1 * MiB): { body: AsyncIterable<Uint8Array>; digest: () => string } {
  const hash = createHash('sha256');
  const block = randomBytes(chunkBytes);
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let offset = 0, index = 0; offset < totalBytes; offset += chunkBytes, index++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(chunkBytes, totalBytes - offset)));
      if (chunk.length >= 4) chunk.writeUInt32BE(index, 0); // every chunk differs, so reordering shows
      hash.update(chunk);
      yield chunk;
    }
  }
  return { body: body(), digest: () => hash.digest('hex') };
}

/** Reads `body` to its end: byte count and SHA-256. */
export async function drain(body: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** The TesseraError code `promise` rejects with (fails the test if it resolves or throws something else). */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TesseraError);
  return (err as TesseraError).code;
}

export { waitFor };

export function describeTransportContract(name: string, make: MakeTransport): void {
  describe(`${name} transport contract`, () => {
    const open: Transport[] = [];
    const a = { nodeId: 'node-a', identity: newIdentity() };
    const b = { nodeId: 'node-b', identity: newIdentity() };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((transport) => transport.close()));
    });

    function track(transport: Transport): Transport {
      open.push(transport);
      return transport;
    }

    /** Starts server B on `port` (0 = any) answering with `handler`; returns it and its port. */
    async function startServer(handler: CallHandler, port = 0, limits?: ContractTransportOptions['limits']): Promise<{ server: Transport; port: number }> {
      const server = track(make({ identity: b.identity, nodeId: b.nodeId, peers: [address(a, 1)], listen: { host, port }, ...(limits ? { limits } : {}) }));
      return { server, port: await server.listen(handler) };
    }

    /** Client A knowing B at `port`; it listens too, refusing every call. */
    async function startClient(port: number, limits?: ContractTransportOptions['limits']): Promise<Transport> {
      const client = track(make({ identity: a.identity, nodeId: a.nodeId, peers: [address(b, port)], listen: { host, port: 0 }, ...(limits ? { limits } : {}) }));
      await client.listen(async () => {
        throw new TesseraError('Unavailable', 'node-a serves nothing in these tests');
      });
      return client;
    }

    async function pair(handler: CallHandler, limits?: ContractTransportOptions['limits']): Promise<{ client: Transport; server: Transport; port: number }> {
      const { server, port } = await startServer(handler, 0, limits);
      return { client: await startClient(port, limits), server, port };
    }

    it('echoes a small header and names the authenticated caller', async () => {
      const { client } = await pair(async (call) => ({ header: { method: call.method, from: call.from, echo: call.header } }));
      const header = { shard: 7, key: 'bucket/key', bytes: new Uint8Array([1, 2, 3]) };
      const reply = await client.call(b.nodeId, { method: 'test.echo', header }, { timeoutMs: 5_000 });
      // msgpack returns binary as Buffer, which is a Uint8Array with the same bytes.
      expect(reply.header).toEqual({ method: 'test.echo', from: a.nodeId, echo: { ...header, bytes: Buffer.from([1, 2, 3]) } });
      expect((reply.header as { echo: { bytes: unknown } }).echo.bytes).toBeInstanceOf(Uint8Array);
      expect(await drain(reply.body)).toEqual({ bytes: 0, sha256: createHash('sha256').digest('hex') });
      expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0, inFlight: 0 });
    });

    it('streams a 64 MiB request body intact', async () => {
      const { client } = await pair(async (call) => ({ header: await drain(call.body) }));
      const sent = patternBody(64 * MiB);
      const reply = await client.call(b.nodeId, { method: 'test.upload', header: null, body: sent.body }, { timeoutMs: 15_000 });
      expect(reply.header).toEqual({ bytes: 64 * MiB, sha256: sent.digest() });
    });

    it('streams a 64 MiB reply body intact', async () => {
      let digest = (): string => '';
      const { client } = await pair(async () => {
        const reply = patternBody(64 * MiB);
        digest = reply.digest;
        return { header: 'download', body: reply.body };
      });
      const reply = await client.call(b.nodeId, { method: 'test.download', header: null }, { timeoutMs: 15_000 });
      const received = await drain(reply.body);
      expect(received).toEqual({ bytes: 64 * MiB, sha256: digest() });
    });

    it('echoes 16 MiB both ways at once (the handler pipes the request into the reply)', async () => {
      const { client } = await pair(async (call) => ({ header: 'echo', body: call.body }));
      const sent = patternBody(16 * MiB, 256 * 1024);
      const reply = await client.call(b.nodeId, { method: 'test.pipe', header: null, body: sent.body }, { timeoutMs: 15_000 });
      expect(await drain(reply.body)).toEqual({ bytes: 16 * MiB, sha256: sent.digest() });
    });

    it('completes a call whose handler ignores a large request body, and the peer stays usable', async () => {
      const { client } = await pair(async (call) => ({ header: call.method === 'test.ignore' ? 'ignored' : 'next' }));
      const reply = await client.call(b.nodeId, { method: 'test.ignore', header: null, body: patternBody(32 * MiB).body }, { timeoutMs: 10_000 });
      expect(reply.header).toBe('ignored');
      expect((await drain(reply.body)).bytes).toBe(0);
      const next = await client.call(b.nodeId, { method: 'test.next', header: null }, { timeoutMs: 5_000 });
      expect(next.header).toBe('next');
    });

    it("delivers a handler's TesseraError with its code, message and the remote node; other errors as RemoteError", async () => {
      const { client } = await pair(async (call) => {
        if (call.method === 'test.tessera') throw new TesseraError('ShardNotFound', 'shard 3 of x is missing', { shard: 3 });
        throw new Error('handler bug');
      });
      const err = await client.call(b.nodeId, { method: 'test.tessera', header: null }, { timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TesseraError);
      expect(err).toMatchObject({ code: 'ShardNotFound', message: 'shard 3 of x is missing', details: { shard: 3, remoteNode: b.nodeId } });
      expect(await rejectionCode(client.call(b.nodeId, { method: 'test.plain', header: null }, { timeoutMs: 5_000 }))).toBe('RemoteError');
      expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 }); // handler errors prove the peer is up
    });

    it('fails with CallTimeout when the handler never answers, and aborts the handler', async () => {
      let handlerSignal: AbortSignal | undefined;
      const { client } = await pair(async (call) => {
        handlerSignal = call.signal;
        return new Promise(() => {});
      });
      const started = Date.now();
      expect(await rejectionCode(client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 300 }))).toBe('CallTimeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(2_000);
      await waitFor(() => handlerSignal?.aborted === true, 2_000, 'the handler signal to abort');
      expect(client.health(b.nodeId).inFlight).toBe(0);
    });

    it('fails with CallTimeout while the reply body is still arriving', async () => {
      const { client } = await pair(async (call) => ({
        header: 'slow',
        body: (async function* slow(): AsyncGenerator<Uint8Array> {
          yield new Uint8Array(10);
          await new Promise((resolve) => call.signal.addEventListener('abort', resolve));
        })(),
      }));
      const reply = await client.call(b.nodeId, { method: 'test.slow', header: null }, { timeoutMs: 400 });
      expect(reply.header).toBe('slow');
      expect(await rejectionCode(drain(reply.body))).toBe('CallTimeout');
    });

    it('fails with CallAborted when the caller aborts, and aborts the handler', async () => {
      let handlerSignal: AbortSignal | undefined;
      const { client } = await pair(async (call) => {
        handlerSignal = call.signal;
        return new Promise(() => {});
      });
      const controller = new AbortController();
      const pending = client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 5_000, signal: controller.signal });
      await waitFor(() => handlerSignal !== undefined, 2_000, 'the handler to start');
      controller.abort();
      expect(await rejectionCode(pending)).toBe('CallAborted');
      await waitFor(() => handlerSignal?.aborted === true, 2_000, 'the handler signal to abort');
    });

    it('serves 16 concurrent calls at once, each with its own reply', async () => {
      let arrived = 0;
      let allArrived: () => void = () => {};
      const barrier = new Promise<void>((resolve) => (allArrived = resolve));
      const { client } = await pair(async (call) => {
        if (++arrived === 16) allArrived();
        await barrier; // only resolves if all 16 are in their handlers at the same time
        return { header: call.header, body: patternBody(256 * 1024).body };
      });
      const replies = await Promise.all(
        Array.from({ length: 16 }, async (_, index) => {
          const reply = await client.call(b.nodeId, { method: 'test.concurrent', header: index }, { timeoutMs: 5_000 });
          return { header: reply.header, bytes: (await drain(reply.body)).bytes };
        }),
      );
      expect(replies).toEqual(Array.from({ length: 16 }, (_, index) => ({ header: index, bytes: 256 * 1024 })));
    });

    it('keeps at most callsPerPeerMax calls in flight to one peer', async () => {
      let running = 0;
      let most = 0;
      const { client } = await pair(
        async () => {
          most = Math.max(most, ++running);
          await new Promise((resolve) => setTimeout(resolve, 50));
          running--;
          return { header: 'ok' };
        },
        { callsPerPeerMax: 2 },
      );
      // A call holds its slot until its reply body is consumed, so each reply is drained.
      const headers = await Promise.all(Array.from({ length: 6 }, () => callAndDrain(client, 'test.slot', null, 5_000)));
      expect(headers).toEqual(Array(6).fill('ok'));
      expect(most).toBe(2);
    });

    it('refuses an inbound caller whose key is not a configured peer', async () => {
      let handled = 0;
      const { port } = await startServer(async () => {
        handled++;
        return { header: 'should not happen' };
      });
      const stranger = track(make({ identity: newIdentity(), nodeId: a.nodeId, peers: [address(b, port)], listen: { host, port: 0 } }));
      const code = await rejectionCode(stranger.call(b.nodeId, { method: 'test.intrude', header: null }, { timeoutMs: 3_000 }));
      expect(['PeerUnreachable', 'PeerNotAuthorized']).toContain(code);
      expect(handled).toBe(0);
    });

    it('refuses to call a server that does not hold the dialed node key', async () => {
      let handled = 0;
      const impostor = track(make({ identity: newIdentity(), nodeId: b.nodeId, peers: [address(a, 1)], listen: { host, port: 0 } }));
      const port = await impostor.listen(async () => {
        handled++;
        return { header: 'impostor' };
      });
      const client = await startClient(port);
      expect(await rejectionCode(client.call(b.nodeId, { method: 'test.secret', header: 'shard bytes' }, { timeoutMs: 3_000 }))).toBe('PeerNotAuthorized');
      expect(handled).toBe(0);
    });

    it('throws PeerUnknown for a node id that is not a peer', async () => {
      const { client } = await pair(async () => ({ header: 'ok' }));
      expect(await rejectionCode(client.call('node-z', { method: 'test.x', header: null }, { timeoutMs: 1_000 }))).toBe('PeerUnknown');
      expect(() => client.health('node-z')).toThrow(expect.objectContaining({ code: 'PeerUnknown' }));
    });

    it('reconnects after the peer restarts on the same address', async () => {
      const handler: CallHandler = async (call: InboundCall) => ({ header: call.header });
      const { server, port } = await startServer(handler);
      const client = await startClient(port);
      expect(await callAndDrain(client, 'test.ping', 1, 3_000)).toBe(1);
      await server.close();
      expect(await rejectionCode(callAndDrain(client, 'test.ping', 2, 1_000))).toMatch(/^(PeerUnreachable|CallTimeout)$/);
      await startServer(handler, port);
      await waitFor(
        () =>
          callAndDrain(client, 'test.ping', 3, 1_000).then(
            (header) => header === 3,
            () => false,
          ),
        8_000,
        'a call to the restarted peer to succeed',
      );
    });

    it('reports a stopped peer down, and up again once it is back', async () => {
      const handler: CallHandler = async () => ({ header: 'ok' });
      const { server, port } = await startServer(handler);
      const client = await startClient(port);
      await callAndDrain(client, 'test.ping', null, 3_000);
      expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 });
      expect(client.health(b.nodeId).lastOkMs).toBeGreaterThan(Date.now() - 5_000);
      await server.close();
      const tryCall = (): Promise<boolean> =>
        callAndDrain(client, 'test.ping', null, 500).then(
          () => true,
          () => false,
        );
      await waitFor(async () => (await tryCall(), !client.health(b.nodeId).up), 8_000, 'the peer to be reported down');
      expect(client.health(b.nodeId).consecutiveFailures).toBeGreaterThanOrEqual(2);
      expect(client.health(b.nodeId).lastError).toBeTruthy();
      await startServer(handler, port);
      await waitFor(async () => (await tryCall()) && client.health(b.nodeId).up, 8_000, 'the peer to be reported up');
      expect(client.health(b.nodeId).consecutiveFailures).toBe(0);
    });

    it('close() fails calls in flight and later calls with TransportClosed, and aborts handlers', async () => {
      let handlerSignal: AbortSignal | undefined;
      const { client, server } = await pair(async (call) => {
        handlerSignal = call.signal;
        return new Promise(() => {});
      });
      const pending = client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 5_000 });
      await waitFor(() => handlerSignal !== undefined, 2_000, 'the handler to start');
      const closing = client.close();
      expect(await rejectionCode(pending)).toBe('TransportClosed');
      await closing;
      expect(await rejectionCode(client.call(b.nodeId, { method: 'test.x', header: null }, { timeoutMs: 1_000 }))).toBe('TransportClosed');
      await waitFor(() => handlerSignal?.aborted === true, 3_000, 'the handler signal to abort');
      await server.close();
    });
  });
}

/** Calls node-b and reads the whole reply; returns the reply header. */
async function callAndDrain(client: Transport, method: string, header: unknown, timeoutMs: number): Promise<unknown> {
  const reply = await client.call('node-b', { method, header }, { timeoutMs });
  await drain(reply.body);
  return reply.header;
}

function address(node: { nodeId: string; identity: NodeIdentity }, port: number): PeerAddress {
  return { nodeId: node.nodeId, host, port, publicKey: node.identity.publicKey };
}
