import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { ReportedState } from '../../shared/schemas/reported-state.js';
import { Topics } from '../../shared/topics.js';
import type { DeviceHistory } from './checker.js';

/** The desired document's version is all the recorder needs (the agent checks the rest). */
const DesiredVersion = z.looseObject({ version: z.number().int() });

interface SeenReport {
  reportedAtMs: number;
  applied: number | null;
  phase: string;
}

interface DeviceRecord {
  published: Set<number>;
  /** Keyed by reportedAt + applied version + phase: a report seen through both clients, or replayed, counts once. */
  reports: Map<string, SeenReport>;
  latest: SeenReport | null;
}

/**
 * The chaos run's witness: one MQTT client per broker node (the service
 * identity, persistent sessions), so a broker killed under one of them
 * loses it nothing the other does not see. It keeps, per device, every
 * desired version published and every report. Reports are put in the order
 * the device sent them by their `reportedAt` (a device's own clock, skewed or
 * not, only moves forward); arrival order is not that order once a
 * session's queue is replayed (pitfalls: the queue is not the state).
 */
export class HistoryRecorder {
  readonly unparsed = { count: 0 };
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly topics = new Topics();
  private readonly clients: MqttClient[] = [];

  private constructor(private readonly ids: ReadonlySet<string>) {}

  static start(brokerUrls: readonly string[], servicePassword: string, ids: readonly string[]): HistoryRecorder {
    const recorder = new HistoryRecorder(new Set(ids));
    const subscriptions = [recorder.topics.allDevices('desired'), recorder.topics.allDevices('reported')];
    brokerUrls.forEach((url, i) => {
      const client = mqtt.connect(url, {
        clientId: `svc:chaos-recorder-${process.pid}-${i}`,
        username: 'svc:outpost',
        password: servicePassword,
        protocolVersion: 4,
        clean: false,
        resubscribe: false,
        reconnectPeriod: 500,
        connectTimeout: 5_000,
        writeCache: false,
      });
      // Subscribe on every connect: a restored session may or may not hold the subscription (pitfalls).
      client.on('connect', () => client.subscribe(subscriptions, { qos: 1 }, () => undefined));
      client.on('message', (topic, payload) => recorder.onMessage(topic, payload));
      client.on('error', () => undefined);
      recorder.clients.push(client);
    });
    return recorder;
  }

  private record(deviceId: string): DeviceRecord {
    let r = this.devices.get(deviceId);
    if (!r) this.devices.set(deviceId, (r = { published: new Set(), reports: new Map(), latest: null }));
    return r;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = this.topics.parseDevice(topic);
    if (!t || !this.ids.has(t.deviceId)) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.unparsed.count += 1;
      return;
    }
    if (t.channel === 'desired') {
      const doc = DesiredVersion.safeParse(json);
      if (doc.success) this.record(t.deviceId).published.add(doc.data.version);
      else this.unparsed.count += 1;
    } else if (t.channel === 'reported') {
      const report = ReportedState.safeParse(json);
      if (!report.success) {
        this.unparsed.count += 1;
        return;
      }
      const seen: SeenReport = { reportedAtMs: Date.parse(report.data.reportedAt), applied: report.data.desired.appliedVersion, phase: report.data.phase };
      const r = this.record(t.deviceId);
      r.reports.set(`${report.data.reportedAt}|${seen.applied}|${seen.phase}`, seen);
      if (!r.latest || seen.reportedAtMs >= r.latest.reportedAtMs) r.latest = seen;
    }
  }

  /** The device's newest report: converged at `version`? */
  convergedAt(deviceId: string, version: number): boolean {
    const latest = this.devices.get(deviceId)?.latest;
    return latest?.phase === 'converged' && latest.applied === version;
  }

  /** Desired versions published to devices (each device's distinct versions, summed). */
  publishedCount(): number {
    let n = 0;
    for (const r of this.devices.values()) n += r.published.size;
    return n;
  }

  /** The checker's history of one device; `finalDesired` (the controller's word at the end) counts as published too. */
  history(deviceId: string, finalDesired: number | null): DeviceHistory {
    const r = this.devices.get(deviceId);
    const published = [...(r?.published ?? [])];
    if (finalDesired !== null) published.push(finalDesired);
    const reports = [...(r?.reports.values() ?? [])].sort((a, b) => a.reportedAtMs - b.reportedAtMs);
    return { published, applied: reports.map((x) => x.applied) };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }
}
