import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Ingest } from '../../controller/ingest/ingest.js';
import { StatusStore } from '../../controller/ingest/status-store.js';
import { Keys } from '../../controller/registry/keys.js';
import type { Telemetry, TelemetryDelta } from '../../shared/schemas/telemetry.js';
import { Topics } from '../../shared/topics.js';
import { captureLogs } from '../helpers/log-capture.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/**
 * DD-038 against a real Redis: the controller keeps the last full sample as
 * the base, merges each delta onto it (not onto the latest) and keeps the
 * newest; a delta whose base it does not hold is dropped and counted.
 */
describe('telemetry deltas in the status store', () => {
  let redis: RedisServer;
  let client: Redis;
  let status: StatusStore;
  let ingest: Ingest;
  const { logger, logs } = captureLogs();
  const topics = new Topics();
  let prefixSeq = 0;
  let keys: Keys;
  const id = 'pump-17';

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });
  beforeEach(() => {
    // A fresh key prefix per test.
    keys = new Keys(`tdelta${++prefixSeq}:`);
    status = new StatusStore(client, keys);
    ingest = new Ingest({ topics, status, logger, now: () => Date.parse('2026-11-30T12:00:00Z') });
  });

  const at = (minute: number): string => new Date(Date.parse('2026-11-23T20:00:00.000Z') + minute * 60_000).toISOString();
  const full = (minute: number, over: Partial<Telemetry> = {}): Telemetry => ({
    protocol: 1,
    deviceId: id,
    at: at(minute),
    uptimeSeconds: 1000 + minute * 60,
    agentUptimeSeconds: 500 + minute * 60,
    cpu: { cores: 4, loadAverage1m: 0.31, usagePct: 10 },
    memory: { totalBytes: 4000, availableBytes: 2000 },
    disk: { path: '/var/lib/outpost', totalBytes: 9000, freeBytes: 5000 },
    containers: [{ workload: 'collector', state: 'running', restartCount: 1 }],
    mqtt: { bytesIn: 100, bytesOut: 200 },
    ...over,
  });
  const delta = (minute: number, baseMinute: number, over: Partial<TelemetryDelta> = {}): TelemetryDelta => ({ protocol: 1, deviceId: id, at: at(minute), base: at(baseMinute), ...over });
  const send = (m: object | string) => ingest.handle(topics.telemetry(id), Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)));
  const latest = () => status.telemetry(id);

  it('a delta is merged onto the last full sample, not onto the previous delta', async () => {
    expect(await send(full(0))).toBe('stored');
    expect(await send(delta(5, 0, { cpu: { usagePct: 30 }, mqtt: { bytesOut: 900 } }))).toBe('stored');
    expect(await latest()).toEqual(full(0, { at: at(5), uptimeSeconds: 1300, agentUptimeSeconds: 800, cpu: { cores: 4, loadAverage1m: 0.31, usagePct: 30 }, mqtt: { bytesIn: 100, bytesOut: 900 } }));
    // The next delta leaves usagePct out: it is the base's 10 again, not the previous delta's 30.
    expect(await send(delta(10, 0, { memory: { availableBytes: 1500 }, mqtt: { bytesOut: 1600 } }))).toBe('stored');
    expect(await latest()).toEqual(full(0, { at: at(10), uptimeSeconds: 1600, agentUptimeSeconds: 1100, memory: { totalBytes: 4000, availableBytes: 1500 }, mqtt: { bytesIn: 100, bytesOut: 1600 } }));
  });

  it('an older delta never replaces a newer sample; a lost delta costs nothing later', async () => {
    await send(full(0));
    await send(delta(10, 0, { cpu: { usagePct: 55 } }));
    expect(await send(delta(5, 0, { cpu: { usagePct: 99 } }))).toBe('stale'); // overtaken on the way
    expect((await latest())?.cpu.usagePct).toBe(55);
    // Delta at minute 15 lost; the one at 20 still merges onto the base.
    expect(await send(delta(20, 0, { disk: { freeBytes: 4000 } }))).toBe('stored');
    expect(await latest()).toMatchObject({ at: at(20), cpu: { usagePct: 10 }, disk: { freeBytes: 4000 } });
    expect((await status.metrics())['ingest.telemetry.stale']).toBe(1);
  });

  it('a delta whose base is unknown is dropped, logged at debug and counted', async () => {
    const logged = logs.length;
    expect(await send(delta(5, 0))).toBe('unknown-base'); // no full sample yet (a controller that lost its data)
    expect(await latest()).toBeNull();
    await send(full(10));
    expect(await send(delta(15, 0))).toBe('unknown-base'); // relative to a full sample this controller never got
    expect(await latest()).toEqual(full(10));
    expect((await status.metrics())['ingest.telemetry.unknown-base']).toBe(2);
    expect(logs.slice(logged).filter((l) => l.msg === 'telemetry delta dropped: its full sample is unknown').map((l) => l.level)).toEqual([20, 20]);
  });

  it('a new full sample is the base from then on; deltas against the one before it are dropped', async () => {
    await send(full(0));
    await send(delta(5, 0, { cpu: { usagePct: 20 } }));
    expect(await send(full(10, { memory: { totalBytes: 4000, availableBytes: 3000 } }))).toBe('stored');
    expect(await send(delta(15, 0))).toBe('unknown-base');
    expect(await send(delta(15, 10, { cpu: { usagePct: 40 } }))).toBe('stored');
    expect(await latest()).toMatchObject({ at: at(15), cpu: { usagePct: 40 }, memory: { availableBytes: 3000 } });
  });

  it('an older full sample neither replaces the latest nor the base', async () => {
    await send(full(10));
    expect(await send(full(0, { cpu: { cores: 4, loadAverage1m: 0, usagePct: 1 } }))).toBe('stale');
    expect(await latest()).toEqual(full(10));
    expect(await send(delta(15, 10))).toBe('stored');
    expect(await send(delta(16, 0))).toBe('unknown-base');
  });

  it('a full sample older than the latest but newer than the base becomes the base only', async () => {
    await send(full(0));
    await send(delta(20, 0, { cpu: { usagePct: 77 } }));
    expect(await send(full(10))).toBe('stored'); // overtaken by the delta on the way
    expect((await latest())?.at).toBe(at(20));
    expect(await send(delta(25, 10))).toBe('stored');
    expect(await latest()).toMatchObject({ at: at(25), cpu: { usagePct: 10 } });
  });

  it('invalid deltas are counted as malformed and ingest goes on', async () => {
    await send(full(0));
    const logged = logs.length;
    expect(await send({ ...delta(5, 0), cpu: 'busy' })).toBe('malformed');
    expect(await send({ ...delta(5, 0), cpu: { temperature: 40 } })).toBe('malformed');
    expect(await send({ ...delta(5, 0), deviceId: 'pump-18' })).toBe('malformed');
    expect(await send('{"base": ')).toBe('malformed');
    expect((await status.metrics())['ingest.telemetry.malformed']).toBe(4);
    expect(logs.slice(logged).filter((l) => l.msg === 'malformed device message dropped')[0]?.reason).toMatch(/^TelemetryDelta: cpu: /);
    expect(logs.slice(logged).filter((l) => l.msg === 'ingest failed')).toEqual([]);
    expect(await send(delta(6, 0, { cpu: { usagePct: 12 } }))).toBe('stored');
    expect((await latest())?.cpu.usagePct).toBe(12);
  });

  it('concurrent deltas and full samples: the latest is the newest, merged onto the base it names', async () => {
    await send(full(0));
    const messages: object[] = [];
    for (let m = 1; m <= 60; m++) messages.push(m % 20 === 0 ? full(m, { cpu: { cores: 4, loadAverage1m: 0, usagePct: m } }) : delta(m, m - (m % 20), { cpu: { usagePct: m } }));
    await Promise.all(messages.map((m) => send(m)));
    expect(await latest()).toMatchObject({ at: at(60), cpu: { usagePct: 60 } });
    expect(await client.hget(keys.status(id), 'telemetryBaseAtMs')).toBe(String(Date.parse(at(60))));
  });
});
