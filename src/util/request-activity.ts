// Whether clients are being served right now: the S3 gateway counts its requests here and
// background work (repair) reads it to yield to them. One counter per process; gateway workers
// report theirs to the node's own process (busyElsewhere).

/** Requests in flight and when the last one ended; shared by the gateway and the background workers. */
export class RequestActivity {
  private inFlight = 0;
  private lastEndMs = 0;
  /** Until when another process of this node (a gateway worker) said it serves clients, in epoch ms. */
  private elsewhereUntilMs = 0;
  /** Requests begun since the process started. */
  private begun = 0;

  /** A request started; call the returned function once when it ends (later calls do nothing). */
  begin(): () => void {
    this.inFlight++;
    this.begun++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.inFlight--;
      this.lastEndMs = Date.now();
    };
  }

  /** Requests begun in this process so far. */
  get requests(): number {
    return this.begun;
  }

  /** Another process of this node served clients until `untilMs` (epoch ms); busy() counts it. */
  busyElsewhere(untilMs: number): void {
    this.elsewhereUntilMs = Math.max(this.elsewhereUntilMs, untilMs);
  }

  /** True while a request is in flight (here, or in a process that reported it), or one ended less than `quietMs` ago. */
  busy(quietMs: number, nowMs = Date.now()): boolean {
    return this.inFlight > 0 || nowMs - this.lastEndMs < quietMs || nowMs - this.elsewhereUntilMs < quietMs;
  }
}
