// The node-to-node contract. Every call is one bidirectional stream: the caller sends a method
// name, a msgpack header and an optional body; the callee answers with a header and an optional
// body. Small request/response messages and bulk shard streams use the same shape, so the
// implementations (QUIC; TLS over TCP; plain TCP with checksummed frames, for trusted networks)
// share framing.ts's messages and the callers never ask which one runs.

/** A cluster member as the transport sees it (from the cluster config). */
export interface PeerAddress {
  /** Stable node id, e.g. 'node-3'. */
  nodeId: string;
  /** Host name or IP address the peer's shard server listens on. */
  host: string;
  /** The peer's shard server port (UDP for QUIC, TCP for TLS and TCP). */
  port: number;
  /** The peer's Ed25519 public key: base64url of the raw 32 bytes (see identity.ts). */
  publicKey: string;
}

/** One outbound call. */
export interface Call {
  /** Method name, e.g. 'shard.put'. At most callMethodMaxBytes UTF-8 bytes. */
  method: string;
  /** Any msgpack-encodable value (Uint8Array stays binary); encoded size <= callHeaderMaxBytes. */
  header: unknown;
  /** Request body streamed after the header; absent means empty. */
  body?: AsyncIterable<Uint8Array>;
}

/**
 * Reads a call's or reply's body to its end and drops it: for calls and replies that carry none,
 * so the stream is consumed (and a failure in it is thrown) before the call counts as done.
 */
export async function discardBody(body: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const _ of body) {
    // dropped
  }
}

/** The answer to a call. The body must be consumed or its iterator returned (which cancels it). */
export interface Reply {
  header: unknown;
  body: AsyncIterable<Uint8Array>;
}

/** An inbound call as the handler sees it: the peer is already authenticated. */
export interface InboundCall {
  /** Node id of the authenticated caller. */
  from: string;
  method: string;
  header: unknown;
  body: AsyncIterable<Uint8Array>;
  /** Aborted when the caller goes away or the call's deadline passes. */
  signal: AbortSignal;
}

/** What a handler returns; throwing a TesseraError sends its code and message to the caller. */
export interface HandlerReply {
  header: unknown;
  body?: AsyncIterable<Uint8Array>;
}

export type CallHandler = (call: InboundCall) => Promise<HandlerReply>;

export interface CallOptions {
  /** The whole call (connect, send, reply header and reply body) must finish within this many ms. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What the transport knows about a peer's reachability. */
export interface PeerHealth {
  nodeId: string;
  /** False after callFailuresToDown consecutive connection failures or timeouts, until a call succeeds. */
  up: boolean;
  consecutiveFailures: number;
  /** Milliseconds since the Unix epoch of the last successful call or connection; 0 = never. */
  lastOkMs: number;
  lastError?: string;
  /** Calls in flight to the peer right now. */
  inFlight: number;
}

/**
 * Node-to-node calls with mutual authentication: both sides prove their Ed25519 identity and a
 * peer whose public key is not in the peer list is refused before any call is read.
 *
 * Errors of call() and of reading a reply body (TesseraError codes): PeerUnknown (node id not in
 * the list), PeerUnreachable (cannot connect, or the connection or stream broke), CallTimeout
 * (timeoutMs passed), CallAborted (options.signal), TransportClosed. A handler's TesseraError
 * arrives as a TesseraError with the same code and message (details.remoteNode = the peer);
 * any other handler error arrives as RemoteError.
 */
export interface Transport {
  readonly kind: 'quic' | 'tls' | 'tcp';
  /** Starts the listener; returns the bound port (useful with port 0). */
  listen(handler: CallHandler): Promise<number>;
  call(nodeId: string, call: Call, options: CallOptions): Promise<Reply>;
  /** Admits a node added to the cluster while running; no-op when known as is. Throws InvalidConfig on a clash. */
  addPeer(peer: PeerAddress): void;
  health(nodeId: string): PeerHealth;
  /** Stops accepting, aborts calls in flight, closes connections. */
  close(): Promise<void>;
}
