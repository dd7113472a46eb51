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
import { publicKeyBytes } from './identity.js';
import { ConnectionLink, PeerLinks, transportClosed, type ConnectionWire, type LinkPolicy } from './peer-link.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallScope } from './call-scope.js';
import { brokenStream, replyBody, sendRequest, writeReply } from './quic-call.js';
import { CallSlots } from './slots.js';
import {
  StreamSource, dropStream, loadQuinnEngine, peerIdOfMultiaddr, peerIdOfPublicKey, privateKeyProto,
  type NativeClient, type NativeConfig, type NativeConnection, type NativeServer, type NativeStream, type QuinnEngine, type SocketFamily,
} from './quinn-native.js';
import { discardBody, type Call, type CallHandler, type CallOptions, type PeerAddress, type PeerHealth, type Reply, type Transport } from './transport.js';
import { transportLimits, type InboundConnectionStats, type TransportOptions } from './transport-options.js';

const limitNames = ['handshakeTimeoutMs', 'connectionIdleTimeoutMs', 'keepAliveIntervalMs', 'callsPerPeerMax', 'callQueuePerPeerMax', 'inboundCallsMax', 'callFrameTimeoutMs',
  'callTimeoutMaxMs', 'transportCloseGraceMs', 'quicStreamWindowBytes', 'quicConnectionWindowBytes', 'quicSocketBufferBytes', 'quicReadChunkBytes',
  'quicStreamsPerConnectionMax', 'quicSilentConnectionMs', 'quicPeerProbeTimeoutMs'] as const;

/** Limits a QuicTransport runs with; each defaults to the constant of the same name in util/limits.ts. */
export type QuicTransportLimits = Record<(typeof limitNames)[number], number>;

export type QuicTransportOptions = TransportOptions<QuicTransportLimits>;

/** Counters for tests and diagnostics. */
export interface QuicTransportStats extends InboundConnectionStats {
  /** Inbound calls being served right now. */
  inboundCalls: number;
}

type QuicLink = ConnectionLink<NativeConnection>;

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
  /** Peers by node id; a connection's key is its libp2p peer id. */
  private readonly links: PeerLinks<QuicLink>;
  private readonly scopes = new Set<CallScope>();
  private readonly inboundConnections = new Map<NativeConnection, Set<CallScope>>();
  /** Inbound connections accepted per node id since listen(). */
  private readonly inboundNodes = new Map<string, number>();
  private heardTimer: NodeJS.Timeout | undefined;
  /** Datagrams received on each outbound connection when last sampled, and since when that count stands (ms). */
  private readonly heard = new WeakMap<NativeConnection, { datagrams: number; sinceMs: number }>();
  private readonly inboundSlots: CallSlots;
  private readonly clients = new Map<SocketFamily, NativeClient>();
  private started: Promise<{ engine: QuinnEngine; config: NativeConfig }> | undefined;
  private server: NativeServer | undefined;
  private closing: Promise<void> | undefined;
  private refusedConnections = 0;
  private acceptedConnections = 0;

  constructor(private readonly options: QuicTransportOptions) {
    this.limits = transportLimits(limitNames, options.limits, (l) => [
      [l.keepAliveIntervalMs < l.connectionIdleTimeoutMs, 'keepAliveIntervalMs < connectionIdleTimeoutMs'],
      [l.quicStreamWindowBytes <= l.quicConnectionWindowBytes, 'quicStreamWindowBytes <= quicConnectionWindowBytes'],
      [l.callsPerPeerMax <= l.quicStreamsPerConnectionMax, 'callsPerPeerMax <= quicStreamsPerConnectionMax'],
    ]);
    this.inboundSlots = new CallSlots({ max: this.limits.inboundCallsMax, what: 'an inbound call slot' }); // waiters: one per connection
    const wire: ConnectionWire<NativeConnection> = {
      open: (peer) => this.connect(peer),
      discard: (connection) => connection.abort(),
      closing: () => this.closing !== undefined,
      usable: () => true,
      onClose: (connection, lost) => void connection.closed().then(lost),
    };
    const policy: LinkPolicy = { ...this.limits, waitInBackoff: true, reconnectOnceConnected: true };
    this.links = new PeerLinks((peer) => new ConnectionLink(peer, wire, policy), (publicKey) => peerIdOfPublicKey(publicKeyBytes(publicKey)));
    this.links.addAll(options.peers);
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void {
    this.links.add(peer);
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
    for (const link of this.links.all()) if (link.state.peer.nodeId !== this.options.nodeId) this.probe(link);
    this.heardTimer = setInterval(() => {
      for (const link of this.links.all()) this.sampleHeard(link);
    }, Math.max(1, Math.floor(this.limits.keepAliveIntervalMs / 4)));
    this.heardTimer.unref();
    return this.server.port();
  }

  async call(nodeId: string, call: Call, options: CallOptions): Promise<Reply> {
    if (this.closing !== undefined) throw transportClosed();
    const link = this.links.forCall(nodeId, call.method);
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
      const connection = await link.connected(scope.signal);
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
  private recheckLink(link: QuicLink): void {
    const connection = link.current;
    if (connection === undefined) return;
    this.sampleHeard(link);
    const heard = this.heard.get(connection);
    if (heard !== undefined && Date.now() - heard.sinceMs > 1.5 * this.limits.keepAliveIntervalMs) {
      connection.abort();
      link.lost(connection);
      return;
    }
    this.probe(link);
  }

  /** Updates `heard` from the link's connection's datagram counter (sampled every keep-alive interval / 4 and on demand). */
  private sampleHeard(link: QuicLink): void {
    const connection = link.current;
    if (connection === undefined) return;
    const datagrams = connection.stats().udpRxDatagrams;
    if (this.heard.get(connection)?.datagrams !== datagrams) this.heard.set(connection, { datagrams, sinceMs: Date.now() });
  }

  /**
   * Sends one probe call over the link; a timeout on a silent connection drops it (dropIfSilent),
   * so the next call connects afresh. Never throws: the outcome lands in the peer's health.
   */
  private probe(link: QuicLink): void {
    this.call(link.state.peer.nodeId, { method: probeMethod, header: null }, { timeoutMs: this.limits.quicPeerProbeTimeoutMs })
      .then(async (reply) => {
        await discardBody(reply.body);
      })
      .catch(ignore);
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  health(nodeId: string): PeerHealth {
    return this.links.health(nodeId);
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
    const closed = transportClosed();
    clearInterval(this.heardTimer);
    for (const scope of [...this.scopes]) scope.abort(closed);
    for (const link of this.links.all()) {
      link.stop();
      link.current?.abort();
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

  /** A new QUIC connection to `peer` whose TLS key is the peer's (ConnectionWire.open). */
  private async connect(peer: PeerAddress): Promise<NativeConnection> {
    const { nodeId, host, port } = peer;
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
    if (this.links.nodeIdOf(remotePeerId ?? '') !== nodeId) {
      connection.abort();
      throw new TesseraError('PeerNotAuthorized', `node ${nodeId} at ${host}:${port} presented peer id ${remotePeerId ?? 'none'}, not the configured key's`, { remoteNode: nodeId });
    }
    return connection;
  }

  /**
   * Closes the link's connection when a call timed out on it and nothing at all (no reply, ACK or
   * keep-alive) arrived on it since the call started, quicSilentConnectionMs or more ago. A live
   * peer ACKs within a round trip even when its handler is slow; a peer that crashed and restarted
   * never answers the old connection, which would otherwise linger until its idle timeout. The
   * reconnect that follows reaches the new process at once, or backs off if nobody is there.
   */
  private dropIfSilent(link: QuicLink, silence: SilenceProbe): void {
    const { connection, heard, sinceMs } = silence;
    if (link.current !== connection || Date.now() - sinceMs < this.limits.quicSilentConnectionMs) return;
    if (connection.stats().udpRxDatagrams !== heard) return;
    connection.abort();
    link.lost(connection);
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
      const nodeId = this.links.nodeIdOf(peerIdOfMultiaddr(connection.remoteMultiaddr()) ?? '');
      if (nodeId === undefined || this.closing !== undefined) {
        this.refusedConnections++;
        connection.abort();
        continue;
      }
      this.acceptedConnections++;
      // A second connection from a node: it restarted (or reconnected); our link to it may be a dead one.
      const seen = this.inboundNodes.get(nodeId) ?? 0;
      this.inboundNodes.set(nodeId, seen + 1);
      if (seen > 0) this.recheckLink(this.links.get(nodeId));
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
