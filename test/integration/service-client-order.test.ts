import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../controller/mqtt/service-client.js';
import { createLogger } from '../../shared/logger.js';
import { startMosquittoFixture, type BrokerFixture } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * The controller's MQTT client handles a device's messages in arrival order
 * and different devices' messages at once, up to its window (real broker:
 * stock Mosquitto, so any client may publish the test topics).
 */
let broker: BrokerFixture;
const clients: MqttClient[] = [];
const services: ServiceClient[] = [];

beforeAll(async () => {
  broker = await startMosquittoFixture();
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.close().catch(() => undefined);
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
});
afterAll(async () => {
  await broker?.stop();
});

/** A handler that parks every call until released, recording the order of calls and completions. */
function parkingHandler() {
  const started: string[] = [];
  const finished: string[] = [];
  const gates = new Map<string, () => void>();
  return {
    started,
    finished,
    handle: (topic: string, payload: Buffer) =>
      new Promise<void>((resolve) => {
        const label = `${topic.split('/')[1]}:${payload.toString()}`;
        started.push(label);
        gates.set(label, () => {
          finished.push(label);
          resolve();
        });
      }),
    release(label: string) {
      const gate = gates.get(label);
      if (!gate) throw new Error(`${label} has not started`);
      gates.delete(label);
      gate();
    },
  };
}

async function service(handler: (topic: string, payload: Buffer) => Promise<void>, maxInFlight: number): Promise<ServiceClient> {
  const client = new ServiceClient(
    {
      brokerUrl: broker.url,
      username: 'svc:order-test',
      password: 'unused-on-this-broker',
      clientId: `svc:order-${services.length}-${Date.now()}`,
      subscriptions: ['order/+/msg'],
      orderKey: (topic) => topic.split('/')[1] ?? topic,
      maxInFlight,
    },
    handler,
    createLogger({ level: 'silent', name: 'test' }),
  );
  services.push(client);
  await client.start();
  return client;
}

async function publisher(): Promise<MqttClient> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
  clients.push(client);
  return client;
}

describe('ServiceClient message handling', () => {
  it("handles one key's messages in order while other keys go ahead", async () => {
    const h = parkingHandler();
    await service(h.handle, 64);
    const pub = await publisher();
    for (const m of ['a1', 'a2', 'a3']) await pub.publishAsync('order/dev-a/msg', m.slice(1), { qos: 1 });
    for (const m of ['b1', 'b2']) await pub.publishAsync('order/dev-b/msg', m.slice(1), { qos: 1 });

    // dev-a's first message is parked: its second has not started, but dev-b's first has.
    await waitFor(() => h.started.includes('dev-a:1') && h.started.includes('dev-b:1'), { description: 'both keys started' });
    expect(h.started).not.toContain('dev-a:2');
    h.release('dev-b:1');
    await waitFor(() => h.started.includes('dev-b:2'));
    h.release('dev-b:2');
    expect(h.started).not.toContain('dev-a:2');
    for (const n of ['1', '2', '3']) {
      h.release(`dev-a:${n}`);
      if (n !== '3') await waitFor(() => h.started.includes(`dev-a:${Number(n) + 1}`));
    }
    await waitFor(() => h.finished.length === 5);
    expect(h.finished.filter((l) => l.startsWith('dev-a'))).toEqual(['dev-a:1', 'dev-a:2', 'dev-a:3']);
  });

  it('starts no more than its window at once, and reads on as handlers finish', async () => {
    const h = parkingHandler();
    await service(h.handle, 2);
    const pub = await publisher();
    for (const d of ['d1', 'd2', 'd3', 'd4']) await pub.publishAsync(`order/${d}/msg`, 'x', { qos: 1 });
    await waitFor(() => h.started.length === 2, { description: 'the window filled' });
    // d3 and d4 were published before: only the window holds them back.
    h.release('d1:x');
    await waitFor(() => h.started.length === 3);
    expect(h.started).toEqual(['d1:x', 'd2:x', 'd3:x']);
    h.release('d2:x');
    h.release('d3:x');
    await waitFor(() => h.started.length === 4);
    h.release('d4:x');
    await waitFor(() => h.finished.length === 4);
  });
});
