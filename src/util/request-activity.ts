// Whether clients are being served right now: the S3 gateway counts its requests here and
// background work (repair) reads it to yield to them. One counter per node process.

/** Requests in flight and when the last one ended; shared by the gateway and the background workers. */
export class RequestActivity {
  private inFlight = 0;
  private lastEndMs = 0;

  /** A request started; call the returned function once when it ends (later calls do nothing). */
  begin(): () => void {
    this.inFlight++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.inFlight--;
      this.lastEndMs = Date.now();
    };
  }

  /** True while a request is in flight, or one ended less than `quietMs` ago. */
  busy(quietMs: number, nowMs = Date.now()): boolean {
    return this.inFlight > 0 || nowMs - this.lastEndMs < quietMs;
  }
}
