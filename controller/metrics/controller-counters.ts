import { Counter, type Registry } from 'prom-client';

/** What ingest did with one device message (controller/ingest/ingest.ts outcomes, plus `error` for a failed store). */
export type IngestMetricOutcome = 'stored' | 'stale' | 'malformed' | 'unknown-base' | 'error';

/** Counting port of the ingest (DD-039): one call per device message on a known channel. */
export interface IngestMetrics {
  ingested(channel: string, outcome: IngestMetricOutcome): void;
}

/** Counting port of the desired-state writer (DD-039). */
export interface PublishMetrics {
  /** Documents the broker acknowledged. */
  published(count: number): void;
  /** Documents stored but not acknowledged (the drain retries them). */
  publishFailed(count: number): void;
}

/**
 * The event counters of one controller process (DD-039), registered on the
 * registry it is given. Counts are per process, as Prometheus expects
 * (sum over instances); the Redis hash of StatusStore.count stays the
 * fleet-wide tally the tests and `ingest.*` keys rely on.
 */
export class ControllerCounters implements IngestMetrics, PublishMetrics {
  private readonly ingest: Counter<'channel' | 'outcome'>;
  private readonly publishedDocs: Counter;
  private readonly publishFailures: Counter;

  constructor(registry: Registry) {
    this.ingest = new Counter({
      name: 'outpost_ingest_messages_total',
      help: 'Device messages received by this controller, by channel (reported, presence, events, telemetry) and outcome',
      labelNames: ['channel', 'outcome'],
      registers: [registry],
    });
    this.publishedDocs = new Counter({
      name: 'outpost_desired_published_total',
      help: 'Desired-state documents this controller published and the broker acknowledged',
      registers: [registry],
    });
    this.publishFailures = new Counter({
      name: 'outpost_desired_publish_failures_total',
      help: 'Desired-state documents stored but not acknowledged by the broker (retried by the drain)',
      registers: [registry],
    });
  }

  ingested(channel: string, outcome: IngestMetricOutcome): void {
    this.ingest.inc({ channel, outcome });
  }

  published(count: number): void {
    if (count > 0) this.publishedDocs.inc(count);
  }

  publishFailed(count: number): void {
    if (count > 0) this.publishFailures.inc(count);
  }
}
