import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { decodeJson } from '../../shared/decode.js';
import { ControllerTime } from '../../shared/schemas/controller-time.js';
import { ControllerClock, type ClockReading } from './controller-clock.js';

/** How long the first report of a connection waits for the controller's clock when the agent has never read it (DD-052). */
export const CLOCK_WAIT_MS = 2000;
/** A reading that moves the corrected clock less than this changes nothing worth a report or a re-timing. */
export const CLOCK_SHIFT_NOTICE_MS = 1000;
/** The largest ControllerTime message read; anything bigger is dropped unparsed. */
const MAX_CONTROLLER_TIME_BYTES = 1024;
// Only logged: the codes of any malformed inbound payload.
const CLOCK_CODES = { tooLarge: 'PAYLOAD_TOO_LARGE', invalidJson: 'DESIRED_INVALID_JSON', schema: 'DESIRED_SCHEMA' } as const;

export interface ClockSyncDeps {
  readonly deviceId: string;
  /** The device's own clock: timers, and what the correction applies to. */
  readonly clock: Clock;
  readonly logger: Logger;
  /** DD-061: how often a long connection re-reads the controller's clock; 0: never. */
  readonly refreshMs: number;
  /** Keeps a reading (on disk: the best guess after a restart). */
  save(reading: ClockReading): void;
  /** Repeats the online presence; the controller answers it with its time (DD-061). */
  announce(): void;
  /** A reading moved the corrected clock noticeably: whatever is timed against controller instants is timed again. */
  onShift(): void;
}

/**
 * The agent's side of DD-052: reads the controller's ControllerTime
 * messages into the corrected clock (`time`), keeps each reading, re-reads
 * it on a long connection (DD-061), and says how long a first report waits
 * for one.
 */
export class ClockSync {
  readonly time: ControllerClock;
  private kept: ClockReading | null = null;
  /** The first connection's report waited for the controller's clock already. */
  private waited = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ClockSyncDeps) {
    this.time = new ControllerClock(deps.clock, (reading, shiftMs) => this.onReading(reading, shiftMs));
  }

  /** The reading kept from an earlier run, if any. */
  restore(reading: ClockReading | null): void {
    this.kept = reading;
    this.time.restore(reading);
  }

  start(): void {
    const { refreshMs, clock } = this.deps;
    if (refreshMs <= 0) return;
    const tick = (): void => {
      this.timer = clock.setTimeout(tick, refreshMs);
      this.deps.announce();
    };
    this.timer = clock.setTimeout(tick, refreshMs);
  }

  stop(): void {
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The delay of a connection's first report: a device that never read the
   * controller's clock gives the answer a moment on its first connection, so
   * the report is stamped in controller time (an older controller never answers).
   */
  firstReportDelayMs(): number {
    const delay = this.time.current || this.waited ? 0 : CLOCK_WAIT_MS;
    this.waited = true;
    return delay;
  }

  /** A ControllerTime message (QoS 0); a bad one is a log line. */
  handle(payload: Buffer): void {
    const decoded = decodeJson(payload, ControllerTime, MAX_CONTROLLER_TIME_BYTES, CLOCK_CODES);
    if (!decoded.ok) {
      this.deps.logger.warn({ reason: decoded.reason }, 'controller time message dropped');
      return;
    }
    if (decoded.value.deviceId !== this.deps.deviceId) {
      this.deps.logger.warn({ claimed: decoded.value.deviceId }, 'controller time message for another device dropped');
      return;
    }
    this.time.observe(decoded.value);
  }

  private onReading(reading: ClockReading, shiftMs: number): void {
    const first = this.kept === null;
    this.kept = reading;
    this.deps.save(reading);
    if (!first && Math.abs(shiftMs) < CLOCK_SHIFT_NOTICE_MS) {
      this.deps.logger.debug({ skewMs: reading.skewMs, rttMs: reading.rttMs }, 'controller clock read');
      return;
    }
    this.deps.logger.info({ skewMs: reading.skewMs, rttMs: reading.rttMs, shiftMs }, 'controller clock read: timing against it');
    this.deps.onShift();
  }
}
