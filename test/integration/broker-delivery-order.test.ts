import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { checkBrokerConfig } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { silentLogger } from '../../shared/logger.js';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy.js';
import { waitFor } from '../helpers/docker.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * A device's retained report followed at once by an event: the event skips
 * the retained write and reaches the broker's emitter first. Both must still
 * reach a subscriber of both topics (aedes's counter dedupe dropped the
 * report, DD-016). A slow Redis makes the overtaking certain.
 */
describe('delivery of messages that overtake each other', () => {
  let redis: RedisServer;
  let proxy: DelayProxy;
  let broker: OutpostBroker;
  let url: string;
  const servicePassword = randomBytes(16).toString('hex');

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startDelayProxy(redis.port, 0);
    const checked = checkBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: `redis://127.0.0.1:${proxy.port}`, servicePassword, logLevel: 'silent' });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    broker = await createBroker(checked.config, { logger: silentLogger() });
    url = `mqtt://127.0.0.1:${(await broker.listen()).port}`;
  });

  afterAll(async () => {
    await broker?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('a subscriber of reported and events receives every report, even when the event overtakes it', async () => {
    const id = 'order-dev';
    const secret = await broker.credentials.issue(id);
    const watcher = await mqtt.connectAsync(url, { clientId: 'svc:watch', username: 'svc:outpost', password: servicePassword, clean: true });
    const device: MqttClient = await mqtt.connectAsync(url, { clientId: id, username: id, password: secret, clean: true });
    const got: string[] = [];
    watcher.on('message', (topic, payload) => got.push(`${topic.split('/').pop()}:${payload.toString()}`));
    await watcher.subscribeAsync([`outpost/v1/devices/${id}/reported`, `outpost/v1/devices/${id}/events`], { qos: 1 });
    proxy.delayMs = 30;
    try {
      for (let i = 1; i <= 5; i++) {
        await Promise.all([
          device.publishAsync(`outpost/v1/devices/${id}/reported`, `r${i}`, { qos: 1, retain: true }),
          device.publishAsync(`outpost/v1/devices/${id}/events`, `e${i}`, { qos: 1 }),
        ]);
      }
      await waitFor(() => got.length >= 10, { timeoutMs: 10_000, description: `all 10 messages; got ${got.join(',')}` });
      expect(got.filter((m) => m.startsWith('reported:')).sort()).toEqual(['reported:r1', 'reported:r2', 'reported:r3', 'reported:r4', 'reported:r5']);
      expect(got.filter((m) => m.startsWith('events:')).sort()).toEqual(['events:e1', 'events:e2', 'events:e3', 'events:e4', 'events:e5']);
    } finally {
      proxy.delayMs = 0;
      await device.endAsync();
      await watcher.endAsync();
    }
  });
});
