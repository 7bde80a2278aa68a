import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topics } from '../../shared/topics.js';
import { CLI } from '../helpers/agent-process.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connectTestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';
import { PERSISTENCE_KINDS, persistenceProbe, type PersistenceProbe } from '../helpers/persistence-probe.js';

const HEARTBEAT_MS = 1_000;
/**
 * aedes sweeps wills every 4 heartbeats and publishes those of brokers not
 * heard from for 3 (aedes.js listen, _clearWills); a restarted broker has
 * heard nothing of the dead one, so its first sweep, 4 heartbeats after the
 * restart, publishes them. 8 heartbeats plus slack for a slow machine.
 */
const SWEEP_DEADLINE_MS = 8 * HEARTBEAT_MS + 10_000;

const topics = new Topics();
const presence = (status: 'online' | 'offline', epoch: number): string => JSON.stringify({ status, epoch });

describe.each(PERSISTENCE_KINDS)('stale wills of a kill -9ed broker (DD-011), %s persistence', (kind) => {
  let redis: RedisServer;
  let admin: Redis;
  let probe: PersistenceProbe;
  let broker: BrokerFixture;
  const clients = new Set<MqttClient>();

  /** A device's connection with its presence will at `epoch`, announcing itself online. */
  async function connectDevice(deviceId: string, secret: string, epoch: number): Promise<MqttClient> {
    const topic = topics.presence(deviceId);
    const client = await mqtt.connectAsync(
      broker.url,
      {
        clientId: deviceId,
        username: deviceId,
        password: secret,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
        will: { topic, payload: Buffer.from(presence('offline', epoch)), qos: 1, retain: true },
      },
      false,
    );
    clients.add(client);
    client.on('error', () => undefined);
    await client.publishAsync(topic, presence('online', epoch), { qos: 1, retain: true });
    return client;
  }

  /** The retained presence of each device, as a newly subscribing service client sees it. */
  async function retainedPresence(deviceIds: string[]): Promise<Map<string, string>> {
    const controller = await connectTestController(broker.url, broker.serviceAuth);
    try {
      const byDevice = new Map<string, string>();
      controller.client.on('message', (topic, payload, packet) => {
        const parsed = topics.parseDevice(topic);
        if (parsed && packet.retain) byDevice.set(parsed.deviceId, payload.toString('utf8'));
      });
      await controller.client.subscribeAsync(deviceIds.map((id) => topics.presence(id)), { qos: 1 });
      await waitFor(() => deviceIds.every((id) => byDevice.has(id)), { timeoutMs: 5_000, description: 'retained presence of every device' });
      return byDevice;
    } finally {
      await controller.close();
    }
  }

  /** `will:<brokerId>:<clientId>` of every stored will. */
  async function willKeys(): Promise<string[]> {
    return (await probe.wills()).map((w) => `will:${w.brokerId}:${w.clientId}`);
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    probe = persistenceProbe(kind, admin);
    broker = await startAedesFixture({ redis, extraArgs: ['--heartbeat-interval-ms', String(HEARTBEAT_MS), '--persistence', kind] });
  });

  afterAll(async () => {
    await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
    await broker?.stop();
    admin?.disconnect();
    await redis?.stop();
  });

  it('a device that reconnected keeps its new retained online presence; one that did not gets its offline will', async () => {
    const back = 'stale-will-back';
    const gone = 'stale-will-gone';
    const secrets = { [back]: await broker.enroll(back), [gone]: await broker.enroll(gone) };

    await connectDevice(back, secrets[back], 1);
    await connectDevice(gone, secrets[gone], 1);
    // Both wills are in Redis under the first broker's id before it dies.
    const oldKeys = await waitFor(
      async () => {
        const keys = await willKeys();
        return keys.some((k) => k.endsWith(`:${back}`)) && keys.some((k) => k.endsWith(`:${gone}`)) ? keys : undefined;
      },
      { timeoutMs: 5_000, description: 'both wills stored' },
    );
    const oldBrokerIds = new Set(oldKeys.map((k) => k.split(':')[1]));
    expect(oldBrokerIds.size).toBe(1);
    const [oldBrokerId] = [...oldBrokerIds];
    expect(await retainedPresence([back, gone])).toEqual(new Map([[back, presence('online', 1)], [gone, presence('online', 1)]]));

    await broker.kill9();
    await broker.restart();
    // legacy reads the will list at start (stale-wills.ts); outpost needs no such step: a will is keyed by its client.
    if (kind === 'legacy') expect(broker.output()).toMatch(/"staleWills":2,.*stale wills of earlier brokers found/);

    await connectDevice(back, secrets[back], 2);

    // Every will of the dead broker is gone: dropped on reconnect or published by aedes's sweeper.
    await waitFor(async () => (await willKeys()).every((k) => !k.startsWith(`will:${oldBrokerId}:`)), {
      timeoutMs: SWEEP_DEADLINE_MS,
      intervalMs: 250,
      description: `wills of broker ${oldBrokerId} swept`,
    });
    // The sweep really ran: the device that stayed away is now retained offline.
    await waitFor(async () => (await retainedPresence([gone])).get(gone) === presence('offline', 1), {
      timeoutMs: SWEEP_DEADLINE_MS,
      intervalMs: 250,
      description: `${gone} retained offline`,
    });

    expect(await retainedPresence([back, gone])).toEqual(new Map([[back, presence('online', 2)], [gone, presence('offline', 1)]]));
    // The reconnected device's current will, stored under the new broker's id, is untouched.
    const keys = await willKeys();
    expect(keys.filter((k) => k.endsWith(`:${back}`))).toHaveLength(1);
    expect(keys.find((k) => k.endsWith(`:${back}`))).not.toContain(oldBrokerId);
  });
});
