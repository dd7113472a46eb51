// TlsTransport on real sockets on 127.0.0.1: the shared transport contract, plus what only the
// TLS implementation shows (refusing connections without a peer certificate, reply-body failures,
// configuration checks).
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeCertificate } from '../../../src/transport/node-certificate.js';
import { TlsTransport, type TransportLimits } from '../../../src/transport/tls-transport.js';
import type { CallHandler } from '../../../src/transport/transport.js';
import { callHeaderMaxBytes } from '../../../src/util/limits.js';
import { TesseraError } from '../../../src/util/errors.js';
import { describeTransportContract, drain, newIdentity, patternBody, rejectionCode, waitFor } from './transport-contract.js';

describeTransportContract('TLS', (options) => new TlsTransport(options));

describe('TlsTransport', () => {
  const host = '127.0.0.1';
  const a = { nodeId: 'node-a', identity: newIdentity() };
  const b = { nodeId: 'node-b', identity: newIdentity() };
  const open: TlsTransport[] = [];

  afterEach(async () => {
    await Promise.all(open.splice(0).map((transport) => transport.close()));
  });

  async function pair(handler: CallHandler, limits?: Partial<TransportLimits>, dialPort?: (port: number) => Promise<number>): Promise<{ client: TlsTransport; port: number }> {
    const server = new TlsTransport({ identity: b.identity, nodeId: b.nodeId, peers: [{ nodeId: a.nodeId, host, port: 1, publicKey: a.identity.publicKey }], listen: { host, port: 0 }, ...(limits ? { limits } : {}) });
    open.push(server);
    const port = await server.listen(handler);
    const peerPort = dialPort ? await dialPort(port) : port;
    const client = new TlsTransport({ identity: a.identity, nodeId: a.nodeId, peers: [{ nodeId: b.nodeId, host, port: peerPort, publicKey: b.identity.publicKey }], listen: { host, port: 0 }, ...(limits ? { limits } : {}) });
    open.push(client);
    return { client, port };
  }

  /** A TCP relay to `port` that can freeze: stop accepting and stop moving bytes, connections left open. */
  async function relay(port: number): Promise<{ port: number; freeze: () => void; close: () => void }> {
    const sockets: net.Socket[] = [];
    const server = net.createServer((inbound) => {
      const outbound = net.connect(port, host);
      for (const socket of [inbound, outbound]) {
        socket.on('error', () => {});
        sockets.push(socket);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      freeze: () => {
        server.close();
        for (const socket of sockets) {
          socket.unpipe();
          socket.pause();
        }
      },
      close: () => {
        server.close();
        for (const socket of sockets) socket.destroy();
      },
    };
  }

  /** Opens an HTTP/2 stream to the server over `socket`; resolves with how the attempt ended. */
  function tryStream(session: http2.ClientHttp2Session): Promise<string> {
    return new Promise((resolve) => {
      session.on('error', (err) => resolve(`session error: ${err.message}`));
      session.on('close', () => resolve('session closed'));
      const stream = session.request({ ':method': 'POST', ':path': '/call' });
      stream.on('error', (err) => resolve(`stream error: ${err.message}`));
      stream.on('response', (headers) => resolve(`response ${String(headers[':status'])}`));
      stream.end(Buffer.alloc(64));
    });
  }

  it('is the tls kind', async () => {
    const { client } = await pair(async () => ({ header: null }));
    expect(client.kind).toBe('tls');
  });

  it('drops a TLS client that presents no certificate before any stream is served', async () => {
    let handled = 0;
    const { port } = await pair(async () => {
      handled++;
      return { header: null };
    });
    const session = http2.connect(`https://${host}:${port}`, { rejectUnauthorized: false });
    expect(await tryStream(session)).not.toMatch(/^response/);
    session.destroy();
    expect(handled).toBe(0);
  });

  it('drops a TLS client whose certificate key is not a peer, even with a valid TLS handshake', async () => {
    let handled = 0;
    const { port } = await pair(async () => {
      handled++;
      return { header: null };
    });
    const stranger = await nodeCertificate(newIdentity(), a.nodeId);
    const session = http2.connect(`https://${host}:${port}`, { rejectUnauthorized: false, cert: stranger.certPem, key: stranger.keyPem });
    expect(await tryStream(session)).not.toMatch(/^response/);
    session.destroy();
    expect(handled).toBe(0);
  });

  it('answers a known peer on the same raw path (so the refusals above are about the key)', async () => {
    const { port } = await pair(async () => ({ header: null }));
    const known = await nodeCertificate(a.identity, a.nodeId);
    const session = http2.connect(`https://${host}:${port}`, { rejectUnauthorized: false, cert: known.certPem, key: known.keyPem });
    expect(await tryStream(session)).toBe('response 200');
    session.destroy();
  });

  it('does not speak cleartext HTTP/2', async () => {
    const { port } = await pair(async () => ({ header: null }));
    const socket = net.connect(port, host);
    socket.on('error', () => {});
    socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const received = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
      socket.on('close', () => resolve(text));
    });
    expect(received).not.toContain('HTTP/2');
  });

  it('reports a reply body that fails after the header as RemoteError, without marking the peer down', async () => {
    const { client } = await pair(async () => ({
      header: 'partial',
      body: (async function* broken(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(1024);
        throw new Error('disk went away');
      })(),
    }));
    const reply = await client.call(b.nodeId, { method: 'test.broken', header: null }, { timeoutMs: 5_000 });
    expect(reply.header).toBe('partial');
    expect(await rejectionCode(drain(reply.body))).toBe('RemoteError');
    expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 });
  });

  it('fails a request body source error with its own error and frees the slot', async () => {
    const { client } = await pair(async (call) => ({ header: await drain(call.body) }));
    const body = (async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(1024);
      throw new TesseraError('StorageIOError', 'local disk error');
    })();
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.upload', header: null, body }, { timeoutMs: 5_000 }))).toBe('StorageIOError');
    expect(client.health(b.nodeId).inFlight).toBe(0);
  });

  it('rejects a header larger than callHeaderMaxBytes with FrameTooLarge', async () => {
    const { client } = await pair(async () => ({ header: null }));
    const header = new Uint8Array(callHeaderMaxBytes + 1);
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.big', header }, { timeoutMs: 5_000 }))).toBe('FrameTooLarge');
    expect(client.health(b.nodeId).inFlight).toBe(0);
  });

  it('detects a peer that stops answering (keep-alive) and reports it down without any call', async () => {
    let proxy: Awaited<ReturnType<typeof relay>> | undefined;
    const { client } = await pair(
      async (call) => (call.method === 'test.hang' ? new Promise(() => {}) : { header: 'ok' }),
      { keepAliveIntervalMs: 100, connectionIdleTimeoutMs: 400 },
      async (port) => {
        proxy = await relay(port);
        return proxy.port;
      },
    );
    try {
      await drain((await client.call(b.nodeId, { method: 'test.ping', header: null }, { timeoutMs: 3_000 })).body);
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // idle, but answering pings: kept
      expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0 });
      const pending = client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const frozenMs = Date.now();
      proxy?.freeze();
      expect(await rejectionCode(pending)).toBe('PeerUnreachable'); // long before its 10 s deadline
      expect(Date.now() - frozenMs).toBeLessThan(2_000);
      await waitFor(() => !client.health(b.nodeId).up, 3_000, 'the frozen peer to be reported down');
    } finally {
      proxy?.close();
    }
  });

  it('frees the inbound slot of a handler that ignores its aborted signal', async () => {
    const { client } = await pair(
      async (call) => {
        if (call.method === 'test.hang') return new Promise(() => {});
        return { header: 'served' };
      },
      { inboundCallsMax: 1 },
    );
    expect(await rejectionCode(client.call(b.nodeId, { method: 'test.hang', header: null }, { timeoutMs: 300 }))).toBe('CallTimeout');
    const reply = await client.call(b.nodeId, { method: 'test.next', header: null }, { timeoutMs: 3_000 });
    expect(reply.header).toBe('served');
  });

  // Regression: every call used to end with the client resetting its stream (RST_STREAM CANCEL),
  // even after a complete reply. nghttp2 (>= 1.57, CVE-2023-44487 "rapid reset" guard) lets a server
  // session receive only 1000 RST_STREAMs in a burst (+33/s), then sends GOAWAY(INTERNAL_ERROR):
  // ~1000 calls later the session died under everything in flight on it, bulk transfers included.
  it('keeps one session through thousands of concurrent small calls, error replies and bulk transfers', async () => {
    const { client } = await pair(async (call) => {
      if (call.method === 'test.fail') throw new TesseraError('NoSuchKey', 'no such shard');
      if (call.method === 'test.download') return { header: null, body: patternBody((call.header as { bytes: number }).bytes).body };
      return { header: null, body: call.body };
    });
    const echo = async (): Promise<void> => {
      const body = (async function* one(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(4096);
      })();
      const reply = await client.call(b.nodeId, { method: 'test.echo', header: null, body }, { timeoutMs: 20_000 });
      expect((await drain(reply.body)).bytes).toBe(4096);
    };
    await echo();
    const total = 4_000;
    let started = 0;
    const small = Array.from({ length: 32 }, async () => {
      while (started < total) {
        const n = started++;
        if (n % 8 === 7) expect(await rejectionCode(client.call(b.nodeId, { method: 'test.fail', header: null }, { timeoutMs: 20_000 }))).toBe('NoSuchKey');
        else await echo();
      }
    });
    const bulk = Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 2; i++) {
        const reply = await client.call(b.nodeId, { method: 'test.download', header: { bytes: 16 * 1024 * 1024 } }, { timeoutMs: 20_000 });
        expect((await drain(reply.body)).bytes).toBe(16 * 1024 * 1024);
      }
    });
    await Promise.all([...small, ...bulk]);
    expect(started).toBeGreaterThanOrEqual(total);
    expect(client.health(b.nodeId)).toMatchObject({ up: true, consecutiveFailures: 0, inFlight: 0 });
  }, 30_000);

  it('refuses a peer list with a repeated public key or inconsistent limits', () => {
    const peer = { nodeId: 'node-x', host, port: 1, publicKey: a.identity.publicKey };
    const base = { identity: b.identity, nodeId: b.nodeId, listen: { host, port: 0 } };
    expect(() => new TlsTransport({ ...base, peers: [peer, { ...peer, nodeId: 'node-y' }] })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => new TlsTransport({ ...base, peers: [{ ...peer, publicKey: 'short' }] })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
    expect(() => new TlsTransport({ ...base, peers: [], limits: { keepAliveIntervalMs: 5_000, connectionIdleTimeoutMs: 1_000 } })).toThrow(expect.objectContaining({ code: 'InvalidConfig' }));
  });
});
