import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { Topics } from '../../shared/topics.js';

/**
 * The retained messages a broker holds on `topics` (non-empty payloads only),
 * read as the service identity with one fresh subscription. No waiting for
 * "nothing arrives": a retained sentinel, published first and subscribed to
 * last in the same SUBSCRIBE, comes after the retained messages of the
 * filters before it (both brokers answer the filters of one SUBSCRIBE in
 * order), so once it is here, everything that was going to arrive has.
 */
export async function retainedOn(brokerUrl: string, auth: { username: string; password: string }, topics: readonly string[]): Promise<Map<string, string>> {
  // Not a device topic: watchers of device topics must not see it.
  const sentinel = `${new Topics().prefix}/test/retained-probe-${randomBytes(4).toString('hex')}`;
  const client = await mqtt.connectAsync(brokerUrl, { ...auth, clientId: `svc:retained-${randomBytes(4).toString('hex')}`, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
  try {
    await client.publishAsync(sentinel, 'sentinel', { qos: 1, retain: true });
    const found = new Map<string, string>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the retained sentinel on ${sentinel} did not arrive`)), 10_000);
      client.on('message', (topic, payload, packet) => {
        if (topic === sentinel) {
          clearTimeout(timer);
          resolve();
        } else if (packet.retain && payload.length > 0) found.set(topic, payload.toString('utf8'));
      });
      client.subscribe([...topics, sentinel], { qos: 1 }, (err) => {
        if (err) reject(err);
      });
    });
    return found;
  } finally {
    await client.publishAsync(sentinel, '', { qos: 1, retain: true }).catch(() => undefined);
    await client.endAsync(true);
  }
}
