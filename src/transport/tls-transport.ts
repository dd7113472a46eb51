// TLS-over-TCP node transport: node:http2 over mutually authenticated TLS 1.3, one long-lived
// HTTP/2 session per peer we dial, one HTTP/2 stream per call carrying framing.ts's request and
// reply streams. A connection whose certificate key is not a configured peer's is destroyed before
// any stream is read, and a dialed server must present the key of the node it was dialed as.
import http2, { constants as h2 } from 'node:http2';
import { isIPv6, type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import {
  callFrameTimeoutMs,
  callMethodMaxBytes,
  callTimeoutMaxMs,
  http2ConnectionWindowBytes,
  http2FrameMaxBytes,
  http2SessionMemoryMaxMiB,
  http2StreamWindowBytes,
  transportCloseGraceMs,
} from '../util/limits.js';
import { encodeFrame, errorFromFrame, readFrame, type ReplyFrame, type RequestFrame } from './framing.js';
import { publicKeyString } from './identity.js';
import { nodeCertificate, type NodeCertificate } from './node-certificate.js';
import { ConnectionLink, PeerLinks, transportClosed, type ConnectionWire } from './peer-link.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallSlots } from './slots.js';
import { callPath, discardOnReturn, drainQuietly, OutboundCall, sendReply, sendRequest } from './tls-call.js';
import type { Call, CallHandler, CallOptions, PeerAddress, PeerHealth, Reply, Transport } from './transport.js';
import { transportLimits, type TransportOptions } from './transport-options.js';

const limitNames = ['callsPerPeerMax', 'callQueuePerPeerMax', 'inboundCallsMax', 'handshakeTimeoutMs', 'connectionIdleTimeoutMs', 'keepAliveIntervalMs'] as const;

/** Limits a test or a small deployment may tighten; defaults come from util/limits.ts. */
export type TransportLimits = Record<(typeof limitNames)[number], number>;

export type TlsTransportOptions = TransportOptions<TransportLimits>;

type TlsLink = ConnectionLink<http2.ClientHttp2Session>;

/** One inbound call being served, so close() can abort it. */
interface InboundEntry {
  controller: AbortController;
  stream: http2.ServerHttp2Stream;
}

export class TlsTransport implements Transport {
  readonly kind = 'tls' as const;
  private readonly limits: TransportLimits;
  private readonly links: PeerLinks<TlsLink>;
  private readonly callers = new WeakMap<http2.Http2Session, string>();
  private readonly outbound = new Set<OutboundCall>();
  private readonly inbound = new Set<InboundEntry>();
  private readonly inboundSessions = new Set<http2.ServerHttp2Session>();
  private readonly inboundSlots: CallSlots;
  private credentials: Promise<NodeCertificate> | undefined;
  private server: http2.Http2SecureServer | undefined;
  private closed = false;

  /** Throws InvalidConfig for a malformed or duplicate peer key or inconsistent limits. */
  constructor(private readonly options: TlsTransportOptions) {
    this.limits = transportLimits(limitNames, options.limits, (l) => [[l.keepAliveIntervalMs < l.connectionIdleTimeoutMs, 'keepAliveIntervalMs < connectionIdleTimeoutMs']]);
    const wire: ConnectionWire<http2.ClientHttp2Session> = {
      open: (peer) => this.connect(peer),
      discard: (session) => session.destroy(),
      closing: () => this.closed,
      usable: (session) => !session.closed && !session.destroyed,
      onClose: (session, lost) => session.once('close', lost),
    };
    const policy = { ...this.limits, waitInBackoff: false, reconnectOnceConnected: false };
    this.links = new PeerLinks((peer) => new ConnectionLink(peer, wire, policy));
    this.links.addAll(options.peers);
    // Inbound calls wait at most for every peer's full set of concurrent streams.
    this.inboundSlots = new CallSlots({ max: this.limits.inboundCallsMax, queueMax: Math.max(1, options.peers.length) * this.limits.callsPerPeerMax, what: 'an inbound call slot' });
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void {
    this.links.add(peer);
  }

  /** Starts the TLS listener; returns the bound TCP port. Throws the listen error (e.g. EADDRINUSE). */
  async listen(handler: CallHandler): Promise<number> {
    assert(this.server === undefined, 'listen() called twice');
    this.throwIfClosed();
    const { certPem, keyPem } = await this.certificate();
    const server = http2.createSecureServer({
      cert: certPem,
      key: keyPem,
      requestCert: true,
      rejectUnauthorized: false, // self-signed peers: acceptSession() compares keys instead
      minVersion: 'TLSv1.3',
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      allowHTTP1: false,
      maxSessionMemory: http2SessionMemoryMaxMiB,
      settings: { ...sessionSettings, maxConcurrentStreams: this.limits.callsPerPeerMax },
    });
    this.server = server;
    server.on('session', (session) => this.acceptSession(session));
    server.on('stream', (stream, headers) => this.acceptStream(stream, headers, handler));
    server.on('sessionError', ignore);
    server.on('tlsClientError', ignore);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** See Transport.call; also throws PeerNotAuthorized when the dialed server has another key. */
  async call(nodeId: string, call: Call, options: CallOptions): Promise<Reply> {
    const link = this.links.forCall(nodeId, call.method);
    this.throwIfClosed();
    assert(options.timeoutMs > 0 && options.timeoutMs <= callTimeoutMaxMs, `timeoutMs ${options.timeoutMs} outside (0, ${callTimeoutMaxMs}]`);
    const outbound = new OutboundCall(link.state, options, () => this.outbound.delete(outbound));
    this.outbound.add(outbound);
    try {
      outbound.setRelease(await link.state.acquire(outbound.signal));
      const session = await link.connected(outbound.signal);
      const request = encodeFrame({ m: call.method, h: call.header, t: outbound.remainingMs() });
      const stream = outbound.open(session);
      void sendRequest(outbound, stream, request, call.body);
      const { frame, body } = await readFrame<ReplyFrame>(stream);
      if (isErrorFrame(frame)) {
        link.state.succeeded(); // a handler error proves the peer is up
        // Read the (empty) rest so the stream ends by itself instead of being reset by finish().
        await drainQuietly(body);
        outbound.finish();
        throw errorFromFrame(frame, nodeId);
      }
      link.state.succeeded();
      return { header: frame.h, body: outbound.body(body) };
    } catch (err) {
      throw outbound.settle(err);
    }
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  health(nodeId: string): PeerHealth {
    return this.links.health(nodeId);
  }

  /** Stops accepting, aborts calls in both directions, sends GOAWAY and waits (bounded) for sessions to close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const reason = new TesseraError('TransportClosed', `transport of node ${this.options.nodeId} is closed`);
    for (const call of [...this.outbound]) call.fail(reason);
    for (const { controller, stream } of [...this.inbound]) {
      controller.abort(reason);
      stream.close(h2.NGHTTP2_CANCEL);
    }
    const sessions: http2.Http2Session[] = [...this.inboundSessions];
    for (const link of this.links.all()) {
      link.stop();
      if (link.current !== undefined) sessions.push(link.current);
    }
    const server = this.server;
    const serverClosed = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(sessions.map((session) => closeSession(session)));
    await serverClosed;
  }

  private certificate(): Promise<NodeCertificate> {
    this.credentials ??= nodeCertificate(this.options.identity, this.options.nodeId);
    return this.credentials;
  }

  private throwIfClosed(): void {
    if (this.closed) throw transportClosed();
  }

  // ---- inbound ----

  /** Runs synchronously when the session is created, so nothing of an unknown peer is ever read. */
  private acceptSession(session: http2.ServerHttp2Session): void {
    session.on('error', ignore);
    const key = peerKeyOf(session.socket as TLSSocket);
    const from = key === undefined ? undefined : this.links.nodeIdOf(key);
    if (from === undefined || this.closed) {
      session.destroy();
      return;
    }
    this.callers.set(session, from);
    this.inboundSessions.add(session);
    session.once('close', () => this.inboundSessions.delete(session));
    session.setLocalWindowSize(http2ConnectionWindowBytes);
    keepAlive(session, this.limits);
  }

  private acceptStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, handler: CallHandler): void {
    stream.on('error', ignore);
    const from = this.callers.get(stream.session as http2.Http2Session);
    if (from === undefined) {
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (headers[':method'] !== 'POST' || headers[':path'] !== callPath) {
      stream.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    void this.serve(stream, from, handler);
  }

  private async serve(stream: http2.ServerHttp2Stream, from: string, handler: CallHandler): Promise<void> {
    const entry: InboundEntry = { controller: new AbortController(), stream };
    const { controller } = entry;
    const abort = (reason: TesseraError): void => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    stream.once('close', () => abort(new TesseraError('CallAborted', `caller ${from} went away`)));
    this.inbound.add(entry);
    let release: (() => void) | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const source = discardOnReturn(stream);
    try {
      release = await this.inboundSlots.acquire(controller.signal);
      const { frame, body } = await withTimeout(readFrame<RequestFrame>(source), callFrameTimeoutMs, 'request frame');
      if (!isRequestFrame(frame)) throw new TesseraError('BadFrame', 'request frame lacks a method name or a deadline');
      deadline = setTimeout(() => {
        abort(new TesseraError('CallTimeout', `call from ${from} passed its ${frame.t} ms deadline`));
        stream.close(h2.NGHTTP2_CANCEL);
      }, Math.min(frame.t, callTimeoutMaxMs));
      // A handler that ignores its signal must not keep the slot: stop waiting for it once aborted.
      const handling = handler({ from, method: frame.m, header: frame.h, body, signal: controller.signal });
      handling.catch(ignore);
      const reply = await raceAbort(handling, controller.signal).catch((err: unknown) => err);
      await sendReply(stream, reply);
    } catch (err) {
      await sendReply(stream, err);
    } finally {
      clearTimeout(deadline);
      release?.();
      this.inbound.delete(entry);
      void source.return(undefined).catch(ignore); // discard what the handler left unread
    }
  }

  // ---- outbound ----

  /** An HTTP/2 session over a TLS connection to `peer` (ConnectionWire.open). */
  private async connect(peer: PeerAddress): Promise<http2.ClientHttp2Session> {
    const socket = await this.dial(peer, await this.certificate());
    const session = http2.connect(authorityOf(peer), {
      createConnection: () => socket,
      maxSessionMemory: http2SessionMemoryMaxMiB,
      settings: { ...sessionSettings, enablePush: false },
    });
    session.on('error', ignore);
    session.once('connect', () => session.setLocalWindowSize(http2ConnectionWindowBytes));
    session.once('goaway', () => this.links.get(peer.nodeId).retire(session)); // new calls dial afresh
    keepAlive(session, this.limits);
    return session;
  }

  /** TLS handshake with `peer`; resolves once the server proved it holds `peer.publicKey`. */
  private dial(peer: PeerAddress, credentials: NodeCertificate): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: peer.host,
        port: peer.port,
        cert: credentials.certPem,
        key: credentials.keyPem,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.3',
        rejectUnauthorized: false, // self-signed peers: the key comparison below authenticates
      });
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new TesseraError('PeerUnreachable', `TLS handshake with node ${peer.nodeId} took longer than ${this.limits.handshakeTimeoutMs} ms`)), this.limits.handshakeTimeoutMs);
      socket.once('error', fail);
      socket.once('secureConnect', () => {
        socket.off('error', fail);
        socket.on('error', ignore); // the HTTP/2 session reports errors from here on
        const key = peerKeyOf(socket);
        if (key !== peer.publicKey) {
          return fail(new TesseraError('PeerNotAuthorized', `server at ${peer.host}:${peer.port} presented key ${key ?? '(none)'}, not the key of node ${peer.nodeId}`));
        }
        if (socket.alpnProtocol !== 'h2') return fail(new TesseraError('PeerUnreachable', `node ${peer.nodeId} did not agree to HTTP/2`));
        clearTimeout(timer);
        resolve(socket);
      });
    });
  }
}

/** Pings every keepAliveIntervalMs; destroys the session when no answer came for connectionIdleTimeoutMs. */
function keepAlive(session: http2.Http2Session, limits: TransportLimits): void {
  let lastAnswerMs = Date.now();
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return;
    if (Date.now() - lastAnswerMs > limits.connectionIdleTimeoutMs) {
      session.destroy(new TesseraError('PeerUnreachable', `no ping answer for ${limits.connectionIdleTimeoutMs} ms`));
      return;
    }
    session.ping((err) => {
      if (err === null) lastAnswerMs = Date.now();
    });
  }, limits.keepAliveIntervalMs);
  timer.unref();
  session.once('close', () => clearInterval(timer));
}

/** GOAWAY, then wait for open streams; destroys the session after transportCloseGraceMs. */
async function closeSession(session: http2.Http2Session): Promise<void> {
  if (session.destroyed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => session.destroy(), transportCloseGraceMs);
    session.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    session.close();
  });
}

/** HTTP/2 settings both sides announce: large windows and frames so one stream can fill the link. */
const sessionSettings: http2.Settings = { initialWindowSize: http2StreamWindowBytes, maxFrameSize: http2FrameMaxBytes };

/** The base64url Ed25519 key of the peer's certificate, or undefined (no certificate, other key type). */
function peerKeyOf(socket: TLSSocket): string | undefined {
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return undefined;
  try {
    return publicKeyString(certificate.publicKey);
  } catch {
    return undefined;
  }
}

function authorityOf(peer: PeerAddress): string {
  return `https://${isIPv6(peer.host) ? `[${peer.host}]` : peer.host}:${peer.port}`;
}

function isErrorFrame(frame: ReplyFrame): frame is Extract<ReplyFrame, { e: unknown }> {
  if (typeof frame !== 'object' || frame === null) throw new TesseraError('BadFrame', 'reply frame is not a map');
  return 'e' in frame && typeof frame.e === 'object' && frame.e !== null && typeof frame.e.code === 'string';
}

function isRequestFrame(frame: unknown): frame is RequestFrame {
  if (typeof frame !== 'object' || frame === null) return false;
  const { m, t } = frame as Partial<RequestFrame>;
  return typeof m === 'string' && Buffer.byteLength(m) <= callMethodMaxBytes && typeof t === 'number' && t > 0;
}


/** `promise`, or PeerUnreachable after `timeoutMs`. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TesseraError('PeerUnreachable', `${what} did not arrive within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
