import type { Clock } from '../shared/clock.js';

export interface ReportSchedulerDeps {
  readonly clock: Clock;
  /** The profile's pacing of progress reports (`reportDelayMs`). */
  readonly progressDelayMs: number;
  /** Builds and sends one report. */
  readonly send: () => void;
}

/**
 * When the next report goes out. A progress report waits `progressDelayMs`
 * and goes out with whatever else happened meanwhile (one report, not one per
 * step, on a metered link); an outcome (delay 0) goes out at once and takes
 * a progress report already waiting with it.
 */
export class ReportScheduler {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: ReportSchedulerDeps) {}

  schedule(delayMs = this.deps.progressDelayMs): void {
    if (this.closed) return;
    if (this.timer && delayMs > 0) return;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.deps.send();
    }, delayMs);
  }

  close(): void {
    this.closed = true;
    this.deps.clock.clearTimeout(this.timer);
  }
}
