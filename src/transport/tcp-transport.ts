// The TCP transport, for trusted networks: plain TCP, no encryption, so shard bytes cost no cipher
// CPU (as Ceph msgr2's crc mode and MinIO's plain internode traffic). Peers still prove their
// Ed25519 identity on every connection (tcp-handshake.ts) and every frame carries a CRC-32C
// (tcp-frames.ts). Connections are pooled per peer like HTTP/1.1 keep-alive without pipelining:
// a call takes an idle connection or dials one (so at most callsPerPeerMax per peer), gives it
// back when it ended cleanly, and destroys it otherwise; idle ones close after connectionIdleTimeoutMs.
import net, { type AddressInfo } from 'node:net';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import * as limits from '../util/limits.js';
import type { CallScope } from './call-scope.js';
import { packFrame } from './framing.js';
import { PeerLink, PeerLinks, transportClosed, type LinkPolicy, type LinkWire } from './peer-link.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallSlots } from './slots.js';
import { TcpOutboundCall } from './tcp-call.js';
import { FramedSocket, type FramedSocketLimits } from './tcp-frames.js';
import { handshake, type Hello } from './tcp-handshake.js';
import { serveConnection } from './tcp-serve.js';
import type { Call, CallHandler, CallOptions, PeerAddress, PeerHealth, Reply, Transport } from './transport.js';
import { transportLimits, type InboundConnectionStats, type TransportOptions } from './transport-options.js';

const limitNames = ['callsPerPeerMax', 'callQueuePerPeerMax', 'inboundCallsMax', 'handshakeTimeoutMs', 'connectionIdleTimeoutMs', 'callTimeoutMaxMs', 'transportCloseGraceMs',
  'tcpBodyFrameMaxBytes', 'tcpReadBufferBytes'] as const;

/**
 * Limits a TcpTransport runs with; each defaults to the constant of the same name in util/limits.ts.
 * An idle pooled connection is closed after connectionIdleTimeoutMs; the accepting side waits twice as long.
 */
export type TcpTransportLimits = Record<(typeof limitNames)[number], number>;

export type TcpTransportOptions = TransportOptions<TcpTransportLimits>;

/** Counters for tests and diagnostics. */
export interface TcpTransportStats extends InboundConnectionStats {
  /** Connections dialed and authenticated since start. */
  dialedConnections: number;
}

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  private readonly limits: TcpTransportLimits;
  private readonly frameLimits: FramedSocketLimits;
  private readonly links: PeerLinks<TcpLink>;
  private readonly scopes = new Set<CallScope>();
  private readonly inbound = new Set<FramedSocket>();
  private readonly inboundSlots: CallSlots;
  private server: net.Server | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters: TcpTransportStats = { dialedConnections: 0, acceptedConnections: 0, refusedConnections: 0 };

  /** Throws InvalidConfig for a malformed or repeated peer key or node id, or inconsistent limits. */
  constructor(private readonly options: TcpTransportOptions) {
    this.limits = transportLimits(limitNames, options.limits);
    this.frameLimits = {
      bodyFrameMaxBytes: this.limits.tcpBodyFrameMaxBytes,
      headerFrameMaxBytes: limits.callHeaderMaxBytes,
      handshakeFrameMaxBytes: limits.tcpHandshakeFrameMaxBytes,
      readBufferBytes: this.limits.tcpReadBufferBytes,
      coalesceMaxBytes: limits.tcpCoalesceMaxBytes,
    };
    this.inboundSlots = new CallSlots({ max: this.limits.inboundCallsMax, what: 'an inbound call slot' }); // waiters: one per connection
    const wire: LinkWire<FramedSocket> = {
      open: (peer) => this.dial(peer),
      discard: (connection) => connection.destroy(transportClosed()),
      closing: () => this.closing !== undefined,
    };
    const policy: LinkPolicy = { ...this.limits, waitInBackoff: true, reconnectOnceConnected: true };
    this.links = new PeerLinks((peer) => new TcpLink(peer, wire, policy, this.limits.connectionIdleTimeoutMs));
    this.links.addAll(options.peers);
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void {
    this.links.add(peer);
  }

  /** Starts the TCP listener serving calls with `handler`; returns the bound port. Throws the listen error (e.g. EADDRINUSE). */
  async listen(handler: CallHandler): Promise<number> {
    assert(this.server === undefined, 'listen() called twice');
    if (this.closing !== undefined) throw transportClosed();
    const server = net.createServer({ noDelay: true }, (socket) => void this.accept(socket, handler));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => {
        server.off('error', reject);
        server.on('error', ignore); // a failed accept (e.g. out of file descriptors) drops that connection only
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** See Transport.call; also throws PeerNotAuthorized when the dialed server holds another key, InvalidCall for a too-long method name. */
  async call(nodeId: string, call: Call, options: CallOptions): Promise<Reply> {
    if (this.closing !== undefined) throw transportClosed();
    const link = this.links.forCall(nodeId, call.method);
    const request = packFrame({ m: call.method, h: call.header, t: options.timeoutMs });
    const outbound = new TcpOutboundCall({ scopes: this.scopes, state: link.state, recycle: (connection) => link.recycle(connection) }, call.method, options);
    return outbound.run(request, call.body, (signal) => link.connection(signal));
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  health(nodeId: string): PeerHealth {
    return this.links.health(nodeId);
  }

  stats(): TcpTransportStats {
    return { ...this.counters };
  }

  /** Stops accepting, aborts calls in flight (TransportClosed) and their handlers, closes every connection. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const closed = transportClosed();
    for (const scope of [...this.scopes]) scope.abort(closed);
    for (const link of this.links.all()) link.stop();
    for (const connection of [...this.inbound]) connection.destroy(closed);
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outbound connections ----

  /** A new connection to `peer` that proved it holds the peer's key (LinkWire.open). */
  private async dial(peer: PeerAddress): Promise<FramedSocket> {
    const { nodeId, host, port, publicKey } = peer;
    const socket = net.connect({ host, port, noDelay: true });
    const connection = new FramedSocket(socket, this.frameLimits, `node ${nodeId} at ${host}:${port}`);
    this.links.get(nodeId).track(connection);
    await handshake(connection, this.options.identity, this.options.nodeId, 'dialer', (hello: Hello) => {
      if (hello.publicKey !== publicKey) throw new TesseraError('PeerNotAuthorized', `server at ${host}:${port} presented key ${hello.publicKey}, not the key of node ${nodeId}`, { remoteNode: nodeId });
      return nodeId;
    }, this.limits.handshakeTimeoutMs);
    this.counters.dialedConnections++;
    return connection;
  }

  // ---- inbound ----

  /** Handshake with a new inbound connection (refusing keys not in the peer list), then serves its calls. */
  private async accept(socket: net.Socket, handler: CallHandler): Promise<void> {
    const connection = new FramedSocket(socket, this.frameLimits, `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`);
    if (this.closing !== undefined) {
      connection.destroy(transportClosed());
      return;
    }
    this.inbound.add(connection);
    connection.onClose(() => this.inbound.delete(connection));
    let from: string;
    try {
      from = await handshake(connection, this.options.identity, this.options.nodeId, 'acceptor', (hello: Hello) => {
        const listed = this.links.nodeIdOf(hello.publicKey);
        if (listed === undefined) throw new TesseraError('PeerNotAuthorized', `${connection.peerName} (claiming node ${hello.nodeId}) holds key ${hello.publicKey}, which is not in the peer list`);
        if (listed !== hello.nodeId) throw new TesseraError('PeerNotAuthorized', `${connection.peerName} holds the key of node ${listed} but claims to be node ${hello.nodeId}`);
        return listed;
      }, this.limits.handshakeTimeoutMs);
    } catch {
      this.counters.refusedConnections++;
      return;
    }
    this.counters.acceptedConnections++;
    await serveConnection(connection, from, {
      scopes: this.scopes,
      slots: this.inboundSlots,
      handler,
      callTimeoutMaxMs: this.limits.callTimeoutMaxMs,
      idleTimeoutMs: 2 * this.limits.connectionIdleTimeoutMs, // the dialer closes first: no call meets a closing connection
      closeGraceMs: this.limits.transportCloseGraceMs,
    });
  }
}

/**
 * The pool of connections to one peer. A call takes the most recently used idle connection or
 * dials one; a clean one goes back to the pool and closes after idleTimeoutMs unused. One the
 * peer closed while idle, or a failed peer's backoff passing, starts a single background dial.
 */
class TcpLink extends PeerLink<FramedSocket> {
  /** Idle connections, most recently used last, each with its idle timer. */
  private readonly idle: Array<{ connection: FramedSocket; timer: NodeJS.Timeout }> = [];
  /** Every open outbound connection, idle or busy. */
  private readonly open = new Set<FramedSocket>();
  /** A background dial in progress. */
  private probing = false;

  constructor(peer: PeerAddress, wire: LinkWire<FramedSocket>, policy: LinkPolicy, private readonly idleTimeoutMs: number) {
    super(peer, wire, policy);
  }

  /** An idle connection to the peer, or a new one (see attemptAllowed for a peer in backoff). Throws as dial() does, or `signal.reason`. */
  async connection(signal: AbortSignal): Promise<FramedSocket> {
    for (;;) {
      const idle = this.idle.pop();
      if (idle !== undefined) {
        clearTimeout(idle.timer);
        if (idle.connection.failed === undefined && idle.connection.queuedFrames === 0) return idle.connection;
        idle.connection.destroy(new TesseraError('BadFrame', `${idle.connection.peerName} sent frames on an idle connection`));
        continue;
      }
      if (await this.attemptAllowed(signal)) return await raceAbort(this.dial(), signal, (late) => this.recycle(late));
    }
  }

  /** Gives a connection back to the idle pool (or destroys it when it broke or the transport is closing). */
  recycle(connection: FramedSocket): void {
    if (connection.failed !== undefined) return;
    if (this.wire.closing()) {
      connection.destroy(transportClosed());
      return;
    }
    const timer = setTimeout(() => {
      const at = this.idle.findIndex((entry) => entry.connection === connection);
      if (at >= 0) this.idle.splice(at, 1);
      connection.destroy(new TesseraError('CallEnded', `idle for ${this.idleTimeoutMs} ms`));
    }, this.idleTimeoutMs);
    timer.unref();
    this.idle.push({ connection, timer });
  }

  /** Counts a connection being dialed as open until it closes. */
  track(connection: FramedSocket): void {
    this.open.add(connection);
    connection.onClose(() => this.closed(connection));
  }

  /** Stops the background dials and destroys every connection (the transport is closing). */
  override stop(): void {
    super.stop();
    const closed = transportClosed();
    for (const connection of [...this.open]) connection.destroy(closed);
  }

  protected override retry(): void {
    if (this.idle.length === 0) this.probe();
  }

  /**
   * An outbound connection ended. One the peer closed (or that broke) while idle says the peer
   * may be gone, with no call to notice: a background dial finds out, as the other transports'
   * connection loss does, so health() reports a stopped peer down without calls.
   */
  private closed(connection: FramedSocket): void {
    this.open.delete(connection);
    const at = this.idle.findIndex((entry) => entry.connection === connection);
    if (at < 0) return;
    clearTimeout(this.idle[at]!.timer);
    this.idle.splice(at, 1);
    if (!connection.endedHere) this.probe();
  }

  /** One background dial; a connection it makes joins the idle pool. Never throws. */
  private probe(): void {
    if (this.probing || this.wire.closing()) return;
    this.probing = true;
    this.dial().then(
      (connection) => this.recycle(connection),
      () => undefined, // counted in the peer's health by dial()
    ).finally(() => {
      this.probing = false;
    });
  }
}
