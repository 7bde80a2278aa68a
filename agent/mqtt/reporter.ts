import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../../shared/errors.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { ReportedState } from '../../shared/schemas/reported-state.js';
import type { AgentEvent, EventSink } from '../reconcile/event-sink.js';
import { encodeEvent, encodeReport, type WireFormat } from './wire-format.js';

export interface Publisher {
  readonly isConnected: boolean;
  publish(topic: string, payload: string, opts: { retain: boolean }): Promise<void>;
}

export interface ReporterOptions {
  deviceId: string;
  reportedTopic: string;
  eventsTopic: string;
  /** Events kept while offline; the oldest are dropped first (the reported state is level-based and never lost). */
  maxQueuedEvents: number;
  /** How reports and events are written (DD-037); default compact. */
  format?: WireFormat;
  now: () => number;
}

/**
 * Sends what the device has to say. The reported state is a level: only the
 * newest matters, and it is re-sent on every connect until acknowledged.
 * Events are a bounded queue, removed only on PUBACK (at-least-once; receivers
 * de-duplicate on the event id).
 */
export class Reporter implements EventSink {
  private latest: ReportedState | null = null;
  private latestSent = true;
  /** Of `latest`, sent or not. */
  private latestFingerprint: string | null = null;
  private sendingReport = false;
  private readonly queue: DeviceEvent[] = [];
  private sendingEvents = false;
  private dropped = 0;

  constructor(
    private readonly options: ReporterOptions,
    private readonly publisher: Publisher,
    private readonly logger: Logger,
  ) {}

  emit(event: AgentEvent): void {
    const full: DeviceEvent = {
      protocol: PROTOCOL_VERSION,
      deviceId: this.options.deviceId,
      id: randomUUID(),
      at: new Date(this.options.now()).toISOString(),
      type: event.type,
      level: event.level,
      message: event.message.slice(0, 2048),
      version: event.version ?? null,
      workload: event.workload ?? null,
      code: event.code ?? null,
      data: event.data ?? {},
    };
    this.queue.push(full);
    while (this.queue.length > this.options.maxQueuedEvents) {
      this.queue.shift();
      this.dropped++;
    }
    void this.flushEvents();
  }

  /**
   * Queue a report. One equal (apart from its time) to the newest one queued is not sent again
   * (metered links), whether that one was sent already or is still waiting for its PUBACK.
   */
  report(state: ReportedState): void {
    const fingerprint = JSON.stringify({ ...state, reportedAt: null });
    if (fingerprint === this.latestFingerprint) return;
    this.latest = state;
    this.latestFingerprint = fingerprint;
    this.latestSent = false;
    void this.flushReport();
  }

  get lastReport(): ReportedState | null {
    return this.latest;
  }

  /** Called on every (re)connect. */
  flush(): void {
    void this.flushReport();
    void this.flushEvents();
  }

  private async flushReport(): Promise<void> {
    if (this.sendingReport || !this.publisher.isConnected) return;
    this.sendingReport = true;
    try {
      while (!this.latestSent && this.latest && this.publisher.isConnected) {
        const doc = this.latest;
        try {
          await this.publisher.publish(this.options.reportedTopic, encodeReport(doc, this.options.format ?? 'compact'), { retain: true });
          if (this.latest === doc) this.latestSent = true;
        } catch (err) {
          this.logger.debug({ err: errorMessage(err) }, 'report not delivered; will resend on reconnect');
          return;
        }
      }
    } finally {
      this.sendingReport = false;
    }
  }

  private async flushEvents(): Promise<void> {
    if (this.sendingEvents || !this.publisher.isConnected) return;
    this.sendingEvents = true;
    try {
      if (this.dropped > 0) {
        this.logger.warn({ dropped: this.dropped }, 'events dropped while offline');
        this.dropped = 0;
      }
      while (this.queue.length > 0 && this.publisher.isConnected) {
        const event = this.queue[0];
        if (!event) break;
        try {
          await this.publisher.publish(this.options.eventsTopic, encodeEvent(event, this.options.format ?? 'compact'), { retain: false });
          if (this.queue[0] === event) this.queue.shift();
        } catch (err) {
          this.logger.debug({ err: errorMessage(err) }, 'event not delivered; will resend on reconnect');
          return;
        }
      }
    } finally {
      this.sendingEvents = false;
    }
  }
}
