// TLS-over-TCP node transport: node:http2 over mutually authenticated TLS 1.3, one long-lived
// HTTP/2 session per peer we dial, one HTTP/2 stream per call carrying framing.ts's request and
// reply streams. A connection whose certificate key is not a configured peer's is destroyed before
// any stream is read, and a dialed server must present the key of the node it was dialed as.
import http2, { constants as h2 } from 'node:http2';
import { isIPv6, type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { assert } from '../util/assert.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import {
  callFrameTimeoutMs,
  callMethodMaxBytes,
  callQueuePerPeerMax,
  callsPerPeerMax,
  callTimeoutMaxMs,
  connectionIdleTimeoutMs,
  handshakeTimeoutMs,
  http2ConnectionWindowBytes,
  http2FrameMaxBytes,
  http2SessionMemoryMaxMiB,
  http2StreamWindowBytes,
  inboundCallsMax,
  keepAliveIntervalMs,
  transportCloseGraceMs,
} from '../util/limits.js';
import { encodeFrame, errorFromFrame, readFrame, type ReplyFrame, type RequestFrame } from './framing.js';
import { publicKeyBytes, publicKeyString, type NodeIdentity } from './identity.js';
import { nodeCertificate, type NodeCertificate } from './node-certificate.js';
import { PeerState } from './peer-state.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallSlots } from './slots.js';
import { callPath, discardOnReturn, drainQuietly, OutboundCall, sendReply, sendRequest } from './tls-call.js';
import type { Call, CallHandler, CallOptions, PeerAddress, PeerHealth, Reply, Transport } from './transport.js';

/** Limits a test or a small deployment may tighten; defaults come from util/limits.ts. */
export interface TransportLimits {
  callsPerPeerMax: number;
  callQueuePerPeerMax: number;
  inboundCallsMax: number;
  handshakeTimeoutMs: number;
  connectionIdleTimeoutMs: number;
  keepAliveIntervalMs: number;
}

export interface TlsTransportOptions {
  identity: NodeIdentity;
  /** This node's id (the CN of its certificate). */
  nodeId: string;
  /** Every node that may call us or be called; an entry for this node itself is allowed. */
  peers: PeerAddress[];
  /** TCP address of the shard server; port 0 picks a free port (listen() returns it). */
  listen: { host: string; port: number };
  limits?: Partial<TransportLimits>;
}

/** The only path a call stream uses. */

/** What we know about one peer we dial. */
interface PeerLink {
  state: PeerState;
  session?: http2.ClientHttp2Session;
  connecting?: Promise<http2.ClientHttp2Session>;
  /** No connection attempt before this time (ms since epoch): the reconnect backoff. */
  nextAttemptMs: number;
  reconnectTimer?: NodeJS.Timeout;
}

/** One inbound call being served, so close() can abort it. */
interface InboundEntry {
  controller: AbortController;
  stream: http2.ServerHttp2Stream;
}

export class TlsTransport implements Transport {
  readonly kind = 'tls' as const;
  private readonly limits: TransportLimits;
  private readonly links = new Map<string, PeerLink>();
  private readonly nodeIdByKey = new Map<string, string>();
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
    this.limits = {
      callsPerPeerMax,
      callQueuePerPeerMax,
      inboundCallsMax,
      handshakeTimeoutMs,
      connectionIdleTimeoutMs,
      keepAliveIntervalMs,
      ...options.limits,
    };
    checkLimits(this.limits);
    for (const peer of options.peers) {
      if (this.links.has(peer.nodeId)) throw new TesseraError('InvalidConfig', `peer ${peer.nodeId}: node id listed twice`);
      this.addPeer(peer);
    }
    // Inbound calls wait at most for every peer's full set of concurrent streams.
    this.inboundSlots = new CallSlots({ max: this.limits.inboundCallsMax, queueMax: Math.max(1, options.peers.length) * this.limits.callsPerPeerMax, what: 'an inbound call slot' });
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void {
    const known = this.links.get(peer.nodeId)?.state.peer;
    if (known && known.publicKey === peer.publicKey && known.host === peer.host && known.port === peer.port) return;
    if (known) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} is known with another key or address; restart to change it`);
    publicKeyBytes(peer.publicKey);
    const other = this.nodeIdByKey.get(peer.publicKey);
    if (other !== undefined) throw new TesseraError('InvalidConfig', `peer ${peer.nodeId}: public key listed twice (also ${other})`);
    this.nodeIdByKey.set(peer.publicKey, peer.nodeId);
    this.links.set(peer.nodeId, { state: new PeerState(peer, this.limits.callsPerPeerMax, this.limits.callQueuePerPeerMax), nextAttemptMs: 0 });
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
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    this.throwIfClosed();
    assert(Buffer.byteLength(call.method) <= callMethodMaxBytes, `method name longer than ${callMethodMaxBytes} bytes`);
    assert(options.timeoutMs > 0 && options.timeoutMs <= callTimeoutMaxMs, `timeoutMs ${options.timeoutMs} outside (0, ${callTimeoutMaxMs}]`);
    const outbound = new OutboundCall(link.state, options, () => this.outbound.delete(outbound));
    this.outbound.add(outbound);
    try {
      outbound.setRelease(await link.state.acquire(outbound.signal));
      const session = await raceAbort(this.session(link), outbound.signal);
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
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    return link.state.health();
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
    for (const link of this.links.values()) {
      clearTimeout(link.reconnectTimer);
      if (link.session !== undefined) sessions.push(link.session);
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
    if (this.closed) throw new TesseraError('TransportClosed', `transport of node ${this.options.nodeId} is closed`);
  }

  // ---- inbound ----

  /** Runs synchronously when the session is created, so nothing of an unknown peer is ever read. */
  private acceptSession(session: http2.ServerHttp2Session): void {
    session.on('error', ignore);
    const key = peerKeyOf(session.socket as TLSSocket);
    const from = key === undefined ? undefined : this.nodeIdByKey.get(key);
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

  /** The live session to `link`, connecting when there is none. Throws PeerUnreachable during backoff. */
  private session(link: PeerLink): Promise<http2.ClientHttp2Session> {
    const live = link.session;
    if (live !== undefined && !live.closed && !live.destroyed) return Promise.resolve(live);
    if (link.connecting === undefined) {
      const waitMs = link.nextAttemptMs - Date.now();
      if (waitMs > 0) {
        const { nodeId } = link.state.peer;
        const lastError = link.state.health().lastError ?? 'unknown error';
        return Promise.reject(new TesseraError('PeerUnreachable', `node ${nodeId} is unreachable (${lastError}); next attempt in ${waitMs} ms`));
      }
      this.startConnect(link);
    }
    return link.connecting as Promise<http2.ClientHttp2Session>;
  }

  private startConnect(link: PeerLink): void {
    const connecting = this.connect(link).finally(() => {
      link.connecting = undefined;
    });
    connecting.catch(ignore); // failures are reported to the calls that wait and to health()
    link.connecting = connecting;
  }

  private async connect(link: PeerLink): Promise<http2.ClientHttp2Session> {
    const { peer } = link.state;
    try {
      const socket = await this.dial(peer, await this.certificate());
      if (this.closed) socket.destroy();
      this.throwIfClosed();
      const session = http2.connect(authorityOf(peer), {
        createConnection: () => socket,
        maxSessionMemory: http2SessionMemoryMaxMiB,
        settings: { ...sessionSettings, enablePush: false },
      });
      session.on('error', ignore);
      session.once('connect', () => session.setLocalWindowSize(http2ConnectionWindowBytes));
      session.once('close', () => this.lost(link, session));
      session.once('goaway', () => {
        if (link.session === session) link.session = undefined; // new calls dial afresh
      });
      keepAlive(session, this.limits);
      link.session = session;
      link.nextAttemptMs = 0;
      link.state.succeeded();
      return session;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (isTesseraError(err, 'TransportClosed')) throw err;
      link.state.failed(reason);
      link.nextAttemptMs = Date.now() + link.state.backoffMs();
      this.scheduleReconnect(link);
      if (isTesseraError(err)) throw err;
      throw new TesseraError('PeerUnreachable', `cannot connect to node ${peer.nodeId} at ${peer.host}:${peer.port}: ${reason}`, {}, { cause: err });
    }
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

  /** A dialed session closed: forget it and, unless we are closing, count a failure and reconnect. */
  private lost(link: PeerLink, session: http2.ClientHttp2Session): void {
    if (link.session === session) link.session = undefined;
    if (this.closed) return;
    link.state.failed('connection lost');
    link.nextAttemptMs = Date.now() + link.state.backoffMs();
    this.scheduleReconnect(link);
  }

  /** Reconnects in the background after the backoff, so health() recovers without calls. */
  private scheduleReconnect(link: PeerLink): void {
    if (link.reconnectTimer !== undefined || this.closed) return;
    link.reconnectTimer = setTimeout(() => {
      link.reconnectTimer = undefined;
      if (this.closed || link.session !== undefined || link.connecting !== undefined) return;
      this.startConnect(link);
    }, Math.max(0, link.nextAttemptMs - Date.now()));
    link.reconnectTimer.unref();
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

function checkLimits(limits: TransportLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) throw new TesseraError('InvalidConfig', `transport limit ${name} must be a positive integer, got ${value}`);
  }
  if (limits.keepAliveIntervalMs >= limits.connectionIdleTimeoutMs) {
    throw new TesseraError('InvalidConfig', `keepAliveIntervalMs (${limits.keepAliveIntervalMs}) must be below connectionIdleTimeoutMs (${limits.connectionIdleTimeoutMs})`);
  }
}

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
