import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { Topics } from '../../shared/topics.js';
import { epochMs } from './percentiles.js';

/** The fields of a report the benchmarks look at (the agent's schema is stricter; this only reads). */
const ReportFields = z.looseObject({
  phase: z.string(),
  desired: z.looseObject({ seenVersion: z.number().nullable(), appliedVersion: z.number().nullable() }),
  workloads: z.record(z.string(), z.looseObject({ state: z.string(), image: z.string() })),
});
export type ReportFields = z.infer<typeof ReportFields>;

const DesiredFields = z.looseObject({ version: z.number() });
const EventFields = z.looseObject({ type: z.string(), at: z.string(), version: z.number().nullable(), data: z.record(z.string(), z.unknown()).optional() });

export type ObservedChannel = 'desired' | 'reported' | 'events';

/** A message as the observer saw it: `receivedAt` is this process's wall clock (epoch ms). */
export interface Seen<T> {
  receivedAt: number;
  body: T;
}

export type EventSeen = Seen<z.infer<typeof EventFields>> & { /** The agent's own timestamp (same machine's clock), epoch ms. */ atMs: number };

interface Waiter<T> {
  match: (m: Seen<T>) => boolean;
  resolve: (m: Seen<T>) => void;
}

class Channel<T> {
  readonly latest = new Map<string, Seen<T>>();
  private readonly waiters = new Map<string, Set<Waiter<T>>>();

  push(deviceId: string, m: Seen<T>): void {
    this.latest.set(deviceId, m);
    const ws = this.waiters.get(deviceId);
    if (!ws) return;
    for (const w of ws) {
      if (w.match(m)) {
        ws.delete(w);
        w.resolve(m);
      }
    }
  }

  /** The first message of `deviceId` from now on (or the latest one already seen, if `latestCounts`) that matches. */
  next(deviceId: string, match: (m: Seen<T>) => boolean, latestCounts: boolean): Promise<Seen<T>> {
    const last = this.latest.get(deviceId);
    if (latestCounts && last && match(last)) return Promise.resolve(last);
    return new Promise((resolve) => {
      let ws = this.waiters.get(deviceId);
      if (!ws) this.waiters.set(deviceId, (ws = new Set()));
      ws.add({ match, resolve });
    });
  }
}

/**
 * The benchmark's own MQTT client (the service identity, like the
 * controller): it sees every device's desired document, report and event
 * as the broker delivers them, and stamps each with its arrival time here.
 * Payloads are parsed leniently; one that does not parse is counted, not thrown.
 */
export class FleetObserver {
  readonly desired = new Channel<z.infer<typeof DesiredFields>>();
  readonly reported = new Channel<ReportFields>();
  readonly events = new Channel<z.infer<typeof EventFields>>();
  unparsed = 0;
  private readonly topics = new Topics();

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Subscribes to `channels` of every device (each one is more traffic through the broker: ask only for what is used). */
  static async start(brokerUrl: string, servicePassword: string, channels: readonly ObservedChannel[]): Promise<FleetObserver> {
    const client = await mqtt.connectAsync(brokerUrl, {
      clientId: `svc:bench-${process.pid}`,
      username: 'svc:outpost',
      password: servicePassword,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      writeCache: false,
    });
    const observer = new FleetObserver(client);
    const topics = new Topics();
    await client.subscribeAsync(
      channels.map((c) => topics.allDevices(c)),
      { qos: 1 },
    );
    return observer;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const receivedAt = epochMs();
    const t = this.topics.parseDevice(topic);
    if (!t) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.unparsed += 1;
      return;
    }
    if (t.channel === 'desired') {
      const p = DesiredFields.safeParse(json);
      if (p.success) this.desired.push(t.deviceId, { receivedAt, body: p.data });
      else this.unparsed += 1;
    } else if (t.channel === 'reported') {
      const p = ReportFields.safeParse(json);
      if (p.success) this.reported.push(t.deviceId, { receivedAt, body: p.data });
      else this.unparsed += 1;
    } else if (t.channel === 'events') {
      const p = EventFields.safeParse(json);
      if (p.success) this.events.push(t.deviceId, { receivedAt, body: p.data });
      else this.unparsed += 1;
    }
  }

  /** Resolves with the agent's event of `type` about `version` (its `at`, epoch ms, and when it arrived here). */
  async event(deviceId: string, type: string, version: number): Promise<EventSeen> {
    const m = await this.events.next(deviceId, (e) => e.body.type === type && e.body.version === version, true);
    return { ...m, atMs: Date.parse(m.body.at) };
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
