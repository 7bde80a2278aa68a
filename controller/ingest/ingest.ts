import type { Logger } from '../../shared/logger.js';
import { decodeJson, formatIssues } from '../../shared/decode.js';
import { LIMITS } from '../../shared/limits.js';
import { DeviceEvent } from '../../shared/schemas/event.js';
import { Presence } from '../../shared/schemas/presence.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';
import { Telemetry, TelemetryDelta, TelemetryMessage } from '../../shared/schemas/telemetry.js';
import { isTelemetryDelta } from '../../shared/telemetry-delta.js';
import type { Topics } from '../../shared/topics.js';
import { errorMessage } from '../../shared/errors.js';
import type { IngestMetrics } from '../metrics/controller-counters.js';
import type { StatusStore } from './status-store.js';

const CODES = { tooLarge: 'PAYLOAD_TOO_LARGE', invalidJson: 'DESIRED_INVALID_JSON', schema: 'DESIRED_SCHEMA' } as const;

/** unknown-base: a telemetry delta whose full sample the controller does not hold (DD-038). */
export type IngestOutcome = 'stored' | 'stale' | 'malformed' | 'ignored' | 'unknown-base';

const CHANNELS = ['reported', 'presence', 'events', 'telemetry'];

/**
 * Everything devices say, validated and folded into the status store. A bad
 * message is a log line and a counter, never an exception out of here.
 */
export class Ingest {
  constructor(
    private readonly deps: {
      topics: Topics;
      status: StatusStore;
      logger: Logger;
      now: () => number;
      /** Called once per newly stored event (e.g. command results for waiting API calls). */
      onEvent?: (event: DeviceEvent) => Promise<void>;
      /** Per-process counters for /metrics (DD-039); absent: none. */
      metrics?: IngestMetrics;
      /** Called after anything from a device was stored (the dashboard's change feed, DD-042); must not throw. */
      onStored?: (deviceId: string, channel: string) => void;
      /** Called with each presence message stored (not the stale ones); must not throw. */
      onPresence?: (presence: Presence) => void;
    },
  ) {}

  /** The wildcard subscriptions the controller needs. */
  subscriptions(): string[] {
    const t = this.deps.topics;
    return [t.allDevices('reported'), t.allDevices('presence'), t.allDevices('events'), t.allDevices('telemetry')];
  }

  async handle(topic: string, payload: Buffer): Promise<IngestOutcome> {
    const { topics, status, logger, now } = this.deps;
    const parsed = topics.parseDevice(topic);
    if (!parsed || !CHANNELS.includes(parsed.channel)) return 'ignored';
    if (payload.length === 0) return 'ignored'; // a retained message being cleared
    try {
      const outcome = await this.store(parsed.channel, parsed.deviceId, payload, now());
      if (outcome !== 'ignored') this.deps.metrics?.ingested(parsed.channel, outcome);
      if (outcome !== 'stored') await status.count(`ingest.${parsed.channel}.${outcome}`);
      else this.deps.onStored?.(parsed.deviceId, parsed.channel);
      return outcome;
    } catch (err) {
      logger.error({ deviceId: parsed.deviceId, channel: parsed.channel, err: errorMessage(err) }, 'ingest failed');
      this.deps.metrics?.ingested(parsed.channel, 'error');
      await status.count('ingest.errors').catch(() => undefined);
      return 'ignored';
    }
  }

  private async store(channel: string, deviceId: string, payload: Buffer, nowMs: number): Promise<IngestOutcome> {
    const { status, logger } = this.deps;
    const schema = channel === 'reported' ? ReportedState : channel === 'presence' ? Presence : channel === 'telemetry' ? TelemetryMessage : DeviceEvent;
    // Telemetry has no limit of its own: a full sample (64 containers) is a few KiB, far below an event's.
    const max = channel === 'events' || channel === 'telemetry' ? LIMITS.eventMaxBytes : LIMITS.reportedMaxBytes;
    const decoded = decodeJson(payload, schema, max, CODES);
    if (!decoded.ok) {
      const reason = channel === 'telemetry' ? (telemetryReason(decoded.raw) ?? decoded.reason) : decoded.reason;
      logger.warn({ deviceId, channel, reason }, 'malformed device message dropped');
      return 'malformed';
    }
    const msg = decoded.value as ReportedState | Presence | DeviceEvent | TelemetryMessage;
    if (msg.deviceId !== deviceId) {
      logger.warn({ deviceId, channel, claimed: msg.deviceId }, 'device message names another device; dropped');
      return 'malformed';
    }
    const telemetry = channel === 'telemetry' ? (msg as TelemetryMessage) : null;
    if (telemetry && isTelemetryDelta(telemetry)) return this.storeDelta(telemetry, nowMs);
    let stored: boolean;
    if (channel === 'reported') stored = await status.storeReported(msg as ReportedState, nowMs);
    else if (channel === 'presence') {
      stored = await status.storePresence(msg as Presence, nowMs);
      if (stored) this.deps.onPresence?.(msg as Presence);
    }
    else if (channel === 'telemetry') stored = await status.storeTelemetry(msg as Telemetry, nowMs);
    else {
      stored = await status.storeEvent(msg as DeviceEvent, nowMs);
      if (stored && this.deps.onEvent) {
        await this.deps.onEvent(msg as DeviceEvent).catch((err: unknown) => {
          logger.warn({ deviceId, err: errorMessage(err) }, 'event hook failed');
        });
      }
    }
    if (!stored) logger.debug({ deviceId, channel }, 'stale device message dropped');
    return stored ? 'stored' : 'stale';
  }

  /** DD-038: merged onto the device's last full sample; without it, dropped until the device sends its next full one. */
  private async storeDelta(delta: TelemetryDelta, nowMs: number): Promise<IngestOutcome> {
    const outcome = await this.deps.status.storeTelemetryDelta(delta, nowMs);
    const fields = { deviceId: delta.deviceId, channel: 'telemetry', base: delta.base, at: delta.at };
    // Debug, not per packet at info: a controller that lost its copy drops deltas until the next full sample.
    if (outcome === 'unknown-base') this.deps.logger.debug(fields, 'telemetry delta dropped: its full sample is unknown');
    else if (outcome === 'stale') this.deps.logger.debug(fields, 'stale device message dropped');
    return outcome;
  }
}

/** The union only says "Invalid input": name what is wrong with the form the message has (a delta has `base`). */
function telemetryReason(raw: unknown): string | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return null;
  const parsed = ('base' in raw ? TelemetryDelta : Telemetry).safeParse(raw);
  return parsed.success ? null : `${'base' in raw ? 'TelemetryDelta' : 'Telemetry'}: ${formatIssues(parsed.error.issues)}`;
}
