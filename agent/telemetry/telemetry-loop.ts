import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Telemetry } from '../../shared/schemas/telemetry.js';
import { collectTelemetry, cpuSample, type CpuSample, type TelemetrySources } from './collect.js';
import { telemetryDelta } from './delta.js';

/** A full sample every this many samples: at the cellular rate (hourly) a controller that lost its copy has one within a day. */
export const DEFAULT_TELEMETRY_FULL_EVERY = 24;

export interface TelemetryLoopDeps {
  /** Seconds between samples; 0 turns telemetry off. */
  intervalSeconds: number;
  /** DD-038: send deltas against the last full sample; false: every sample is full. */
  deltas: boolean;
  /** With deltas: every fullEvery-th sample is full (default DEFAULT_TELEMETRY_FULL_EVERY). */
  fullEvery?: number;
  topic: string;
  clock: Clock;
  publisher: {
    readonly isConnected: boolean;
    publish(topic: string, payload: string, opts: { retain: boolean; qos?: 0 | 1 }): Promise<void>;
  };
  read: () => Promise<TelemetrySources>;
  /** CPU times now, the baseline for the first sample's usage. */
  cpus: () => TelemetrySources['os']['cpus'];
  logger: Logger;
}

/**
 * Publishes a Telemetry sample every interval while connected: QoS 0, not
 * retained (telemetry is a low-value stream; a lost sample is replaced by the
 * next, and nothing is queued while offline). The first sample goes out one
 * interval after start. Errors are logged, never thrown.
 *
 * DD-038: with `deltas`, the first sample on every connection (the owner
 * calls connected()) and every fullEvery-th one is full; the others are
 * deltas against the last full sample sent, never against another delta, so
 * a lost delta costs nothing later. A delta that would not be smaller goes
 * out as a full sample (and becomes the base).
 */
export class TelemetryLoop {
  private timer: NodeJS.Timeout | undefined;
  private previousCpu: CpuSample | null = null;
  private running = false;
  private closed = false;
  /** The last full sample sent on this connection; null: the next sample is full. */
  private base: Telemetry | null = null;
  private deltasSinceFull = 0;
  /** Bumped by connected(), so a sample in flight across a reconnect does not become the new connection's base. */
  private connection = 0;

  constructor(private readonly deps: TelemetryLoopDeps) {}

  start(): void {
    const ms = this.deps.intervalSeconds * 1000;
    if (ms <= 0 || this.closed) {
      this.deps.logger.debug('telemetry off');
      return;
    }
    try {
      this.previousCpu = cpuSample(this.deps.cpus());
    } catch (err) {
      this.deps.logger.debug({ err: errorMessage(err) }, 'telemetry: no CPU baseline');
    }
    this.schedule(ms);
  }

  /** A new MQTT connection: the receiver may be a controller that never saw this agent's full sample. */
  connected(): void {
    this.connection += 1;
    this.base = null;
    this.deltasSinceFull = 0;
  }

  close(): void {
    this.closed = true;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One sample now (the timer calls this; exposed for tests). Resolves true when a sample was published. */
  async tick(): Promise<boolean> {
    if (this.running || this.closed || !this.deps.publisher.isConnected) return false;
    this.running = true;
    const connection = this.connection;
    try {
      const { telemetry, cpu } = collectTelemetry(await this.deps.read(), this.previousCpu);
      this.previousCpu = cpu;
      if (!this.deps.publisher.isConnected) return false;
      const { payload, full } = this.message(telemetry);
      await this.deps.publisher.publish(this.deps.topic, payload, { retain: false, qos: 0 });
      if (full && connection === this.connection) {
        this.base = telemetry;
        this.deltasSinceFull = 0;
      } else if (!full) {
        this.deltasSinceFull += 1;
      }
      return true;
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'telemetry sample not sent');
      return false;
    } finally {
      this.running = false;
    }
  }

  private message(telemetry: Telemetry): { payload: string; full: boolean } {
    const whole = JSON.stringify(telemetry);
    const fullEvery = this.deps.fullEvery ?? DEFAULT_TELEMETRY_FULL_EVERY;
    if (!this.deps.deltas || this.base === null || this.deltasSinceFull + 1 >= fullEvery) return { payload: whole, full: true };
    const delta = JSON.stringify(telemetryDelta(this.base, telemetry));
    return delta.length < whole.length ? { payload: delta, full: false } : { payload: whole, full: true };
  }

  private schedule(ms: number): void {
    this.timer = this.deps.clock.setTimeout(() => {
      if (this.closed) return;
      this.schedule(ms);
      void this.tick();
    }, ms);
  }
}
