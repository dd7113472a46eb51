// Typed adapter over the native QUIC engine of @chainsafe/libp2p-quic (quinn + rustls via napi-rs),
// used without libp2p. Its napi.js exports are untyped; the interfaces below list only what
// Tessera calls, with the behaviour observed on 2.1.1. Identity is libp2p TLS: each side presents
// a self-signed certificate carrying its Ed25519 key, and the peer id is derived from that key.
import { TesseraError } from '../util/errors.js';
import type { NodeIdentity } from './identity.js';
import { ignore, raceAbort } from './race-abort.js';

/**
 * Options of the engine's QuinnConfig (napi `Config`). All numbers are u32.
 * `handshakeTimeout` is accepted but ignored by the engine (2.1.1): a handshake that never
 * completes fails after `maxIdleTimeout`, so callers bound connects themselves.
 */
export interface QuinnConfigOptions {
  /** libp2p protobuf of the private key (see privateKeyProto), 68 bytes for Ed25519. */
  privateKeyProto: Uint8Array;
  handshakeTimeout: number;
  /** A connection without any packet for this many ms is closed ("timed out"). */
  maxIdleTimeout: number;
  /** PING interval on idle connections, ms; must be below both sides' maxIdleTimeout. */
  keepAliveInterval: number;
  /** Bidirectional streams the remote side may have open at once on one connection. */
  maxConcurrentStreamLimit: number;
  /** Receive window of one stream, bytes (unread bytes a peer may send on it). */
  maxStreamData: number;
  /** Receive window of one connection over all its streams, bytes. */
  maxConnectionData: number;
  /** SO_RCVBUF / SO_SNDBUF of the UDP socket, bytes (clamped by the OS maximum). */
  receiveBufferSize: number;
  sendBufferSize: number;
}

/** An opaque compiled configuration (certificates, transport parameters). */
export interface NativeConfig {
  readonly __brand?: 'QuinnConfig';
}

/** A listening endpoint on one UDP socket. */
export interface NativeServer {
  /** The bound UDP port. */
  port(): number;
  /** Next connection whose handshake completed; rejects "server closed" after abort(). */
  inboundConnection(): Promise<NativeConnection>;
  /** Closes the endpoint and every connection on it, waits until idle, unbinds the socket. */
  abort(): Promise<void>;
}

/** A dialing endpoint on one UDP socket bound to the unspecified address of its family. */
export interface NativeClient {
  /**
   * Connects to `ip` (a literal IPv4/IPv6 address, no host names) and `port`. Rejects with
   * "timed out" after maxIdleTimeout when nobody answers, or with a TLS error.
   */
  outboundConnection(ip: string, port: number): Promise<NativeConnection>;
  /** Closes every connection of this endpoint. */
  abort(): void;
}

/** One authenticated QUIC connection. */
export interface NativeConnection {
  /** Stable id of the connection inside this process. */
  id(): string;
  /** '/ip4/A/udp/P/quic-v1/p2p/<peer id>': the remote address and its authenticated peer id. */
  remoteMultiaddr(): string;
  /** Next stream the peer opened (visible once its first bytes arrive); rejects once closed. */
  inboundStream(): Promise<NativeStream>;
  /** Opens a stream; waits while the peer's concurrent stream limit is reached. */
  outboundStream(): Promise<NativeStream>;
  /** Resolves when the connection is closed for any reason. */
  closed(): Promise<void>;
  /** Closes at once (CONNECTION_CLOSE to the peer); pending operations reject. */
  abort(): void;
  /** Smoothed round-trip time, ms. */
  rtt(): number;
  /** Counters of the connection so far (a new object each call; the engine has about 60, typed here as used). */
  stats(): NativeConnectionStats;
}

/** The ConnectionStats counters Tessera reads. */
export interface NativeConnectionStats {
  /** UDP datagrams received on this connection (packets, ACKs and keep-alives alike). */
  readonly udpRxDatagrams: number;
}

/**
 * One bidirectional stream. The engine guards each direction with a mutex: stopRead() waits
 * for a pending read() and resetWrite() for a pending write(), so neither can cancel an
 * operation that is blocked; only the peer's action or connection abort() unblocks those.
 */
export interface NativeStream {
  id(): string;
  /** Up to `maxBytes` bytes (a new array), or null at the peer's FIN; rejects on reset or loss. */
  read(maxBytes: number): Promise<Uint8Array | null>;
  /** Resolves once all of `data` sits in the send buffer (flow control applies backpressure). */
  write(data: Uint8Array): Promise<void>;
  /** Sends FIN after the buffered data. */
  finishWrite(): Promise<void>;
  /** RESET_STREAM (code 0): the peer's reads reject "stream reset by peer". */
  resetWrite(): Promise<void>;
  /** STOP_SENDING (code 0): the peer's writes reject, our buffered bytes are discarded. */
  stopRead(): Promise<void>;
}

/** IP family of a client endpoint. */
export type SocketFamily = 4 | 6;

/** The engine, loaded and typed. */
export interface QuinnEngine {
  /** Throws QuicEngineError when the key or an option is rejected. */
  createConfig(options: QuinnConfigOptions): NativeConfig;
  /** Binds `ip`:`port` (0 = any free port). Throws QuicEngineError (e.g. address in use). */
  createServer(config: NativeConfig, ip: string, port: number): NativeServer;
  createClient(config: NativeConfig, family: SocketFamily): NativeClient;
}

interface NapiModule {
  QuinnConfig: new (options: QuinnConfigOptions) => NativeConfig;
  Server: new (config: NativeConfig, ip: string, port: number) => NativeServer;
  Client: new (config: NativeConfig, family: number) => NativeClient;
}

let engine: Promise<QuinnEngine> | undefined;

/**
 * Loads the engine once per process. The package's exports map hides napi.js, so it is
 * addressed next to the resolved entry point. Throws QuicEngineUnavailable when the package or
 * its prebuilt binary for this platform is missing.
 */
export function loadQuinnEngine(): Promise<QuinnEngine> {
  engine ??= importEngine().catch((err: unknown) => {
    engine = undefined;
    throw err;
  });
  return engine;
}

async function importEngine(): Promise<QuinnEngine> {
  let napi: NapiModule;
  try {
    const entry = import.meta.resolve('@chainsafe/libp2p-quic');
    napi = (await import(new URL('./napi.js', entry).href)) as NapiModule;
  } catch (err) {
    throw new TesseraError('QuicEngineUnavailable', `cannot load the QUIC engine: ${(err as Error).message}`, {}, { cause: err });
  }
  if (typeof napi.QuinnConfig !== 'function' || typeof napi.Server !== 'function' || typeof napi.Client !== 'function') {
    throw new TesseraError('QuicEngineUnavailable', 'the QUIC engine lacks QuinnConfig, Server or Client');
  }
  return {
    createConfig: (options) => engineCall(() => new napi.QuinnConfig(options), 'QuinnConfig'),
    createServer: (config, ip, port) => engineCall(() => new napi.Server(config, ip, port), `listen on ${ip}:${port}`),
    createClient: (config, family) => engineCall(() => new napi.Client(config, family === 4 ? 0 : 1), `IPv${family} client endpoint`),
  };
}

function engineCall<T>(make: () => T, what: string): T {
  try {
    return make();
  } catch (err) {
    throw new TesseraError('QuicEngineError', `${what}: ${(err as Error).message}`, {}, { cause: err });
  }
}

// ---- libp2p key and peer id encoding (libp2p specs: peer-ids/peer-ids.md) ----

const keyTypeEd25519 = 1;
const ed25519KeyBytes = 32;

/**
 * The libp2p PrivateKey protobuf of `identity`: {Type = Ed25519 (field 1), Data = seed || public
 * (field 2, 64 bytes)}, 68 bytes in all.
 */
export function privateKeyProto(identity: NodeIdentity): Buffer {
  if (identity.seed.length !== ed25519KeyBytes || identity.publicKeyRaw.length !== ed25519KeyBytes) {
    throw new TesseraError('InvalidConfig', 'Ed25519 identity needs a 32-byte seed and a 32-byte public key');
  }
  return Buffer.concat([Buffer.from([0x08, keyTypeEd25519, 0x12, 2 * ed25519KeyBytes]), identity.seed, identity.publicKeyRaw]);
}

/**
 * The libp2p peer id of a raw 32-byte Ed25519 public key: base58btc of the identity multihash
 * (0x00, length 36) of the PublicKey protobuf {Type = Ed25519, Data = key}. Always starts '12D3KooW'.
 */
export function peerIdOfPublicKey(publicKeyRaw: Uint8Array): string {
  if (publicKeyRaw.length !== ed25519KeyBytes) throw new TesseraError('InvalidConfig', `Ed25519 public key must be 32 bytes, got ${publicKeyRaw.length}`);
  const proto = Buffer.concat([Buffer.from([0x08, keyTypeEd25519, 0x12, ed25519KeyBytes]), publicKeyRaw]);
  return base58btc(Buffer.concat([Buffer.from([0x00, proto.length]), proto]));
}

/** The peer id in the '/p2p/<id>' component of a multiaddr string, or undefined. */
export function peerIdOfMultiaddr(multiaddr: string): string | undefined {
  const parts = multiaddr.split('/');
  const at = parts.lastIndexOf('p2p');
  const id = at >= 0 ? parts[at + 1] : undefined;
  return id !== undefined && id.length > 0 ? id : undefined;
}

const base58Alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Bitcoin base58 of `bytes` (leading zero bytes become '1'). */
export function base58btc(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = '';
  while (value > 0n) {
    text = base58Alphabet[Number(value % 58n)] + text;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = '1' + text;
  }
  return text;
}

// ---- stream helpers ----


/**
 * The receive side of a native stream as an async iterable of chunks of at most `maxBytes`.
 * Reads start at `minBytes`, double while they come back full and halve while they come back
 * under a quarter full: the engine allocates the whole read size per call and keeps it with the
 * returned array, which V8 counts only by its length, so oversized reads are hidden memory.
 * Reads are issued only on demand, so a consumer that stops asking leaves no read pending.
 * `signal` aborts a pending read (rejecting with its reason); native failures become
 * `toError(err)`. Iterate it once.
 */
export class StreamSource implements AsyncIterable<Uint8Array> {
  /** True once the peer's FIN was read: the receive side is complete. */
  finished = false;
  /** True once a read failed (reset by peer, connection lost) or was aborted. */
  broken = false;

  constructor(
    private readonly stream: NativeStream,
    private readonly minBytes: number,
    private readonly maxBytes: number,
    private readonly signal: AbortSignal,
    private readonly toError: (err: unknown) => Error,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    let readBytes = Math.min(this.minBytes, this.maxBytes);
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = await raceAbort(this.stream.read(readBytes), this.signal);
      } catch (err) {
        this.broken = true;
        throw this.signal.aborted && err === this.signal.reason ? err : this.toError(err);
      }
      if (chunk === null) {
        this.finished = true;
        return;
      }
      if (chunk.length === readBytes) readBytes = Math.min(2 * readBytes, this.maxBytes);
      else if (chunk.length < readBytes / 4) readBytes = Math.max(readBytes / 2, this.minBytes);
      if (chunk.length > 0) yield chunk;
    }
  }
}

/**
 * Abandons both directions of `stream` without waiting: RESET_STREAM and STOP_SENDING. Each
 * waits in the engine behind a pending operation of its direction (see NativeStream).
 */
export function dropStream(stream: NativeStream, receiveComplete = false): void {
  stream.resetWrite().catch(ignore);
  if (!receiveComplete) stream.stopRead().catch(ignore);
}
