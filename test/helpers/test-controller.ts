import mqtt, { type MqttClient } from 'mqtt';
import { Topics } from '../../shared/topics.js';
import { DeviceEvent } from '../../shared/schemas/event.js';
import { Presence } from '../../shared/schemas/presence.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';
import type { DesiredStateInput } from '../../shared/schemas/desired-state.js';
import { waitFor } from './wait-for.js';

export interface DeviceWatch {
  readonly events: DeviceEvent[];
  readonly reports: ReportedState[];
  readonly presence: Presence[];
  /** Payloads on the device's topics that failed validation (must stay empty). */
  readonly invalid: string[];
  latestReport(): ReportedState | undefined;
  waitForReport(predicate: (r: ReportedState) => boolean, timeoutMs?: number, description?: string): Promise<ReportedState>;
  waitForEvent(predicate: (e: DeviceEvent) => boolean, timeoutMs?: number, description?: string): Promise<DeviceEvent>;
}

export interface TestController {
  readonly client: MqttClient;
  publishDesired(deviceId: string, doc: DesiredStateInput | string | Buffer): Promise<void>;
  watch(deviceId: string): Promise<DeviceWatch>;
  /**
   * After a broker restart: resolves once this (clean-session) client is connected again and its
   * watches are subscribed again, so that nothing a device says from then on is missed.
   */
  reconnected(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Plays the controller in device-plane tests: a plain MQTT client that
 * publishes desired documents (retained, QoS 1) and records what devices say,
 * validating every message against the protocol schemas.
 */
export async function connectTestController(
  url: string,
  auth: { username?: string; password?: string; clientId?: string; /** CA of the broker's certificate, for mqtts:// */ ca?: Buffer } = {},
): Promise<TestController> {
  const topics = new Topics();
  const client = await mqtt.connectAsync(url, {
    clientId: auth.clientId ?? `svc:test-${Math.random().toString(36).slice(2, 10)}`,
    ...(auth.username ? { username: auth.username } : {}),
    ...(auth.password ? { password: auth.password } : {}),
    ...(auth.ca ? { ca: auth.ca } : {}),
    clean: true,
    reconnectPeriod: 500,
    protocolVersion: 4,
  });
  const watches = new Map<string, DeviceWatch & { events: DeviceEvent[]; reports: ReportedState[]; presence: Presence[]; invalid: string[] }>();
  client.on('message', (topic, payload) => {
    const parsed = topics.parseDevice(topic);
    if (!parsed) return;
    const w = watches.get(parsed.deviceId);
    if (!w) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      w.invalid.push(`${topic}: ${payload.toString('utf8').slice(0, 200)}`);
      return;
    }
    const schema = parsed.channel === 'events' ? DeviceEvent : parsed.channel === 'reported' ? ReportedState : parsed.channel === 'presence' ? Presence : null;
    if (!schema) return;
    const r = schema.safeParse(json);
    if (!r.success) {
      w.invalid.push(`${topic}: ${r.error.message.slice(0, 500)}`);
      return;
    }
    if (parsed.channel === 'events') w.events.push(r.data as DeviceEvent);
    else if (parsed.channel === 'reported') w.reports.push(r.data as ReportedState);
    else w.presence.push(r.data as Presence);
  });

  return {
    client,
    async publishDesired(deviceId, doc) {
      const payload = typeof doc === 'string' || Buffer.isBuffer(doc) ? doc : JSON.stringify(doc);
      await client.publishAsync(topics.desired(deviceId), payload, { qos: 1, retain: true });
    },
    async watch(deviceId) {
      const existing = watches.get(deviceId);
      if (existing) return existing;
      const events: DeviceEvent[] = [];
      const reports: ReportedState[] = [];
      const presence: Presence[] = [];
      const invalid: string[] = [];
      const w = {
        events,
        reports,
        presence,
        invalid,
        latestReport: () => reports[reports.length - 1],
        waitForReport: (predicate: (r: ReportedState) => boolean, timeoutMs = 60_000, description = 'report') =>
          waitFor(
            () => {
              const last = reports[reports.length - 1];
              return last && predicate(last) ? last : undefined;
            },
            { timeoutMs, description: `${deviceId}: ${description}; last report: ${JSON.stringify(reports[reports.length - 1])?.slice(0, 1500)}` },
          ),
        waitForEvent: (predicate: (e: DeviceEvent) => boolean, timeoutMs = 60_000, description = 'event') =>
          waitFor(() => events.find(predicate), { timeoutMs, description: `${deviceId}: ${description}` }),
      };
      watches.set(deviceId, w);
      await client.subscribeAsync(
        [topics.reported(deviceId), topics.events(deviceId), topics.presence(deviceId)].map((t) => t),
        { qos: 1 },
      );
      return w;
    },
    async reconnected(timeoutMs = 20_000) {
      await waitFor(() => client.connected, { timeoutMs, description: 'the test controller reconnected' });
      // MQTT.js re-subscribes right after the CONNACK; SUBACKs come in order, so this one comes after those.
      await client.subscribeAsync(`${topics.prefix}/test/sentinel`, { qos: 1 });
    },
    async close() {
      await client.endAsync(true).catch(() => undefined);
    },
  };
}

/** A minimal valid desired document. */
export function desiredDoc(deviceId: string, version: number, workloads: DesiredStateInput['workloads']): DesiredStateInput {
  return { protocol: 1, deviceId, version, issuedAt: new Date().toISOString(), workloads };
}
