// The gossip that carries a layout change to nodes that missed it: every layoutSyncIntervalMs this
// node asks each member that is up for its LayoutState (layout.get) and adopts a newer one. It
// lives in cluster/ because it calls peers; the layout itself (placement/live-layout.ts) does not.
import type { Logger } from 'pino';
import type { LayoutState } from '../placement/layout-state.js';
import type { LiveLayout } from '../placement/live-layout.js';
import { discardBody, type Transport } from '../transport/transport.js';

/** Pulls peers' layout states every `intervalMs` and adopts newer ones (the gossip that carries a change to nodes that missed it). */
export class LayoutSync {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly layout: LiveLayout, private readonly transport: Transport, private readonly selfId: string, private readonly callTimeoutMs: number, private readonly log: Logger) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.pullOnce(), intervalMs);
    this.timer.unref();
  }

  /** Asks every member for its state and adopts the newest; resolves when all answered or failed. */
  async pullOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const peers = this.layout.memberIds().filter((id) => id !== this.selfId && this.transport.health(id).up);
      await Promise.all(peers.map(async (nodeId) => {
        try {
          const reply = await this.transport.call(nodeId, { method: 'layout.get', header: null }, { timeoutMs: this.callTimeoutMs });
          await discardBody(reply.body);
          await this.layout.adopt(reply.header as LayoutState);
        } catch (err) {
          this.log.debug({ err, nodeId }, 'layout pull failed');
        }
      }));
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
