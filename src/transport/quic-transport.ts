// The QUIC transport: one long-lived outbound connection per peer (reconnected in the background
// with backoff once it has existed), every call on its own bidirectional stream. A connection whose
// authenticated peer id is not in the peer list is closed before any stream is opened or read.
// Every wait (slot, connect, stream, read, write) is raced against the call's deadline, because
// a blocked native operation cannot be cancelled (see quinn-native.ts).
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { assert } from '../util/assert.js';
import { TesseraError, isTesseraError } from '../util/errors.js';
import * as limits from '../util/limits.js';
import { encodeFrame, errorFrame, errorFromFrame, readFrame, type ReplyFrame, type RequestFrame } from './framing.js';
import { publicKeyBytes, type NodeIdentity } from './identity.js';
import { PeerState } from './peer-state.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallScope } from './call-scope.js';
import { brokenStream, replyBody, sendRequest, writeReply } from './quic-call.js';
import { CallSlots } from './slots.js';
import {
  StreamSource, dropStream, loadQuinnEngine, peerIdOfMultiaddr, peerIdOfPublicKey, privateKeyProto,
  type NativeClient, type NativeConfig, type NativeConnection, type NativeServer, type NativeStream, type QuinnEngine, type SocketFamily,
} from './quinn-native.js';
import type { Call, CallHandler, CallOptions, PeerAddress, PeerHealth, Reply, Transport } from './transport.js';

/** Limits a QuicTransport runs with; each defaults to the constant of the same name in util/limits.ts. */
export interface QuicTransportLimits {
  handshakeTimeoutMs: number;
  connectionIdleTimeoutMs: number;
  keepAliveIntervalMs: number;
  callsPerPeerMax: number;
  callQueuePerPeerMax: number;
  inboundCallsMax: number;
  callFrameTimeoutMs: number;
  callTimeoutMaxMs: number;
  transportCloseGraceMs: number;
  quicStreamWindowBytes: number;
  quicConnectionWindowBytes: number;
  quicSocketBufferBytes: number;
  quicReadChunkBytes: number;
  quicStreamsPerConnectionMax: number;
  quicSilentConnectionMs: number;
  quicPeerProbeTimeoutMs: number;
}

export interface QuicTransportOptions {
  identity: NodeIdentity;
  /** This node's id (may also appear in `peers`). */
  nodeId: string;
  /** Every node this one may call or accept calls from, with its public key. */
  peers: PeerAddress[];
  /** UDP address to listen on; port 0 picks a free port (listen() returns it). */
  listen: { host: string; port: number };
  limits?: Partial<QuicTransportLimits>;
}

/** Counters for tests and diagnostics. */
export interface QuicTransportStats {
  /** Inbound connections accepted from listed peers since listen(). */
  acceptedConnections: number;
  /** Inbound connections closed because their peer id is not in the peer list. */
  refusedConnections: number;
  /** Inbound calls being served right now. */
  inboundCalls: number;
}

interface OutboundLink {
  readonly state: PeerState;
  /** The libp2p peer id derived from the configured public key. */
  readonly peerId: string;
  connection?: NativeConnection;
  connecting?: Promise<NativeConnection>;
  nextAttemptAtMs: number;
  retryTimer?: NodeJS.Timeout;
  /** Once connected, the link is kept up in the background (reconnect with backoff). */
  everConnected: boolean;
  /** Datagrams received on `connection` when last sampled, and since when that count stands (ms). */
  heard?: { connection: NativeConnection; datagrams: number; sinceMs: number };
}

/**
 * The transport's own liveness probe: answered by serve() before any handler (a peer of an older
 * build answers it with an UnknownMethod error, which proves it alive just as well).
 */
const probeMethod = 'transport.probe';

/** What a call saw of its connection when it started: datagrams received so far, and when. */
interface SilenceProbe {
  readonly connection: NativeConnection;
  readonly heard: number;
  readonly sinceMs: number;
}

export class QuicTransport implements Transport {
  readonly kind = 'quic' as const;
  private readonly limits: QuicTransportLimits;
  private readonly links = new Map<string, OutboundLink>();
  private readonly nodeIdByPeerId = new Map<string, string>();
  private readonly scopes = new Set<CallScope>();
  private readonly inboundConnections = new Map<NativeConnection, Set<CallScope>>();
  /** Inbound connections accepted per node id since listen(). */
  private readonly inboundNodes = new Map<string, number>();
  private heardTimer: NodeJS.Timeout | undefined;
  private readonly inboundSlots: CallSlots;
  private readonly clients = new Map<SocketFamily, NativeClient>();
  private started: Promise<{ engine: QuinnEngine; config: NativeConfig }> | undefined;
  private server: NativeServer | undefined;
  private closing: Promise<void> | undefined;
  private refusedConnections = 0;
  private acceptedConnections = 0;

  constructor(private readonly options: QuicTransportOptions) {
    this.limits = { ...defaultLimits(), ...options.limits };
    checkLimits(this.limits);
    this.inboundSlots = new CallSlots({ max: this.limits.inboundCallsMax, what: 'an inbound call slot' }); // waiters: one per connection
    for (const peer of options.peers) {
      if (this.links.has(peer.nodeId)) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} is listed twice`);
      this.addPeer(peer);
    }
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void {
    const known = this.links.get(peer.nodeId)?.state.peer;
    if (known && known.publicKey === peer.publicKey && known.host === peer.host && known.port === peer.port) return;
    if (known) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} is known with another key or address; restart to change it`);
    const peerId = peerIdOfPublicKey(publicKeyBytes(peer.publicKey));
    if (this.nodeIdByPeerId.has(peerId)) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} has the public key of node ${this.nodeIdByPeerId.get(peerId)}`);
    this.nodeIdByPeerId.set(peerId, peer.nodeId);
    const state = new PeerState(peer, this.limits.callsPerPeerMax, this.limits.callQueuePerPeerMax);
    this.links.set(peer.nodeId, { state, peerId, nextAttemptAtMs: 0, everConnected: false });
  }

  /** Binds the UDP socket and serves inbound calls with `handler`. Returns the bound port. */
  async listen(handler: CallHandler): Promise<number> {
    assert(this.server === undefined, 'listen() called twice');
    const { engine, config } = await this.start();
    const ip = await resolveAddress(this.options.listen.host);
    this.server = engine.createServer(config, ip.address, this.options.listen.port);
    void this.acceptConnections(this.server, handler);
    // A restarted node tells its peers at once: each sees a new inbound connection and checks that
    // its own link back is not a dead connection to this node's previous process.
    for (const link of this.links.values()) if (link.state.peer.nodeId !== this.options.nodeId) this.probe(link);
    this.heardTimer = setInterval(() => {
      for (const link of this.links.values()) this.sampleHeard(link);
    }, Math.max(1, Math.floor(this.limits.keepAliveIntervalMs / 4)));
    this.heardTimer.unref();
    return this.server.port();
  }

  async call(nodeId: string, call: Call, options: CallOptions): Promise<Reply> {
    if (this.closing !== undefined) throw new TesseraError('TransportClosed', 'transport is closed');
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    if (Buffer.byteLength(call.method) > limits.callMethodMaxBytes) throw new TesseraError('InvalidCall', `method name longer than ${limits.callMethodMaxBytes} bytes`);
    const frame = encodeFrame({ m: call.method, h: call.header, t: options.timeoutMs });
    const scope = new CallScope(
      this.scopes, options.timeoutMs,
      () => new TesseraError('CallTimeout', `call ${call.method} to node ${nodeId} did not finish within ${options.timeoutMs} ms`, { remoteNode: nodeId }),
      options.signal,
      () => new TesseraError('CallAborted', `call ${call.method} to node ${nodeId} was aborted`, { remoteNode: nodeId }),
    );
    let release: (() => void) | undefined;
    let silence: SilenceProbe | undefined;
    let stream: NativeStream | undefined;
    let source: StreamSource | undefined;
    try {
      release = await link.state.acquire(scope.signal);
      const connection = await this.connection(link, scope.signal);
      const heard = connection.stats().udpRxDatagrams;
      silence = { connection, heard, sinceMs: Date.now() };
      const opening = connection.outboundStream().catch((err: unknown) => {
        throw brokenStream(err, nodeId);
      });
      stream = await raceAbort(opening, scope.signal, (late) => dropStream(late));
      const opened = stream;
      source = new StreamSource(opened, limits.quicReadChunkMinBytes, this.limits.quicReadChunkBytes, scope.signal, (err) => brokenStream(err, nodeId));
      void sendRequest(opened, frame, call.body, scope);
      const reply = await readFrame<ReplyFrame>(source);
      link.state.succeeded();
      if ('e' in reply.frame) throw errorFromFrame(reply.frame, nodeId);
      return { header: reply.frame.h, body: replyBody(reply.body, source, opened, scope, link.state, release) };
    } catch (err) {
      const error = scope.signal.aborted ? (scope.signal.reason as TesseraError) : err;
      scope.end();
      release?.();
      if (stream !== undefined) dropStream(stream, source?.finished);
      if (stream !== undefined && isTesseraError(error, 'CallTimeout', 'PeerUnreachable')) link.state.failed((error as Error).message);
      if (isTesseraError(error, 'CallTimeout') && silence !== undefined) this.dropIfSilent(link, silence);
      throw error;
    }
  }

  /**
   * After a peer connected to us anew: a link that heard nothing for 1.5 keep-alive intervals (a
   * live peer ACKs our keep-alive and sends its own) is a dead connection to the peer's previous
   * process and is re-made now; any other gets a probe.
   */
  private recheckLink(link: OutboundLink): void {
    const connection = link.connection;
    if (connection === undefined) return;
    this.sampleHeard(link);
    if (link.heard !== undefined && Date.now() - link.heard.sinceMs > 1.5 * this.limits.keepAliveIntervalMs) {
      connection.abort();
      this.onOutboundClosed(link, connection);
      return;
    }
    this.probe(link);
  }

  /** Updates link.heard from the connection's datagram counter (sampled every keep-alive interval / 4 and on demand). */
  private sampleHeard(link: OutboundLink): void {
    const connection = link.connection;
    if (connection === undefined) return;
    const datagrams = connection.stats().udpRxDatagrams;
    if (link.heard?.connection !== connection || link.heard.datagrams !== datagrams) link.heard = { connection, datagrams, sinceMs: Date.now() };
  }

  /**
   * Sends one probe call over the link; a timeout on a silent connection drops it (dropIfSilent),
   * so the next call connects afresh. Never throws: the outcome lands in the peer's health.
   */
  private probe(link: OutboundLink): void {
    this.call(link.state.peer.nodeId, { method: probeMethod, header: null }, { timeoutMs: this.limits.quicPeerProbeTimeoutMs })
      .then(async (reply) => {
        for await (const _ of reply.body) { /* empty */ }
      })
      .catch(ignore);
  }

  health(nodeId: string): PeerHealth {
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    return link.state.health();
  }

  stats(): QuicTransportStats {
    return { acceptedConnections: this.acceptedConnections, refusedConnections: this.refusedConnections, inboundCalls: this.inboundSlots.inUse };
  }

  /** Stops accepting, aborts calls in flight (TransportClosed), closes every connection. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const closed = new TesseraError('TransportClosed', 'transport is closed');
    clearInterval(this.heardTimer);
    for (const scope of [...this.scopes]) scope.abort(closed);
    for (const link of this.links.values()) {
      clearTimeout(link.retryTimer);
      link.connection?.abort();
      link.connection = undefined;
    }
    for (const connection of this.inboundConnections.keys()) connection.abort();
    for (const client of this.clients.values()) client.abort();
    if (this.server !== undefined) {
      const grace = new Promise<void>((resolve) => setTimeout(resolve, this.limits.transportCloseGraceMs).unref());
      await Promise.race([this.server.abort().catch(ignore), grace]);
    }
  }

  private start(): Promise<{ engine: QuinnEngine; config: NativeConfig }> {
    this.started ??= loadQuinnEngine().then((engine) => ({ engine, config: engine.createConfig(this.quinnConfig()) }));
    return this.started;
  }

  private quinnConfig(): Parameters<QuinnEngine['createConfig']>[0] {
    const l = this.limits;
    return {
      privateKeyProto: privateKeyProto(this.options.identity),
      handshakeTimeout: l.handshakeTimeoutMs,
      maxIdleTimeout: l.connectionIdleTimeoutMs,
      keepAliveInterval: l.keepAliveIntervalMs,
      maxConcurrentStreamLimit: l.quicStreamsPerConnectionMax,
      maxStreamData: l.quicStreamWindowBytes,
      maxConnectionData: l.quicConnectionWindowBytes,
      receiveBufferSize: l.quicSocketBufferBytes,
      sendBufferSize: l.quicSocketBufferBytes,
    };
  }

  // ---- outbound connections ----

  /**
   * The peer's connection, connecting when there is none. While a failed peer is in backoff a
   * call waits for the next attempt within its deadline, unless the peer counts as down: then
   * it fails at once with PeerUnreachable, so quorum calls do not wait on a dead node.
   */
  private async connection(link: OutboundLink, signal: AbortSignal): Promise<NativeConnection> {
    for (;;) {
      if (link.connection !== undefined) return link.connection;
      if (link.connecting === undefined) {
        const waitMs = link.nextAttemptAtMs - Date.now();
        if (waitMs > 0) {
          const health = link.state.health();
          if (!health.up) throw new TesseraError('PeerUnreachable', `node ${health.nodeId} is down (${health.lastError ?? 'no connection'}); next attempt in ${waitMs} ms`, { remoteNode: health.nodeId });
          await raceAbort(new Promise((resolve) => setTimeout(resolve, waitMs).unref()), signal);
          continue;
        }
        this.startConnect(link);
      }
      return await raceAbort(link.connecting!, signal);
    }
  }

  private startConnect(link: OutboundLink): void {
    const connecting = this.connect(link).finally(() => {
      link.connecting = undefined;
    });
    connecting.catch(ignore); // background attempts have no caller; failures are in the peer's health
    link.connecting = connecting;
  }

  private async connect(link: OutboundLink): Promise<NativeConnection> {
    const { nodeId, host, port } = link.state.peer;
    try {
      const { engine, config } = await this.start();
      const ip = await resolveAddress(host);
      let client = this.clients.get(ip.family);
      if (client === undefined) {
        client = engine.createClient(config, ip.family);
        this.clients.set(ip.family, client);
      }
      const connection = await withTimeout(client.outboundConnection(ip.address, port), this.limits.handshakeTimeoutMs,
        () => new TesseraError('PeerUnreachable', `no QUIC handshake with node ${nodeId} at ${host}:${port} within ${this.limits.handshakeTimeoutMs} ms`, { remoteNode: nodeId }),
        (late) => late.abort());
      const remotePeerId = peerIdOfMultiaddr(connection.remoteMultiaddr());
      if (remotePeerId !== link.peerId) {
        connection.abort();
        throw new TesseraError('PeerNotAuthorized', `node ${nodeId} at ${host}:${port} presented peer id ${remotePeerId ?? 'none'}, not the configured key's`, { remoteNode: nodeId });
      }
      if (this.closing !== undefined) {
        connection.abort();
        throw new TesseraError('TransportClosed', 'transport is closed');
      }
      link.connection = connection;
      link.everConnected = true;
      link.state.succeeded();
      void connection.closed().then(() => this.onOutboundClosed(link, connection));
      return connection;
    } catch (err) {
      if (this.closing !== undefined) throw new TesseraError('TransportClosed', 'transport is closed');
      const error = isTesseraError(err) ? err : new TesseraError('PeerUnreachable', `cannot connect to node ${nodeId} at ${host}:${port}: ${(err as Error).message}`, { remoteNode: nodeId });
      link.state.failed(error.message);
      link.nextAttemptAtMs = Date.now() + link.state.backoffMs();
      this.scheduleReconnect(link);
      throw error;
    }
  }

  private onOutboundClosed(link: OutboundLink, connection: NativeConnection): void {
    if (link.connection !== connection) return;
    link.connection = undefined;
    if (this.closing !== undefined) return;
    link.state.failed(`connection to node ${link.state.peer.nodeId} closed`);
    link.nextAttemptAtMs = Date.now() + link.state.backoffMs();
    this.scheduleReconnect(link);
  }

  /**
   * Closes the link's connection when a call timed out on it and nothing at all (no reply, ACK or
   * keep-alive) arrived on it since the call started, quicSilentConnectionMs or more ago. A live
   * peer ACKs within a round trip even when its handler is slow; a peer that crashed and restarted
   * never answers the old connection, which would otherwise linger until its idle timeout. The
   * reconnect that follows reaches the new process at once, or backs off if nobody is there.
   */
  private dropIfSilent(link: OutboundLink, silence: SilenceProbe): void {
    const { connection, heard, sinceMs } = silence;
    if (link.connection !== connection || Date.now() - sinceMs < this.limits.quicSilentConnectionMs) return;
    if (connection.stats().udpRxDatagrams !== heard) return;
    connection.abort();
    this.onOutboundClosed(link, connection);
  }

  /** Keeps a once-connected link up: one background attempt per backoff period. */
  private scheduleReconnect(link: OutboundLink): void {
    if (!link.everConnected || link.retryTimer !== undefined || this.closing !== undefined) return;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = undefined;
      if (link.connection === undefined && link.connecting === undefined && this.closing === undefined) this.startConnect(link);
    }, Math.max(0, link.nextAttemptAtMs - Date.now()));
    link.retryTimer.unref();
  }

  // ---- inbound ----

  private async acceptConnections(server: NativeServer, handler: CallHandler): Promise<void> {
    for (;;) {
      let connection: NativeConnection;
      try {
        connection = await server.inboundConnection();
      } catch (err) {
        if (this.closing !== undefined || /server closed/.test((err as Error).message)) return;
        continue; // one failed handshake; the endpoint keeps accepting
      }
      const nodeId = this.nodeIdByPeerId.get(peerIdOfMultiaddr(connection.remoteMultiaddr()) ?? '');
      if (nodeId === undefined || this.closing !== undefined) {
        this.refusedConnections++;
        connection.abort();
        continue;
      }
      this.acceptedConnections++;
      // A second connection from a node: it restarted (or reconnected); our link to it may be a dead one.
      const seen = this.inboundNodes.get(nodeId) ?? 0;
      this.inboundNodes.set(nodeId, seen + 1);
      const link = this.links.get(nodeId);
      if (seen > 0 && link !== undefined) this.recheckLink(link);
      const calls = new Set<CallScope>();
      this.inboundConnections.set(connection, calls);
      void connection.closed().then(() => {
        this.inboundConnections.delete(connection);
        for (const scope of [...calls]) scope.abort(new TesseraError('PeerUnreachable', `connection from node ${nodeId} closed`));
      });
      void this.acceptStreams(connection, nodeId, calls, handler);
    }
  }

  /** Accepts one stream at a time, and the next only once this one has an inbound call slot. */
  private async acceptStreams(connection: NativeConnection, from: string, calls: Set<CallScope>, handler: CallHandler): Promise<void> {
    for (;;) {
      let stream: NativeStream;
      try {
        stream = await connection.inboundStream();
      } catch {
        return; // connection closed
      }
      const release = await this.inboundSlots.acquire();
      if (this.closing !== undefined || !this.inboundConnections.has(connection)) {
        release();
        dropStream(stream);
        return;
      }
      void this.serve(stream, from, calls, handler).finally(release);
    }
  }

  /** One inbound call: request frame, handler, reply frame and body, FIN. Never throws. */
  private async serve(stream: NativeStream, from: string, calls: Set<CallScope>, handler: CallHandler): Promise<void> {
    const scope = new CallScope(calls, this.limits.callFrameTimeoutMs, () => new TesseraError('CallTimeout', `no request frame from node ${from} within ${this.limits.callFrameTimeoutMs} ms`));
    this.scopes.add(scope);
    const callerGone = (err: unknown): TesseraError => {
      const error = brokenStream(err, from);
      scope.abort(error); // the handler's signal: the caller went away
      return error;
    };
    const source = new StreamSource(stream, limits.quicReadChunkMinBytes, this.limits.quicReadChunkBytes, scope.signal, callerGone);
    try {
      const request = await readFrame<RequestFrame>(source);
      const { m: method, h: header, t: timeoutMs } = request.frame;
      if (typeof method !== 'string' || typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new TesseraError('BadFrame', 'request frame needs a method and a positive timeout');
      const deadlineMs = Math.min(timeoutMs, this.limits.callTimeoutMaxMs);
      scope.rearm(deadlineMs, () => new TesseraError('CallTimeout', `call ${method} from node ${from} passed its ${deadlineMs} ms deadline`));
      let frame: ReplyFrame;
      let body: AsyncIterable<Uint8Array> | undefined;
      try {
        const reply = method === probeMethod ? { header: null } : await raceAbort(handler({ from, method, header, body: request.body, signal: scope.signal }), scope.signal);
        frame = { h: reply.header };
        body = reply.body;
      } catch (err) {
        if (scope.signal.aborted) throw scope.signal.reason;
        frame = errorFrame(err);
      }
      await writeReply(stream, frame, body, scope.signal, callerGone);
      if (!source.finished) stream.stopRead().catch(ignore); // the handler left request bytes unread
    } catch {
      dropStream(stream, source.finished); // deadline, caller gone, bad frame: nobody waits for a reply
    } finally {
      scope.dispose();
      this.scopes.delete(scope);
    }
  }
}

// ---- helpers ----

function defaultLimits(): QuicTransportLimits {
  const { handshakeTimeoutMs, connectionIdleTimeoutMs, keepAliveIntervalMs, callsPerPeerMax, callQueuePerPeerMax, inboundCallsMax, callFrameTimeoutMs, callTimeoutMaxMs, transportCloseGraceMs,
    quicStreamWindowBytes, quicConnectionWindowBytes, quicSocketBufferBytes, quicReadChunkBytes, quicStreamsPerConnectionMax, quicSilentConnectionMs, quicPeerProbeTimeoutMs } = limits;
  return { handshakeTimeoutMs, connectionIdleTimeoutMs, keepAliveIntervalMs, callsPerPeerMax, callQueuePerPeerMax, inboundCallsMax, callFrameTimeoutMs, callTimeoutMaxMs, transportCloseGraceMs,
    quicStreamWindowBytes, quicConnectionWindowBytes, quicSocketBufferBytes, quicReadChunkBytes, quicStreamsPerConnectionMax, quicSilentConnectionMs, quicPeerProbeTimeoutMs };
}

/** Relations between the limits; throws InvalidConfig when one does not hold. */
function checkLimits(l: QuicTransportLimits): void {
  const u32 = 2 ** 32 - 1;
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isInteger(value) || value <= 0 || value > u32) throw new TesseraError('InvalidConfig', `transport limit ${name} must be an integer in 1..${u32}, got ${value}`);
  }
  const relations: Array<[boolean, string]> = [
    [l.keepAliveIntervalMs < l.connectionIdleTimeoutMs, 'keepAliveIntervalMs < connectionIdleTimeoutMs'],
    [l.quicStreamWindowBytes <= l.quicConnectionWindowBytes, 'quicStreamWindowBytes <= quicConnectionWindowBytes'],
    [l.callsPerPeerMax <= l.quicStreamsPerConnectionMax, 'callsPerPeerMax <= quicStreamsPerConnectionMax'],
  ];
  for (const [holds, relation] of relations) if (!holds) throw new TesseraError('InvalidConfig', `transport limits must satisfy ${relation}`);
}

/** A literal address for `host` (the engine takes no host names). Throws PeerUnreachable. */
async function resolveAddress(host: string): Promise<{ address: string; family: SocketFamily }> {
  const literal = isIP(host);
  if (literal !== 0) return { address: host, family: literal === 6 ? 6 : 4 };
  try {
    const found = await lookup(host);
    return { address: found.address, family: found.family === 6 ? 6 : 4 };
  } catch (err) {
    throw new TesseraError('PeerUnreachable', `cannot resolve ${host}: ${(err as Error).message}`);
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, timeoutError: () => Error, onLate: (value: T) => void): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeoutError()), timeoutMs);
  return raceAbort(promise, controller.signal, onLate).finally(() => clearTimeout(timer));
}
