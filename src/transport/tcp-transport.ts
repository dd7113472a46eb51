// The TCP transport, for trusted networks: plain TCP, no encryption, so shard bytes cost no cipher
// CPU (as Ceph msgr2's crc mode and MinIO's plain internode traffic). Peers still prove their
// Ed25519 identity on every connection (tcp-handshake.ts) and every frame carries a CRC-32C
// (tcp-frames.ts). Connections are pooled per peer like HTTP/1.1 keep-alive without pipelining:
// a call takes an idle connection or dials one (so at most callsPerPeerMax per peer), gives it
// back when it ended cleanly, and destroys it otherwise; idle ones close after connectionIdleTimeoutMs.
import net, { type AddressInfo } from 'node:net';
import { assert } from '../util/assert.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import * as limits from '../util/limits.js';
import type { CallScope } from './call-scope.js';
import { packFrame } from './framing.js';
import { publicKeyBytes, type NodeIdentity } from './identity.js';
import { PeerState } from './peer-state.js';
import { ignore, raceAbort } from './race-abort.js';
import { CallSlots } from './slots.js';
import { TcpOutboundCall } from './tcp-call.js';
import { FramedSocket, type FramedSocketLimits } from './tcp-frames.js';
import { handshake, type Hello } from './tcp-handshake.js';
import { serveConnection } from './tcp-serve.js';
import type { Call, CallHandler, CallOptions, PeerAddress, PeerHealth, Reply, Transport } from './transport.js';

/** Limits a TcpTransport runs with; each defaults to the constant of the same name in util/limits.ts. */
export interface TcpTransportLimits {
  callsPerPeerMax: number;
  callQueuePerPeerMax: number;
  inboundCallsMax: number;
  handshakeTimeoutMs: number;
  /** An idle pooled connection is closed after this long; the accepting side waits twice as long. */
  connectionIdleTimeoutMs: number;
  callTimeoutMaxMs: number;
  transportCloseGraceMs: number;
  tcpBodyFrameMaxBytes: number;
  tcpReadBufferBytes: number;
}

export interface TcpTransportOptions {
  identity: NodeIdentity;
  /** This node's id (may also appear in `peers`). */
  nodeId: string;
  /** Every node this one may call or accept calls from, with its public key. */
  peers: PeerAddress[];
  /** TCP address to listen on; port 0 picks a free port (listen() returns it). */
  listen: { host: string; port: number };
  limits?: Partial<TcpTransportLimits>;
}

/** Counters for tests and diagnostics. */
export interface TcpTransportStats {
  /** Connections dialed and authenticated since start. */
  dialedConnections: number;
  /** Inbound connections that passed the handshake. */
  acceptedConnections: number;
  /** Inbound connections refused in the handshake (unlisted key, bad proof, malformed hello, timeout). */
  refusedConnections: number;
}

/** What we know about one peer we call. */
interface TcpLink {
  readonly state: PeerState;
  /** Idle connections, most recently used last, each with its idle timer. */
  readonly idle: Array<{ connection: FramedSocket; timer: NodeJS.Timeout }>;
  /** Every open outbound connection, idle or busy. */
  readonly open: Set<FramedSocket>;
  /** No dial before this time (ms since the epoch): the reconnect backoff. */
  nextAttemptAtMs: number;
  /** Once a dial succeeded, a failed peer is re-dialed in the background so health() recovers. */
  everConnected: boolean;
  retryTimer?: NodeJS.Timeout;
  /** A background dial in progress (after a lost connection or during backoff). */
  probing: boolean;
}

export class TcpTransport implements Transport {
  readonly kind = 'tcp' as const;
  private readonly limits: TcpTransportLimits;
  private readonly frameLimits: FramedSocketLimits;
  private readonly links = new Map<string, TcpLink>();
  private readonly nodeIdByKey = new Map<string, string>();
  private readonly scopes = new Set<CallScope>();
  private readonly inbound = new Set<FramedSocket>();
  private readonly inboundSlots: CallSlots;
  private server: net.Server | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters: TcpTransportStats = { dialedConnections: 0, acceptedConnections: 0, refusedConnections: 0 };

  /** Throws InvalidConfig for a malformed or repeated peer key or node id, or inconsistent limits. */
  constructor(private readonly options: TcpTransportOptions) {
    this.limits = { ...defaultLimits(), ...options.limits };
    checkLimits(this.limits);
    this.frameLimits = {
      bodyFrameMaxBytes: this.limits.tcpBodyFrameMaxBytes,
      headerFrameMaxBytes: limits.callHeaderMaxBytes,
      handshakeFrameMaxBytes: limits.tcpHandshakeFrameMaxBytes,
      readBufferBytes: this.limits.tcpReadBufferBytes,
      coalesceMaxBytes: limits.tcpCoalesceMaxBytes,
    };
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
    publicKeyBytes(peer.publicKey);
    const other = this.nodeIdByKey.get(peer.publicKey);
    if (other !== undefined) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} has the public key of node ${other}`);
    this.nodeIdByKey.set(peer.publicKey, peer.nodeId);
    const state = new PeerState(peer, this.limits.callsPerPeerMax, this.limits.callQueuePerPeerMax);
    this.links.set(peer.nodeId, { state, idle: [], open: new Set(), nextAttemptAtMs: 0, everConnected: false, probing: false });
  }

  /** Starts the TCP listener serving calls with `handler`; returns the bound port. Throws the listen error (e.g. EADDRINUSE). */
  async listen(handler: CallHandler): Promise<number> {
    assert(this.server === undefined, 'listen() called twice');
    if (this.closing !== undefined) throw new TesseraError('TransportClosed', 'transport is closed');
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
    if (this.closing !== undefined) throw new TesseraError('TransportClosed', 'transport is closed');
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    if (Buffer.byteLength(call.method) > limits.callMethodMaxBytes) throw new TesseraError('InvalidCall', `method name longer than ${limits.callMethodMaxBytes} bytes`);
    const request = packFrame({ m: call.method, h: call.header, t: options.timeoutMs });
    const outbound = new TcpOutboundCall({ scopes: this.scopes, state: link.state, recycle: (connection) => this.recycle(link, connection) }, call.method, options);
    return outbound.run(request, call.body, (signal) => this.connection(link, signal));
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  health(nodeId: string): PeerHealth {
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    return link.state.health();
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
    const closed = new TesseraError('TransportClosed', 'transport is closed');
    for (const scope of [...this.scopes]) scope.abort(closed);
    for (const link of this.links.values()) {
      clearTimeout(link.retryTimer);
      for (const connection of [...link.open]) connection.destroy(closed);
    }
    for (const connection of [...this.inbound]) connection.destroy(closed);
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- outbound connections ----

  /**
   * An idle connection to the peer, or a new one. While a failed peer is in backoff a call waits
   * for the next attempt within its deadline, unless the peer counts as down: then it fails at
   * once with PeerUnreachable, so quorum calls do not wait on a dead node.
   */
  private async connection(link: TcpLink, signal: AbortSignal): Promise<FramedSocket> {
    for (;;) {
      const idle = link.idle.pop();
      if (idle !== undefined) {
        clearTimeout(idle.timer);
        if (idle.connection.failed === undefined && idle.connection.queuedFrames === 0) return idle.connection;
        idle.connection.destroy(new TesseraError('BadFrame', `${idle.connection.peerName} sent frames on an idle connection`));
        continue;
      }
      const waitMs = link.nextAttemptAtMs - Date.now();
      if (waitMs <= 0) return await raceAbort(this.dial(link), signal, (late) => this.recycle(link, late));
      const health = link.state.health();
      if (!health.up) throw new TesseraError('PeerUnreachable', `node ${health.nodeId} is down (${health.lastError ?? 'no connection'}); next attempt in ${waitMs} ms`, { remoteNode: health.nodeId });
      await raceAbort(new Promise((resolve) => setTimeout(resolve, waitMs).unref()), signal);
    }
  }

  /** Gives a connection back to the peer's idle pool (or destroys it when it broke or we are closing). */
  private recycle(link: TcpLink, connection: FramedSocket): void {
    if (connection.failed !== undefined) return;
    if (this.closing !== undefined) {
      connection.destroy(new TesseraError('TransportClosed', 'transport is closed'));
      return;
    }
    const timer = setTimeout(() => {
      const at = link.idle.findIndex((entry) => entry.connection === connection);
      if (at >= 0) link.idle.splice(at, 1);
      connection.destroy(new TesseraError('CallEnded', `idle for ${this.limits.connectionIdleTimeoutMs} ms`));
    }, this.limits.connectionIdleTimeoutMs);
    timer.unref();
    link.idle.push({ connection, timer });
  }

  /** A new authenticated connection to the peer. Failures count against its health and start the backoff. */
  private async dial(link: TcpLink): Promise<FramedSocket> {
    const { nodeId, host, port, publicKey } = link.state.peer;
    const socket = net.connect({ host, port, noDelay: true });
    const connection = new FramedSocket(socket, this.frameLimits, `node ${nodeId} at ${host}:${port}`);
    link.open.add(connection);
    connection.onClose(() => this.onOutboundClosed(link, connection));
    try {
      await handshake(connection, this.options.identity, this.options.nodeId, 'dialer', (hello: Hello) => {
        if (hello.publicKey !== publicKey) throw new TesseraError('PeerNotAuthorized', `server at ${host}:${port} presented key ${hello.publicKey}, not the key of node ${nodeId}`, { remoteNode: nodeId });
        return nodeId;
      }, this.limits.handshakeTimeoutMs);
      if (this.closing !== undefined) throw new TesseraError('TransportClosed', 'transport is closed');
      this.counters.dialedConnections++;
      link.everConnected = true;
      link.nextAttemptAtMs = 0;
      link.state.succeeded();
      return connection;
    } catch (err) {
      if (this.closing !== undefined) {
        connection.destroy(new TesseraError('TransportClosed', 'transport is closed'));
        throw new TesseraError('TransportClosed', 'transport is closed');
      }
      const error = isTesseraError(err) ? err : new TesseraError('PeerUnreachable', `cannot connect to node ${nodeId} at ${host}:${port}: ${(err as Error).message}`, { remoteNode: nodeId });
      link.state.failed(error.message);
      link.nextAttemptAtMs = Date.now() + link.state.backoffMs();
      this.scheduleReconnect(link);
      throw error;
    }
  }

  /**
   * An outbound connection ended. One the peer closed (or that broke) while idle says the peer
   * may be gone, with no call to notice: a background dial finds out, as the other transports'
   * connection loss does, so health() reports a stopped peer down without calls.
   */
  private onOutboundClosed(link: TcpLink, connection: FramedSocket): void {
    link.open.delete(connection);
    const at = link.idle.findIndex((entry) => entry.connection === connection);
    if (at < 0) return;
    clearTimeout(link.idle[at]!.timer);
    link.idle.splice(at, 1);
    if (!connection.endedHere) this.probe(link);
  }

  /** One background dial; a connection it makes joins the idle pool. Never throws. */
  private probe(link: TcpLink): void {
    if (link.probing || this.closing !== undefined) return;
    link.probing = true;
    this.dial(link).then(
      (connection) => this.recycle(link, connection),
      () => undefined, // counted in the peer's health by dial()
    ).finally(() => {
      link.probing = false;
    });
  }

  /** Keeps a once-connected peer's health current: one background dial per backoff period while it fails. */
  private scheduleReconnect(link: TcpLink): void {
    if (!link.everConnected || link.retryTimer !== undefined || this.closing !== undefined) return;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = undefined;
      if (link.idle.length === 0) this.probe(link);
    }, Math.max(0, link.nextAttemptAtMs - Date.now()));
    link.retryTimer.unref();
  }

  // ---- inbound ----

  /** Handshake with a new inbound connection (refusing keys not in the peer list), then serves its calls. */
  private async accept(socket: net.Socket, handler: CallHandler): Promise<void> {
    const connection = new FramedSocket(socket, this.frameLimits, `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`);
    if (this.closing !== undefined) {
      connection.destroy(new TesseraError('TransportClosed', 'transport is closed'));
      return;
    }
    this.inbound.add(connection);
    connection.onClose(() => this.inbound.delete(connection));
    let from: string;
    try {
      from = await handshake(connection, this.options.identity, this.options.nodeId, 'acceptor', (hello: Hello) => {
        const listed = this.nodeIdByKey.get(hello.publicKey);
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

// ---- helpers ----

function defaultLimits(): TcpTransportLimits {
  const { callsPerPeerMax, callQueuePerPeerMax, inboundCallsMax, handshakeTimeoutMs, connectionIdleTimeoutMs, callTimeoutMaxMs, transportCloseGraceMs, tcpBodyFrameMaxBytes, tcpReadBufferBytes } = limits;
  return { callsPerPeerMax, callQueuePerPeerMax, inboundCallsMax, handshakeTimeoutMs, connectionIdleTimeoutMs, callTimeoutMaxMs, transportCloseGraceMs, tcpBodyFrameMaxBytes, tcpReadBufferBytes };
}

/** Every limit is a positive 32-bit integer (frame lengths are u32); throws InvalidConfig otherwise. */
function checkLimits(l: TcpTransportLimits): void {
  const u32 = 2 ** 32 - 1;
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isInteger(value) || value <= 0 || value > u32) throw new TesseraError('InvalidConfig', `transport limit ${name} must be an integer in 1..${u32}, got ${value}`);
  }
}
