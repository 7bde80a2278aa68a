import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { Topics } from '../../shared/topics.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';
import { anonymousGarbageArb, authenticatedGarbageArb, chunked, validConnect } from './arbitraries/mqtt-packets.js';
import { runs } from './arbitraries/settings.js';

/**
 * Random bytes and malformed MQTT packets over raw TCP at Outpost's broker
 * (real aedes, real Redis; in this process, so that its connect timeout can
 * be 1 s and its logs read), from anonymous clients and from an authenticated
 * device, while a well-behaved device and the service identity keep
 * exchanging messages: the broker never crashes, closes every garbage
 * connection by itself, the exchange goes on during and after the fuzzing,
 * and Redis keeps nothing the garbage sent.
 */

const SERVICE = 'svc:outpost';
const SERVICE_PASSWORD = randomBytes(16).toString('hex');
/** aedes closes a connection without a CONNECT after this; the smallest the config allows. */
const CONNECT_TIMEOUT_MS = 1000;
/** Garbage connections opened at once per property run. */
const BATCH = 12;
const GOOD_DEVICE = 'fz-good';
const GARBAGE_DEVICES = ['fz-garbage-0', 'fz-garbage-1', 'fz-garbage-2'];
const topics = new Topics();

interface Garbage {
  /** null: anonymous; else the index of the garbage device that authenticates first. */
  device: number | null;
  packets: Buffer[];
  cuts: number[];
}

const garbageArb: fc.Arbitrary<Garbage> = fc.oneof(
  fc.record({ device: fc.constant(null), packets: anonymousGarbageArb, cuts: fc.array(fc.nat(), { maxLength: 3 }) }),
  fc.record({ device: fc.nat({ max: GARBAGE_DEVICES.length - 1 }), packets: authenticatedGarbageArb, cuts: fc.array(fc.nat(), { maxLength: 3 }) }),
);

describe('broker under garbage (property-based)', () => {
  let redis: RedisServer;
  let admin: Redis;
  let broker: OutpostBroker;
  let port: number;
  const { logger, logs } = captureLogs();
  const secrets = new Map<string, string>();
  let device: MqttClient;
  let service: MqttClient;
  const echoes = new Set<string>();
  let exchanging = false;
  let exchangeLoop: Promise<void> | undefined;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const config = parseBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: redis.url, servicePassword: SERVICE_PASSWORD, connectTimeoutMs: CONNECT_TIMEOUT_MS, logLevel: 'debug' });
    broker = await createBroker(config, { logger });
    port = (await broker.listen()).port;
    for (const id of [GOOD_DEVICE, ...GARBAGE_DEVICES]) secrets.set(id, await broker.credentials.issue(id));

    const url = `mqtt://127.0.0.1:${port}`;
    const common = { protocolVersion: 4 as const, reconnectPeriod: 0, connectTimeout: 5_000, resubscribe: false };
    // Like an agent: a persistent session, its own topics only; it answers every command with an event.
    device = await mqtt.connectAsync(url, { ...common, clientId: GOOD_DEVICE, username: GOOD_DEVICE, password: secrets.get(GOOD_DEVICE) ?? '', clean: false });
    await device.subscribeAsync([topics.desired(GOOD_DEVICE), topics.commands(GOOD_DEVICE)], { qos: 1 });
    device.on('message', (topic, payload) => {
      if (topic === topics.commands(GOOD_DEVICE)) device.publish(topics.events(GOOD_DEVICE), payload, { qos: 1 });
    });
    service = await mqtt.connectAsync(url, { ...common, clientId: `svc:fuzz-${randomBytes(3).toString('hex')}`, username: SERVICE, password: SERVICE_PASSWORD, clean: true });
    await service.subscribeAsync(topics.allDevices('events'), { qos: 1 });
    service.on('message', (_topic, payload) => echoes.add(payload.toString()));
    await service.publishAsync(topics.desired(GOOD_DEVICE), JSON.stringify({ protocol: 1, deviceId: GOOD_DEVICE, version: 1 }), { qos: 1, retain: true });
  });

  afterAll(async () => {
    exchanging = false;
    await exchangeLoop?.catch(() => undefined);
    await device?.endAsync(true).catch(() => undefined);
    await service?.endAsync(true).catch(() => undefined);
    await broker?.close();
    admin?.disconnect();
    await redis?.stop();
  });

  /** One command out, its echo back: the well-behaved clients still talk through the broker. */
  async function roundTrip(tag: string): Promise<void> {
    await service.publishAsync(topics.commands(GOOD_DEVICE), tag, { qos: 1 });
    await waitFor(() => echoes.has(tag), { timeoutMs: 5_000, description: `echo of ${tag}` });
  }

  /** Everything aedes and Outpost keep in Redis, but for the well-behaved clients' in-flight traffic. */
  async function redisState(): Promise<string> {
    // The well-behaved device's queue and in-flight state, in either persistence's layout (DD-028).
    const inFlight = new Set([`outgoing:${GOOD_DEVICE}`, ...['q', 'qp', 'qm'].map((kind) => `outpost:mqtt:${kind}:${GOOD_DEVICE}`)]);
    const keys = (await admin.keys('*')).filter((k) => !k.startsWith('packet:') && !inFlight.has(k) && !k.startsWith('counter:')).sort();
    const retained = [...(await admin.hkeys('retained')), ...(await admin.hkeys('outpost:mqtt:retained'))].sort();
    const clients = (await admin.smembers('clients')).sort();
    const wills = (await admin.lrange('will', 0, -1)).sort();
    return JSON.stringify({ keys, retained, clients, wills });
  }

  /** Sends the garbage and resolves once the broker has closed the connection (it never closes from our side). */
  function sendGarbage(g: Garbage): Promise<{ closedAfterMs: number }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket: Socket = connect({ port, host: '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`the broker left a garbage connection open: ${JSON.stringify(g.packets.map((p) => p.toString('hex')))}`));
      }, 10_000);
      socket.on('error', () => undefined); // ECONNRESET when the broker cuts it off mid-write
      socket.on('data', () => undefined);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve({ closedAfterMs: Date.now() - started });
      });
      socket.once('connect', () => {
        const id = g.device === null ? undefined : GARBAGE_DEVICES[g.device];
        const prefix = id === undefined ? [] : [validConnect(id, secrets.get(id) ?? '')];
        for (const chunk of [...prefix, ...chunked(g.packets, g.cuts)]) socket.write(chunk);
      });
    });
  }

  it(`${BATCH} garbage connections at a time: each closed by the broker; the well-behaved clients keep exchanging during and after; Redis keeps nothing of it`, async () => {
    await roundTrip('before');
    const before = await redisState();

    exchanging = true;
    let sent = 0;
    exchangeLoop = (async () => {
      while (exchanging) {
        sent += 1;
        await roundTrip(`during-${sent}`);
      }
    })();
    // A failed round trip fails the test at the `await exchangeLoop` below, not as an unhandled rejection meanwhile.
    exchangeLoop.catch(() => undefined);

    let batches = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(garbageArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const echoedBefore = echoes.size;
        const closed = await Promise.all(batch.map(sendGarbage));
        batches += 1;
        // Nothing waits longer than the connect timeout or an authenticated client's keepalive (1.5 × 1 s).
        for (const c of closed) expect(c.closedAfterMs).toBeLessThan(CONNECT_TIMEOUT_MS + 5_000);
        // The exchange went on while the garbage was being refused.
        await waitFor(() => echoes.size > echoedBefore, { timeoutMs: 5_000, description: 'an echo during the batch' });
      }),
      runs(15),
    );
    exchanging = false;
    await exchangeLoop;

    expect(batches).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(batches);
    await roundTrip('after');
    expect(device.connected && service.connected).toBe(true);
    // The retained desired document is intact and still delivered to a fresh subscriber.
    const fresh = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, clientId: `svc:fresh-${randomBytes(3).toString('hex')}`, username: SERVICE, password: SERVICE_PASSWORD });
    const retained = new Promise<string>((resolve) => fresh.once('message', (_t, p) => resolve(p.toString())));
    await fresh.subscribeAsync(topics.desired(GOOD_DEVICE), { qos: 1 });
    expect(JSON.parse(await retained)).toMatchObject({ deviceId: GOOD_DEVICE, version: 1 });
    await fresh.endAsync(true);

    await waitFor(async () => (await admin.llen(`outgoing:${GOOD_DEVICE}`)) === 0, { description: 'in-flight messages acknowledged' });
    expect(await redisState()).toBe(before);
    // Refusals are decisions, not failures: nothing reached the broker's error handler.
    expect(logs.filter((l) => l.msg === 'broker error' || l.msg === 'connection setup failed')).toEqual([]);
  });
});
