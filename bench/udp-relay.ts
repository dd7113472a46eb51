// A lossy UDP relay for soak tests: clients send to the relay, which forwards each datagram to
// the target (and the target's answers back) after dropping, delaying and reordering some of
// them. Every buffer is bounded: datagrams waiting in delay beyond queuedDatagramsMax are dropped
// (counted as overflow), and at most clientsMax client addresses get an upstream socket.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface UdpRelayOptions {
  /** Where the relay listens; port 0 picks a free one (start() returns it). */
  listenHost: string;
  listenPort: number;
  /** The real server. */
  targetHost: string;
  targetPort: number;
  /** Probability in [0, 1) that a datagram (either direction) is dropped. */
  lossRate: number;
  /** Fixed delay added to every forwarded datagram, ms. */
  delayMs: number;
  /** Extra random delay in [0, jitterMs) per datagram, ms; datagrams overtake each other (reorder). */
  jitterMs: number;
  /** Datagrams waiting in delay at once, both directions together; more are dropped. */
  queuedDatagramsMax: number;
  /** Distinct client addresses served; datagrams from further clients are dropped. */
  clientsMax: number;
  /** Random source in [0, 1) (seedable for reproducible runs). */
  random?: () => number;
}

export const udpRelayDefaults: Omit<UdpRelayOptions, 'targetHost' | 'targetPort'> = {
  listenHost: '127.0.0.1',
  listenPort: 0,
  lossRate: 0,
  delayMs: 0,
  jitterMs: 0,
  queuedDatagramsMax: 4096,
  clientsMax: 16,
};

export interface UdpRelayStats {
  forwarded: number;
  /** Dropped on purpose (lossRate). */
  dropped: number;
  /** Dropped because queuedDatagramsMax datagrams were already waiting, or too many clients. */
  overflow: number;
}

/** The relay. Loss and delay can change while it runs (e.g. a partition: lossRate 1). */
export class UdpRelay {
  readonly stats: UdpRelayStats = { forwarded: 0, dropped: 0, overflow: 0 };
  private readonly options: UdpRelayOptions;
  private readonly random: () => number;
  private readonly front: Socket;
  /** One upstream socket per client address, so answers find their way back. */
  private readonly upstreams = new Map<string, Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(options: Partial<UdpRelayOptions> & Pick<UdpRelayOptions, 'targetHost' | 'targetPort'>) {
    this.options = { ...udpRelayDefaults, ...options };
    if (!(this.options.lossRate >= 0 && this.options.lossRate <= 1)) throw new RangeError('lossRate must be in [0, 1]');
    this.random = options.random ?? Math.random;
    this.front = createSocket('udp4');
  }

  /** Binds the relay; returns its port. */
  async start(): Promise<number> {
    this.front.on('message', (datagram, from) => this.fromClient(datagram, from));
    this.front.on('error', () => {}); // ICMP errors from gone clients are expected
    await new Promise<void>((resolve) => this.front.bind(this.options.listenPort, this.options.listenHost, resolve));
    return this.front.address().port;
  }

  /** Changes loss and delay on the fly. */
  configure(change: Partial<Pick<UdpRelayOptions, 'lossRate' | 'delayMs' | 'jitterMs'>>): void {
    Object.assign(this.options, change);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const sockets = [this.front, ...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private fromClient(datagram: Buffer, from: RemoteInfo): void {
    const key = `${from.address}:${from.port}`;
    let upstream = this.upstreams.get(key);
    if (upstream === undefined) {
      if (this.upstreams.size >= this.options.clientsMax) {
        this.stats.overflow++;
        return;
      }
      const socket = createSocket('udp4');
      socket.on('message', (answer) => this.forward(answer, (data) => this.front.send(data, from.port, from.address)));
      socket.on('error', () => {});
      socket.bind(0, this.options.listenHost);
      this.upstreams.set(key, socket);
      upstream = socket;
    }
    const out = upstream;
    this.forward(datagram, (data) => out.send(data, this.options.targetPort, this.options.targetHost));
  }

  private forward(datagram: Buffer, send: (data: Buffer) => void): void {
    if (this.closed) return;
    if (this.random() < this.options.lossRate) {
      this.stats.dropped++;
      return;
    }
    const delayMs = this.options.delayMs + (this.options.jitterMs > 0 ? this.random() * this.options.jitterMs : 0);
    if (delayMs <= 0) {
      this.stats.forwarded++;
      send(datagram);
      return;
    }
    if (this.timers.size >= this.options.queuedDatagramsMax) {
      this.stats.overflow++;
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      this.stats.forwarded++;
      send(datagram);
    }, delayMs);
    this.timers.add(timer);
  }
}
