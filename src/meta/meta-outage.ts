// How a background worker (gc, reconstructor, scanner, scrubber, rebalancer, repair queueing) lives
// through a metadata store that cannot commit (a full disk): a Backoff between tries, one warning
// when a streak of MetadataStoreFull/Failed starts and one line when it ends, never one per failure.
import type { Logger } from 'pino';
import { Backoff } from '../util/backoff.js';
import { isMetaStoreUnavailable } from './meta-health.js';

/** What a worker logs when its metadata commits start failing (warn) and when they work again (info). */
export interface MetaOutageMessages {
  paused: string;
  resumed: string;
}

/** One worker's streak of metadata commits that failed because the store cannot commit. */
export class MetaOutage {
  private readonly backoff = new Backoff();

  constructor(private readonly log: Logger, private readonly messages: MetaOutageMessages) {}

  /** Milliseconds left of the pause after the last failure (0: try now). */
  waitMs(): number {
    return this.backoff.waitMs();
  }

  /**
   * Records a failed metadata commit. For MetadataStoreFull or MetadataStoreFailed returns the pause
   * in ms before the next try (doubling, metaBackoffMinMs..metaBackoffMaxMs), after logging `paused`
   * with the code and `fields` when this failure starts a streak. For any other error returns
   * undefined and logs nothing: that error is the caller's to handle.
   */
  failed(err: unknown, fields: Record<string, unknown> = {}): number | undefined {
    if (!isMetaStoreUnavailable(err)) return undefined;
    const { delayMs, first } = this.backoff.fail();
    if (first) this.log.warn({ code: err.code, ...fields }, this.messages.paused);
    return delayMs;
  }

  /** Records a metadata commit that worked: logs `resumed` when it ends a streak. */
  succeeded(): void {
    if (this.backoff.succeed()) this.log.info(this.messages.resumed);
  }
}
