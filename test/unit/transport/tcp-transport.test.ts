// TcpTransport on real sockets on 127.0.0.1: the shared transport contract, plus what only the
// TCP transport shows (per-frame checksums against bytes flipped on the wire, its handshake's
// refusals, connection pooling, bounded buffering for a slow reader, reply-body failures).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { wasmCrc32c, crc32c } from '../../../src/transport/crc32c.js';
import { packFrame } from '../../../src/transport/framing.js';
import type { NodeIdentity } from '../../../src/transport/identity.js';
import { handshake } from '../../../src/transport/tcp-handshake.js';
import { FramedSocket, FrameType } from '../../../src/transport/tcp-frames.js';
import { TcpTransport, type TcpTransportLimits } from '../../../src/transport/tcp-transport.js';
import type { CallHandler } from '../../../src/transport/transport.js';
import { TesseraError } from '../../../src/util/errors.js';
import { callHeaderMaxBytes, tcpCoalesceMaxBytes, tcpHandshakeFrameMaxBytes } from '../../../src/util/limits.js';
import { describeTransportContract, drain, newIdentity, patternBody, rejectionCode, waitFor } from './transport-contract.js';

describeTransportContract('TCP', (options) => new TcpTransport(options));

const host = '127.0.0.1';
const MiB = 1024 * 1024;

describe('TcpTransport', () => {
  const a = { nodeId: 'node-a', identity: newIdentity() };
  const b = { nodeId: 'node-b', identity: newIdentity() };
  const open: Array<{ close: () => unknown }> = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((item) => item.close()));
  });

  /** Server B answering with `handler`, and client A dialing it (at the port `dialPort` returns, e.g. a relay's). */
  async function pair(handler: CallHandler, limits?: Partial<TcpTransportLimits>, dialPort?: (port: number) => Promise<number>): Promise<{ client: TcpTransport; server: TcpTransport; port: number }> {
    const server = new TcpTransport({ identity: b.identity, nodeId: b.nodeId, peers: [{ nodeId: a.nodeId, host, port: 1, publicKey: a.identity.publicKey }], listen: { host, port: 0 }, ...(limits ? { limits } : {}) });
    open.push(server);
    const port = await server.listen(handler);
    const peerPort = dialPort ? await dialPort(port) : port;
    const client = new TcpTransport({ identity: a.identity, nodeId: a.nodeId, peers: [{ nodeId: b.nodeId, host, port: peerPort, publicKey: b.identity.publicKey }], listen: { host, port: 0 }, ...(limits ? { limits } : {}) });
    open.push(client);
    return { client, server, port };
  }

  /** A TCP relay to `port` that inverts the byte at `offset` of one direction's stream (first connection only). */
  async function corruptingRelay(port: number, direction: 'to-server' | 'to-client', offset: number): Promise<number> {
    const sockets: net.Socket[] = [];
    let corrupted = false;
    const server = net.createServer((inbound) => {
      const outbound = net.connect(port, host);
      sockets.push(inbound, outbound);
      for (const socket of [inbound, outbound]) socket.on('error', () => {});
      const [from, to] = direction === 'to-server' ? [inbound, outbound] : [outbound, inbound];
      let seen = 0;
      from.on('data', (data: Buffer) => {
        if (!corrupted && offset >= seen && offset < seen + data.length) {
          data = Buffer.from(data);
          data[offset - seen] = data[offset - seen]! ^ 0xff;
          corrupted = true;
        }
        seen += data.length;
        to.write(data);
      });
      (direction === 'to-server' ? outbound : inbound).pipe(direction === 'to-server' ? inbound : outbound);
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    open.push({ close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    } });
    return (server.address() as net.AddressInfo).port;
  }

  /** Reads `body` until it ends or fails: the bytes delivered and the error, if any. */
  async function readUntilError(body: AsyncIterable<Uint8Array>): Promise<{ received: Buffer; error?: unknown }> {
    const parts: Uint8Array[] = [];
    try {
      for await (const chunk of body) parts.push(Buffer.from(chunk));
      return { received: Buffer.concat(parts) };
    } catch (error) {
      return { received: Buffer.concat(parts), error };
    }
  }

  async function* chunks(data: Buffer, chunkBytes: number): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < data.length; at += chunkBytes) yield data.subarray(at, at + chunkBytes);
  }

  it('is the tcp kind', async () => {
    const { client } = await pair(async () => ({ header: null }));
    expect(client.kind).toBe('tcp');
  });

  it('fails a reply whose bytes were changed on the wire with PeerUnreachable (checksum) and delivers nothing of the bad frame', async () => {
    const data = randomBytes(4 * MiB);
    const flipAt = 300_000;
    const { client } = await pair(async () => ({ header: 'data', body: chunks(data, 256 * 1024) }), {}, (port) => corruptingRelay(port, 'to-client', flipAt));
    const reply = await client.call(b.nodeId, { method: 'test.download', header: null }, { timeoutMs: 5_000 });
    const { received, error } = await readUntilError(reply.body);
    expect(error).toBeInstanceOf(TesseraError);
    expect(error).toMatchObject({ code: 'PeerUnreachable', message: expect.stringMatching(/checksum/) });
    expect(received.length).toBeLessThan(flipAt); // the frame holding the flipped byte never came out
    expect(received.equals(data.subarray(0, received.length))).toBe(true);
    // The next call runs on a new connection, through the relay, whose one flip is spent.
    expect((await drain((await client.call(b.nodeId, { method: 'test.download', header: null }, { timeoutMs: 5_000 })).body)).bytes).toBe(data.length);
  });

  it('fails a request whose bytes were changed on the wire: the handler gets no bad byte and the caller PeerUnreachable', async () => {
    const data = randomBytes(4 * MiB);
    const flipAt = 300_000;
    let seen: { received: Buffer; error?: unknown } | undefined;
    const { client } = await pair(async (call) => {
      seen = await readUntilError(call.body);
      return { header: 'read' };
    }, {}, (port) => corruptingRelay(port, 'to-server', flipAt));
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.upload', header: null, body: chunks(data, 256 * 1024) }, { timeoutMs: 5_000 }))).toBe('PeerUnreachable');
    await waitFor(() => seen !== undefined, 2_000, 'the handler to finish reading');
    expect(seen?.error).toMatchObject({ code: 'PeerUnreachable', message: expect.stringMatching(/checksum/) });
    expect(seen!.received.length).toBeLessThan(flipAt);
    expect(seen!.received.equals(data.subarray(0, seen!.received.length))).toBe(true);
  });

  describe('handshake', () => {
    /** Dials `port` and runs the dialer's handshake as `identity`, accepting any server key. */
    async function dialAs(port: number, identity: NodeIdentity, nodeId: string): Promise<string> {
      const socket = net.connect(port, host);
      const connection = new FramedSocket(socket, { bodyFrameMaxBytes: MiB, headerFrameMaxBytes: callHeaderMaxBytes, handshakeFrameMaxBytes: tcpHandshakeFrameMaxBytes, readBufferBytes: 2 * MiB, coalesceMaxBytes: tcpCoalesceMaxBytes }, 'server');
      open.push({ close: () => socket.destroy() });
      await handshake(connection, identity, nodeId, 'dialer', () => 'node-b', 2_000);
      // Passed: try a call on the raw connection.
      connection.send(FrameType.RequestOnly, packFrame({ m: 'test.raw', h: null, t: 1_000 }));
      const frame = await connection.next();
      return `frame ${frame.type}`;
    }

    it('serves a listed key that proves it holds the key (so the refusals below are about the key)', async () => {
      const { server, port } = await pair(async () => ({ header: 'served' }));
      expect(await dialAs(port, a.identity, a.nodeId)).toBe(`frame ${FrameType.ReplyOnly}`);
      expect(server.stats()).toMatchObject({ acceptedConnections: 1, refusedConnections: 0 });
    });

    it('refuses a key that is not in the peer list before reading any call', async () => {
      let handled = 0;
      const { server, port } = await pair(async () => {
        handled++;
        return { header: null };
      });
      expect(await rejectionCode(dialAs(port, newIdentity(), a.nodeId))).toBe('PeerUnreachable');
      await waitFor(() => server.stats().refusedConnections === 1, 2_000, 'the refusal to be counted');
      expect(handled).toBe(0);
    });

    it('refuses a listed key claimed by someone who cannot sign with it', async () => {
      let handled = 0;
      const { server, port } = await pair(async () => {
        handled++;
        return { header: null };
      });
      const forger = { ...newIdentity(), publicKey: a.identity.publicKey, publicKeyRaw: a.identity.publicKeyRaw };
      expect(await rejectionCode(dialAs(port, forger, a.nodeId))).toBe('PeerUnreachable');
      await waitFor(() => server.stats().refusedConnections === 1, 2_000, 'the refusal to be counted');
      expect(handled).toBe(0);
    });

    it('refuses a server presenting another key than the dialed node\'s, and sends it no call', async () => {
      let handled = 0;
      const impostor = new TcpTransport({ identity: newIdentity(), nodeId: b.nodeId, peers: [{ nodeId: a.nodeId, host, port: 1, publicKey: a.identity.publicKey }], listen: { host, port: 0 } });
      open.push(impostor);
      const port = await impostor.listen(async () => {
        handled++;
        return { header: 'impostor' };
      });
      const client = new TcpTransport({ identity: a.identity, nodeId: a.nodeId, peers: [{ nodeId: b.nodeId, host, port, publicKey: b.identity.publicKey }], listen: { host, port: 0 } });
      open.push(client);
      const err = await client.call(b.nodeId, { method: 'test.secret', header: 'shard bytes' }, { timeoutMs: 3_000 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PeerNotAuthorized', message: expect.stringMatching(/not the key of node node-b/) });
      expect(handled).toBe(0);
      expect(client.health(b.nodeId).consecutiveFailures).toBe(1);
    });

    it('drops a connection that sends no hello within handshakeTimeoutMs', async () => {
      const { server, port } = await pair(async () => ({ header: null }), { handshakeTimeoutMs: 200 });
      const socket = net.connect(port, host);
      socket.on('error', () => {});
      open.push({ close: () => socket.destroy() });
      const closed = await new Promise<number>((resolve) => {
        const started = Date.now();
        socket.on('close', () => resolve(Date.now() - started));
        socket.resume();
      });
      expect(closed).toBeLessThan(2_000);
      expect(server.stats().refusedConnections).toBe(1);
    });
  });

  it('reuses one pooled connection for calls one after the other, and closes it once idle', async () => {
    const { client, server } = await pair(async (call) => ({ header: call.header, body: call.method === 'test.body' ? chunks(Buffer.alloc(100_000, 7), 30_000) : undefined }), { connectionIdleTimeoutMs: 300 });
    for (let i = 0; i < 20; i++) {
      const reply = await client.call(b.nodeId, { method: i % 2 === 0 ? 'test.body' : 'test.small', header: i, body: i % 3 === 0 ? chunks(Buffer.alloc(5_000), 1_000) : undefined }, { timeoutMs: 3_000 });
      expect(reply.header).toBe(i);
      expect((await drain(reply.body)).bytes).toBe(i % 2 === 0 ? 100_000 : 0);
    }
    expect(client.stats().dialedConnections).toBe(1);
    expect(server.stats().acceptedConnections).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await drain((await client.call(b.nodeId, { method: 'test.small', header: null }, { timeoutMs: 3_000 })).body);
    expect(client.stats().dialedConnections).toBe(2); // the idle one was closed, without counting as a failure
    expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 });
  });

  it('reports a peer down without any call once its process is gone, and up again once it is back', async () => {
    const handler: CallHandler = async () => ({ header: 'ok' });
    const { client, server, port } = await pair(handler);
    await drain((await client.call(b.nodeId, { method: 'test.ping', header: null }, { timeoutMs: 3_000 })).body);
    await server.close(); // its connections close: the idle pooled one says the peer may be gone
    await waitFor(() => !client.health(b.nodeId).up, 5_000, 'the stopped peer to be reported down');
    const again = new TcpTransport({ identity: b.identity, nodeId: b.nodeId, peers: [{ nodeId: a.nodeId, host, port: 1, publicKey: a.identity.publicKey }], listen: { host, port } });
    open.push(again);
    await again.listen(handler);
    await waitFor(() => client.health(b.nodeId).up, 8_000, 'the restarted peer to be reported up by the background re-dial');
    expect(client.health(b.nodeId).consecutiveFailures).toBe(0);
  });

  it('drops the connection of a reply body returned unread, and the next call still works', async () => {
    const { client } = await pair(async (call) => ({ header: call.method, body: patternBody(8 * MiB).body }));
    const reply = await client.call(b.nodeId, { method: 'test.partial', header: null }, { timeoutMs: 5_000 });
    for await (const chunk of reply.body) {
      expect(chunk.byteLength).toBeGreaterThan(0);
      break;
    }
    expect(client.health(b.nodeId).inFlight).toBe(0);
    const next = await client.call(b.nodeId, { method: 'test.next', header: null }, { timeoutMs: 5_000 });
    expect((await drain(next.body)).bytes).toBe(8 * MiB);
    expect(client.stats().dialedConnections).toBe(2);
    expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 });
  });

  it('buffers a bounded amount for a reader that stops reading (the sender waits)', async () => {
    let produced = 0;
    const { client } = await pair(async () => ({
      header: 'stream',
      body: (async function* endless(): AsyncGenerator<Uint8Array> {
        const block = Buffer.alloc(64 * 1024, 1);
        for (;;) {
          produced += block.length;
          yield block;
        }
      })(),
    }), { tcpReadBufferBytes: 256 * 1024, tcpBodyFrameMaxBytes: 64 * 1024 });
    const reply = await client.call(b.nodeId, { method: 'test.endless', header: null }, { timeoutMs: 10_000 });
    const iterator = reply.body[Symbol.asyncIterator]();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stalled = produced;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(produced).toBe(stalled); // nothing more is made while nobody reads
    // What is in flight: the reader's buffer, both kernel socket buffers, one frame per side. Far below what 800 ms at loopback speed would move.
    expect(stalled).toBeLessThan(48 * MiB);
    let more = 0;
    while (produced === stalled && more < 64 * MiB) more += ((await iterator.next()).value as Uint8Array).byteLength;
    expect(produced).toBeGreaterThan(stalled); // reading again resumes the sender
    await iterator.return?.();
  });

  it('reports a reply body that fails after the header as RemoteError with its reason, without marking the peer down', async () => {
    const { client } = await pair(async () => ({
      header: 'partial',
      body: (async function* broken(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(1024);
        throw new TesseraError('StorageIOError', 'disk went away');
      })(),
    }));
    const reply = await client.call(b.nodeId, { method: 'test.broken', header: null }, { timeoutMs: 5_000 });
    expect(reply.header).toBe('partial');
    const { received, error } = await readUntilError(reply.body);
    expect(received.length).toBe(1024);
    expect(error).toMatchObject({ code: 'RemoteError', message: expect.stringMatching(/disk went away/) });
    expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0, inFlight: 0 });
  });

  it('fails a request body source error with its own error and frees the slot', async () => {
    const { client } = await pair(async (call) => ({ header: await drain(call.body) }));
    const body = (async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1024);
      throw new TesseraError('StorageIOError', 'local disk error');
    })();
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.upload', header: null, body }, { timeoutMs: 5_000 }))).toBe('StorageIOError');
    expect(client.health(b.nodeId)).toMatchObject({ up: true, inFlight: 0 });
  });

  it('rejects a header larger than callHeaderMaxBytes with FrameTooLarge', async () => {
    const { client } = await pair(async () => ({ header: null }));
    const header = new Uint8Array(callHeaderMaxBytes + 1);
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.big', header }, { timeoutMs: 5_000 }))).toBe('FrameTooLarge');
    expect(client.health(b.nodeId).inFlight).toBe(0);
  });

  it('frees the inbound slot of a handler that ignores its aborted signal', async () => {
    const { client } = await pair(async (call) => (call.method === 'test.hang' ? new Promise(() => {}) : { header: 'served' }), { inboundCallsMax: 1 });
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 300 }))).toBe('CallTimeout');
    const reply = await client.call(b.nodeId, { method: 'test.next', header: null }, { timeoutMs: 3_000 });
    expect(reply.header).toBe('served');
  });

  it('refuses a peer list with a repeated node id or public key, or a limit that is not a positive integer', () => {
    const peer = { nodeId: 'node-x', host, port: 1, publicKey: a.identity.publicKey };
    const base = { identity: b.identity, nodeId: b.nodeId, listen: { host, port: 0 } };
    expect(() => new TcpTransport({ ...base, peers: [peer, { ...peer, nodeId: 'node-y' }] })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => new TcpTransport({ ...base, peers: [peer, peer] })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => new TcpTransport({ ...base, peers: [{ ...peer, publicKey: 'short' }] })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => new TcpTransport({ ...base, peers: [], limits: { tcpReadBufferBytes: 0 } })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
  });
});

describe('crc32c', () => {
  it('gives the RFC 3720 check value, continues across pieces, and agrees with the WASM fallback', async () => {
    const wasm = await wasmCrc32c();
    const check = Buffer.from('123456789');
    expect(crc32c(check)).toBe(0xe3069283);
    expect(wasm(check)).toBe(0xe3069283);
    const data = randomBytes(300_000);
    for (const split of [1, 4096, 123_457]) {
      expect(crc32c(data.subarray(split), crc32c(data.subarray(0, split)))).toBe(crc32c(data));
      expect(wasm(data.subarray(split), wasm(data.subarray(0, split)))).toBe(crc32c(data));
    }
  });
});
