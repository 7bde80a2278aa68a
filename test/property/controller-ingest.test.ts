import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ingest, type IngestOutcome } from '../../controller/ingest/ingest.js';
import { StatusStore } from '../../controller/ingest/status-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { DEVICE_CHANNELS, Topics } from '../../shared/topics.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { deepJsonArb, mutated } from './arbitraries/mutate.js';
import { deviceEventArb, presenceArb, reportedStateArb, telemetryArb, telemetryDeltaArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * The controller's ingest (controller/ingest/ingest.ts) with random payloads
 * on random device topics, against a real Redis: it never throws, stores
 * only valid messages of the device the topic names, and what it stored
 * reads back through the status store's own schemas.
 */

const DEVICES = ['dev-a', 'dev-b'] as const;
const topics = new Topics();

const deviceArb = fc.constantFrom(...DEVICES);
const topicArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(deviceArb, fc.constantFrom(...DEVICE_CHANNELS)).map(([id, channel]) => topics.device(id, channel)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'outpost/v1/devices/dev-a/reported/extra',
      'outpost/v1/devices/+/reported',
      'outpost/v1/devices/DEV-A/reported',
      'outpost/v1/devices//reported',
      'other/v1/devices/dev-a/reported',
      'outpost/v1/devices/dev-a/unknown',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

const forDevice = fc.oneof(deviceArb, fc.constant('someone-else'));
const messageArb = fc.oneof(reportedStateArb({ deviceId: forDevice }), presenceArb({ deviceId: forDevice }), deviceEventArb({ deviceId: forDevice }), telemetryArb({ deviceId: forDevice }), telemetryDeltaArb({ deviceId: forDevice }));

const payloadArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')) },
  { weight: 4, arbitrary: messageArb.map((m) => Buffer.from(JSON.stringify(m))) },
  { weight: 4, arbitrary: mutated(messageArb).map((m) => Buffer.from(JSON.stringify(m) ?? '')) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(70 * 1024, 0x20)) },
  { weight: 1, arbitrary: deepJsonArb('data').map((text) => Buffer.from(text)) },
);

const channelOf = (m: object): (typeof DEVICE_CHANNELS)[number] => ('reportedAt' in m ? 'reported' : 'epoch' in m ? 'presence' : 'level' in m ? 'events' : 'telemetry');

/** A valid event whose free-form `data` nests `depth` levels: JSON.parse takes thousands, JSON.stringify does not. */
const deepEventArb: fc.Arbitrary<[string, Buffer]> = fc
  .tuple(deviceEventArb({ deviceId: deviceArb }), fc.integer({ min: 1, max: 5_000 }))
  .map(([e, depth]) => [topics.events(e.deviceId), Buffer.from(JSON.stringify({ ...e, data: {} }).replace('"data":{}', `"data":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}`))]);

/** Topic and payload drawn apart, or a (possibly mutated) message on its own device's topic. */
const deliveryArb: fc.Arbitrary<[string, Buffer]> = fc.oneof(
  fc.tuple(topicArb, payloadArb),
  deepEventArb,
  messageArb.chain((m) =>
    fc.tuple(
      fc.constant(topics.device((DEVICES as readonly string[]).includes(m.deviceId) ? m.deviceId : 'dev-a', channelOf(m))),
      fc.oneof(fc.constant(m), mutated(fc.constant(m))).map((doc) => Buffer.from(JSON.stringify(doc) ?? '')),
    ),
  ),
);

describe('controller ingest (property-based)', () => {
  let redis: RedisServer;
  let client: Redis;
  const keys = new Keys('fuzz:');
  const { logger, logs } = captureLogs();
  let ingest: Ingest;
  let status: StatusStore;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    status = new StatusStore(client, keys);
    ingest = new Ingest({ topics, status, logger, now: () => Date.parse('2026-11-30T12:00:00Z') });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  /** Everything stored for one device, as Redis holds it. */
  async function snapshot(deviceId: string): Promise<string> {
    const [hash, events, ids] = await Promise.all([client.hgetall(keys.status(deviceId)), client.lrange(keys.events(deviceId), 0, -1), client.smembers(keys.eventIds(deviceId))]);
    return JSON.stringify({ hash, events, ids: ids.sort() });
  }

  it('never throws; stores only valid messages of the device the topic names; what it stored reads back', async () => {
    const logged = logs.length;
    const errorsBefore = (await status.metrics())['ingest.errors'];
    await fc.assert(
      fc.asyncProperty(deliveryArb, async ([topic, payload]) => {
        const before = await Promise.all(DEVICES.map(snapshot));
        const outcome: IngestOutcome = await ingest.handle(topic, payload);
        expect(['stored', 'stale', 'malformed', 'ignored', 'unknown-base']).toContain(outcome);
        const after = await Promise.all(DEVICES.map(snapshot));
        const parsed = topics.parseDevice(topic);
        DEVICES.forEach((id, i) => {
          // Only a stored message changes anything, and only for the device of its topic (metrics aside).
          if (outcome !== 'stored' || parsed?.deviceId !== id) expect(after[i], `${id} changed by a ${outcome} message on ${topic}`).toBe(before[i]);
        });
        for (const id of DEVICES) {
          // The status store parses everything it returns with the protocol schemas: invalid data would throw here.
          const { reported, presence } = await status.get(id);
          const events = await status.events(id, 200);
          const telemetry = await status.telemetry(id);
          for (const m of [reported, presence, telemetry, ...events]) if (m) expect(m.deviceId).toBe(id);
        }
      }),
      runs(800),
    );
    // Every refusal was a decision, none an exception caught at the top.
    expect(logs.slice(logged).filter((l) => l.msg === 'ingest failed')).toEqual([]);
    expect((await status.metrics())['ingest.errors']).toBe(errorsBefore);
  });

  it('every valid message of the topic’s device is stored or, when older than what is held, dropped as stale', async () => {
    const logged = logs.length;
    await fc.assert(
      fc.asyncProperty(fc.oneof(reportedStateArb({ deviceId: deviceArb }), presenceArb({ deviceId: deviceArb }), deviceEventArb({ deviceId: deviceArb }), telemetryArb({ deviceId: deviceArb })), async (msg) => {
        const topic = topics.device(msg.deviceId, channelOf(msg));
        expect(['stored', 'stale']).toContain(await ingest.handle(topic, Buffer.from(JSON.stringify(msg))));
      }),
      runs(300),
    );
    expect(logs.slice(logged).filter((l) => l.msg === 'ingest failed')).toEqual([]);
  });
});
