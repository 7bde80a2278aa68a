import type { Clock } from '../../shared/clock.js';
import type { ControllerTime } from '../../shared/schemas/controller-time.js';
import type { ReportedState } from '../../shared/schemas/reported-state.js';

export type ClockReading = NonNullable<ReportedState['clock']>;

/** Longest round trip whose midpoint is used; a longer one (a reply to a presence the controller read late) is taken one-way. */
export const MAX_MIDPOINT_RTT_MS = 10_000;

/**
 * The controller's time as the device sees it (DD-052). Every instant the
 * controller writes (a command's `expiresAt`, a signed document's expiry, an
 * apply window's `after`) is compared with this clock, not the device's own:
 * a device an hour off would otherwise drop fresh commands as expired, run
 * an expired document as valid, or open a window an hour early.
 *
 * Implements `Clock`: `now()` is corrected, timers are the local ones (a delay
 * is a delay on any clock). Until a reading exists (an older controller sends
 * none) the correction is 0, which is the device's own clock as before.
 */
export class ControllerClock implements Clock {
  private reading: ClockReading | null = null;
  private sent: { epoch: number; atMs: number } | null = null;

  constructor(
    private readonly local: Clock,
    /** A new reading; `shiftMs` is how far `now()` moved with it. */
    private readonly onReading: (reading: ClockReading, shiftMs: number) => void,
  ) {}

  get current(): ClockReading | null {
    return this.reading;
  }

  /** The reading kept from an earlier run: a device's clock drifts slowly, so it is the best guess until the next one. */
  restore(reading: ClockReading | null): void {
    this.reading = reading;
  }

  now(): number {
    return this.local.now() - (this.reading?.skewMs ?? 0);
  }

  setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
    return this.local.setTimeout(fn, ms);
  }

  clearTimeout(handle: NodeJS.Timeout | undefined): void {
    this.local.clearTimeout(handle);
  }

  /** The online presence of a connection is being sent: the controller's answer echoes its epoch. */
  onlineSent(epoch: number): void {
    this.sent = { epoch, atMs: this.local.now() };
  }

  /**
   * A ControllerTime message arrived. It is QoS 0 and never retained, so it is
   * fresh: with the echo of this connection's epoch the skew is taken at the
   * round trip's midpoint (error at most rtt/2), otherwise one-way (the device
   * looks ahead by the transport delay).
   */
  observe(msg: ControllerTime): ClockReading {
    const receivedMs = this.local.now();
    const controllerMs = Date.parse(msg.at);
    let deviceMs = receivedMs;
    let rttMs: number | null = null;
    if (this.sent !== null && msg.epoch === this.sent.epoch) {
      const rtt = receivedMs - this.sent.atMs;
      if (rtt >= 0 && rtt <= MAX_MIDPOINT_RTT_MS) {
        rttMs = rtt;
        deviceMs = this.sent.atMs + rtt / 2;
      }
    }
    const skewMs = Math.round(deviceMs - controllerMs);
    const shiftMs = (this.reading?.skewMs ?? 0) - skewMs;
    this.reading = { skewMs, rttMs, measuredAt: new Date(controllerMs).toISOString() };
    this.onReading(this.reading, shiftMs);
    return this.reading;
  }
}
