import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import { collectTelemetry, cpuSample, type CpuSample, type TelemetrySources } from './collect.js';

export interface TelemetryLoopDeps {
  /** Seconds between samples; 0 turns telemetry off. */
  intervalSeconds: number;
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
 */
export class TelemetryLoop {
  private timer: NodeJS.Timeout | undefined;
  private previousCpu: CpuSample | null = null;
  private running = false;
  private closed = false;

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

  close(): void {
    this.closed = true;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One sample now (the timer calls this; exposed for tests). Resolves true when a sample was published. */
  async tick(): Promise<boolean> {
    if (this.running || this.closed || !this.deps.publisher.isConnected) return false;
    this.running = true;
    try {
      const { telemetry, cpu } = collectTelemetry(await this.deps.read(), this.previousCpu);
      this.previousCpu = cpu;
      if (!this.deps.publisher.isConnected) return false;
      await this.deps.publisher.publish(this.deps.topic, JSON.stringify(telemetry), { retain: false, qos: 0 });
      return true;
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'telemetry sample not sent');
      return false;
    } finally {
      this.running = false;
    }
  }

  private schedule(ms: number): void {
    this.timer = this.deps.clock.setTimeout(() => {
      if (this.closed) return;
      this.schedule(ms);
      void this.tick();
    }, ms);
  }
}
