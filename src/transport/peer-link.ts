// The per-peer outbound link every transport shares: call slots and health (PeerState), connection
// attempts counted in that health, the reconnect backoff and the background reconnect that keeps
// health() current without calls, and the peer list. A transport supplies only its wire (LinkWire).
import { isTesseraError, TesseraError } from '../util/errors.js';
import { callMethodMaxBytes } from '../util/limits.js';
import { publicKeyBytes } from './identity.js';
import { PeerState } from './peer-state.js';
import { ignore, raceAbort } from './race-abort.js';
import type { PeerAddress, PeerHealth } from './transport.js';

/** What a link needs of its transport's wire. */
export interface LinkWire<C> {
  /**
   * Opens one connection to `peer` and proves it holds the configured key. Throws PeerNotAuthorized
   * or PeerUnreachable; any other error is reported as PeerUnreachable.
   */
  open(peer: PeerAddress): Promise<C>;
  /** Closes a connection nobody will use (one that opened while the transport was closing). */
  discard(connection: C): void;
  /** True from the moment the transport starts closing: no attempt starts and no failure counts. */
  closing(): boolean;
}

/** The per-peer call limits and how a link meets a peer in backoff. */
export interface LinkPolicy {
  callsPerPeerMax: number;
  callQueuePerPeerMax: number;
  /**
   * true: a call meeting a peer in backoff waits for the next attempt within its deadline while the
   * peer still counts as up (QUIC, TCP). false: it fails at once with PeerUnreachable (TLS).
   */
  waitInBackoff: boolean;
  /** true: the background reconnect runs only once a connection was ever made (QUIC, TCP); false: always (TLS). */
  reconnectOnceConnected: boolean;
}

/** One peer we call: its state, the backoff and the background reconnect. Subclasses hold the connections. */
export abstract class PeerLink<C> {
  readonly state: PeerState;
  /** No connection attempt before this time (ms since the epoch): the reconnect backoff. */
  private nextAttemptAtMs = 0;
  private everConnected = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(peer: PeerAddress, protected readonly wire: LinkWire<C>, private readonly policy: LinkPolicy) {
    this.state = new PeerState(peer, policy.callsPerPeerMax, policy.callQueuePerPeerMax);
  }

  /** The background attempt once a backoff has passed (only when the link has no connection). */
  protected abstract retry(): void;

  /**
   * Resolves true when a connection attempt may start now. While the peer is in backoff, waits for
   * the next attempt within `signal` and resolves false (look again: another call may have
   * connected meanwhile), unless the peer counts as down or the policy does not wait: then throws
   * PeerUnreachable at once, so quorum calls do not wait on a dead node. Throws `signal.reason`.
   */
  protected async attemptAllowed(signal: AbortSignal): Promise<boolean> {
    const waitMs = this.nextAttemptAtMs - Date.now();
    if (waitMs <= 0) return true;
    const health = this.state.health();
    if (!health.up || !this.policy.waitInBackoff) {
      throw new TesseraError('PeerUnreachable', `node ${health.nodeId} is ${health.up ? 'unreachable' : 'down'} (${health.lastError ?? 'no connection'}); next attempt in ${waitMs} ms`, { remoteNode: health.nodeId });
    }
    await raceAbort(new Promise((resolve) => setTimeout(resolve, waitMs).unref()), signal);
    return false;
  }

  /**
   * One connection attempt through the wire, counted in the peer's health: success ends the backoff,
   * failure extends it and schedules a background reconnect. Throws the wire's PeerNotAuthorized or
   * PeerUnreachable, PeerUnreachable for any other failure, TransportClosed when the transport closed.
   */
  protected async dial(): Promise<C> {
    const { nodeId, host, port } = this.state.peer;
    let connection: C;
    try {
      connection = await this.wire.open(this.state.peer);
    } catch (err) {
      if (this.wire.closing()) throw transportClosed();
      const error = isTesseraError(err) ? err : new TesseraError('PeerUnreachable', `cannot connect to node ${nodeId} at ${host}:${port}: ${(err as Error).message}`, { remoteNode: nodeId }, { cause: err });
      this.failed(error.message);
      throw error;
    }
    if (this.wire.closing()) {
      this.wire.discard(connection);
      throw transportClosed();
    }
    this.everConnected = true;
    this.nextAttemptAtMs = 0;
    this.state.succeeded();
    return connection;
  }

  /** A connection failed, broke or closed: counts against the peer's health and starts the backoff. No-op while closing. */
  protected failed(reason: string): void {
    if (this.wire.closing()) return;
    this.state.failed(reason);
    this.nextAttemptAtMs = Date.now() + this.state.backoffMs();
    this.scheduleReconnect();
  }

  /** Stops the background reconnect (the transport is closing). */
  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** One background attempt per backoff period, so a failed peer's health() recovers without calls. */
  private scheduleReconnect(): void {
    if ((this.policy.reconnectOnceConnected && !this.everConnected) || this.retryTimer !== undefined || this.wire.closing()) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.wire.closing()) this.retry();
    }, Math.max(0, this.nextAttemptAtMs - Date.now()));
    this.retryTimer.unref();
  }
}

/** The wire of a link that keeps one long-lived connection per peer (QUIC, TLS). */
export interface ConnectionWire<C> extends LinkWire<C> {
  /** Whether `connection` still takes new calls. */
  usable(connection: C): boolean;
  /** Calls `lost` when `connection` closes or breaks. */
  onClose(connection: C, lost: () => void): void;
}

/**
 * A link with one long-lived connection, made by the first call that needs it (concurrent calls
 * share the attempt) and re-made in the background after a loss. Each connection's loss counts once.
 */
export class ConnectionLink<C extends object> extends PeerLink<C> {
  private connection: C | undefined;
  private connecting: Promise<C> | undefined;
  private readonly ended = new WeakSet<C>();

  constructor(peer: PeerAddress, protected override readonly wire: ConnectionWire<C>, policy: LinkPolicy) {
    super(peer, wire, policy);
  }

  /** The connection calls use now, if any. */
  get current(): C | undefined {
    return this.connection;
  }

  /**
   * The peer's connection, connecting when there is none (see attemptAllowed for a peer in
   * backoff). Throws as dial() does, and `signal.reason` when it aborts first.
   */
  async connected(signal: AbortSignal): Promise<C> {
    for (;;) {
      const connection = this.connection;
      if (connection !== undefined && this.wire.usable(connection)) return connection;
      if (this.connecting === undefined) {
        if (!(await this.attemptAllowed(signal))) continue;
        this.startConnect();
      }
      return await raceAbort(this.connecting!, signal);
    }
  }

  /** `connection` takes no new calls (the peer sent GOAWAY); the next call connects afresh. Its close still counts. */
  retire(connection: C): void {
    if (this.connection === connection) this.connection = undefined;
  }

  /** `connection` closed or broke (or the transport dropped it): counts once, then the next call or the background reconnects. */
  lost(connection: C): void {
    if (this.ended.has(connection)) return;
    this.ended.add(connection);
    this.retire(connection);
    this.failed(`connection to node ${this.state.peer.nodeId} closed`);
  }

  protected override retry(): void {
    if (this.connection === undefined && this.connecting === undefined) this.startConnect();
  }

  private startConnect(): void {
    const connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
    connecting.catch(ignore); // background attempts have no caller; failures are in the peer's health
    this.connecting = connecting;
  }

  private async connect(): Promise<C> {
    const connection = await this.dial();
    this.connection = connection;
    this.wire.onClose(connection, () => this.lost(connection));
    return connection;
  }
}

/**
 * The peer list: every link by node id, and which node holds which key (an inbound connection is
 * accepted only from a key listed here). `keyOf` maps a peer's public key to what the wire sees
 * of it (the key itself, or QUIC's libp2p peer id); it throws InvalidConfig for a malformed key.
 */
export class PeerLinks<L extends PeerLink<unknown>> {
  private readonly links = new Map<string, L>();
  private readonly nodeIdByKey = new Map<string, string>();

  constructor(private readonly makeLink: (peer: PeerAddress) => L, private readonly keyOf: (publicKey: string) => string = checkedKey) {}

  /** Admits the configured peer list. Throws InvalidConfig for a node id listed twice or a clash (see add). */
  addAll(peers: readonly PeerAddress[]): void {
    for (const peer of peers) {
      if (this.links.has(peer.nodeId)) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} is listed twice`);
      this.add(peer);
    }
  }

  /** Admits a new peer (a node a new layout added). No-op when it is known with the same key and address. Throws InvalidConfig on a clash. */
  add(peer: PeerAddress): void {
    const known = this.links.get(peer.nodeId)?.state.peer;
    if (known && known.publicKey === peer.publicKey && known.host === peer.host && known.port === peer.port) return;
    if (known) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} is known with another key or address; restart to change it`);
    const key = this.keyOf(peer.publicKey);
    const other = this.nodeIdByKey.get(key);
    if (other !== undefined) throw new TesseraError('InvalidConfig', `node ${peer.nodeId} has the public key of node ${other}`);
    this.nodeIdByKey.set(key, peer.nodeId);
    this.links.set(peer.nodeId, this.makeLink(peer));
  }

  /** The link of a call's peer. Throws PeerUnknown for a node not in the list, InvalidCall for a method name over callMethodMaxBytes. */
  forCall(nodeId: string, method: string): L {
    const link = this.get(nodeId);
    if (Buffer.byteLength(method) > callMethodMaxBytes) throw new TesseraError('InvalidCall', `method name longer than ${callMethodMaxBytes} bytes`);
    return link;
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  get(nodeId: string): L {
    const link = this.links.get(nodeId);
    if (link === undefined) throw new TesseraError('PeerUnknown', `node ${nodeId} is not in the peer list`);
    return link;
  }

  /** Throws PeerUnknown for a node id that is not in the peer list. */
  health(nodeId: string): PeerHealth {
    return this.get(nodeId).state.health();
  }

  /** The node id holding `key` (as keyOf gives it), or undefined when no listed peer does. */
  nodeIdOf(key: string): string | undefined {
    return this.nodeIdByKey.get(key);
  }

  all(): IterableIterator<L> {
    return this.links.values();
  }
}

/** `publicKey` itself, once it is known to be a well-formed Ed25519 key (throws InvalidConfig otherwise). */
function checkedKey(publicKey: string): string {
  publicKeyBytes(publicKey);
  return publicKey;
}

/** The TransportClosed error every transport throws once close() has begun. */
export function transportClosed(): TesseraError {
  return new TesseraError('TransportClosed', 'transport is closed');
}
