import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Topics } from '../../shared/topics.js';
import type { ClientFleet, FleetContext, StormObservation } from './client-fleet.js';
import { inBatches, waitUntil } from './processes.js';

/** Clients set up (first connect, subscribe) at a time before the storm: set-up speed is not measured. */
const SETUP_CONCURRENCY = 100;

/**
 * N raw MQTT.js clients in this process, as a device's MQTT session would be
 * without the agent: clean=false, QoS 1 exact subscription to its desired
 * topic, a retained QoS 1 presence will; in the storm each reconnects with
 * MQTT.js's own 1 s reconnect period. Converged = the document arrived.
 */
export function rawClientFleet(ctx: FleetContext): ClientFleet {
  const topics = new Topics();
  const clients: MqttClient[] = [];
  let secrets: ReadonlyMap<string, string> = new Map();
  const options = (id: string): IClientOptions => ({
    clientId: id,
    username: id,
    password: secrets.get(id) ?? '',
    clean: false,
    protocolVersion: 4,
    resubscribe: false,
    writeCache: false,
    ...(ctx.will ? { will: { topic: topics.presence(id), payload: Buffer.from('{"status":"offline"}'), qos: 1 as const, retain: true } } : {}),
  });
  const fleet: ClientFleet = {
    async setup(s) {
      secrets = s;
      await inBatches(ctx.ids, SETUP_CONCURRENCY, async (id) => {
        const c = await mqtt.connectAsync(ctx.url, { ...options(id), reconnectPeriod: 0 }, false);
        const granted = await c.subscribeAsync(topics.desired(id), { qos: 1 });
        if (granted[0]?.qos !== 1) throw new Error(`${id}: subscription refused (${JSON.stringify(granted)})`);
        await c.endAsync();
      });
    },
    async storm(deadlineMs) {
      const received = new Map<string, number[]>();
      let connackTimeouts = 0;
      let closedBeforeConnack = 0;
      const t0 = performance.now();
      for (const id of ctx.ids) {
        const c = mqtt.connect(ctx.url, { ...options(id), reconnectPeriod: 1000, connectTimeout: ctx.connackTimeoutMs });
        clients.push(c);
        let connected = false;
        const doc = ctx.document(id);
        c.on('connect', () => (connected = true));
        c.on('error', (err) => {
          if (err.message === 'connack timeout') connackTimeouts += 1;
        });
        c.on('close', () => {
          if (!connected) closedBeforeConnack += 1;
          connected = false;
        });
        c.on('message', (_topic, payload) => {
          if (payload.toString() !== doc) return;
          const times = received.get(id) ?? [];
          times.push(performance.now() - t0);
          received.set(id, times);
        });
      }
      await waitUntil('every device converged', () => received.size >= ctx.ids.length, deadlineMs).catch(() => undefined);
      const observation: StormObservation = {
        received,
        get converged() {
          return new Map([...received].map(([id, t]) => [id, t[0] ?? 0]));
        },
        duplicated: () => [...received.values()].filter((t) => t.length > 1).length,
        connackTimeouts: () => connackTimeouts,
        closedBeforeConnack: () => Math.max(0, closedBeforeConnack - connackTimeouts),
        finish: () => fleet.close(),
      };
      return observation;
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      clients.length = 0;
    },
  };
  return fleet;
}
