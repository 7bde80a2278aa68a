import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confirmChunk, storeChunk } from '../../controller/desired-state/desired-scripts.js';
import { Keys } from '../../controller/registry/keys.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

/** The per-chunk store and confirm scripts (DD-033): one call per chunk, every device judged alone. */
describe('desired documents stored and confirmed a chunk at a time', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  const template = (id: string, image: string): string => JSON.stringify({ protocol: 1, deviceId: id, version: 1, issuedAt: '2026-01-01T00:00:00.000Z', workloads: { w: { image } } });

  it('refuses a tombstoned device and a stale generation alone; the rest of the chunk is stored', async () => {
    const keys = new Keys(`chunk${Date.now()}a:`);
    const ids = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5'];
    for (const id of ids.filter((i) => i !== 'c-5')) await redis.set(keys.device(id), '{}');
    // c-2's decommission began mid-way; c-3 was stored by a controller that read a newer generation; c-5 is gone.
    await redis.set(keys.deviceTombstone('c-2'), '1');
    await redis.hset(keys.desired('c-3'), { hash: 'h-newer', version: '7', gen: '50', doc: '{}' });
    const items = ids.map((id) => ({ deviceId: id, hash: 'h-1', template: template(id, 'img:1') }));
    const results = await storeChunk(redis, keys, items, 40, '2026-01-01T00:00:00.000Z', '');
    expect(results.map((r) => r.kind)).toEqual(['stored', 'gone', 'stale', 'stored', 'gone']);
    const stored = results.filter((r) => r.kind === 'stored');
    for (const r of stored) {
      expect(r.version).toBe(1);
      expect(JSON.parse(r.payload)).toMatchObject({ deviceId: r.deviceId, version: 1 });
      expect(await redis.hget(keys.desired(r.deviceId), 'doc')).toBe(r.payload);
    }
    expect((await redis.smembers(keys.unpublished())).sort()).toEqual(['c-1', 'c-4']);
    expect(await redis.exists(keys.desired('c-2'), keys.version('c-2'), keys.version('c-3'))).toBe(0);
    expect(await redis.hget(keys.desired('c-3'), 'hash')).toBe('h-newer');

    // Same content again at a newer generation: unchanged, version kept, generation raised.
    const again = await storeChunk(redis, keys, items.slice(0, 1), 41, '2026-01-01T00:00:01.000Z', '');
    expect(again).toEqual([{ kind: 'unchanged', deviceId: 'c-1' }]);
    expect(await redis.hmget(keys.desired('c-1'), 'version', 'gen')).toEqual(['1', '41']);

    // The wipe of a decommission is stored despite the tombstone.
    const wipe = await storeChunk(redis, keys, [{ deviceId: 'c-2', hash: 'wipe', template: template('c-2', 'none') }], 41, '2026-01-01T00:00:01.000Z', 'wipe');
    expect(wipe[0]?.kind).toBe('stored');
  });

  it('confirms only the versions still stored, and records expiries of signed copies', async () => {
    const keys = new Keys(`chunk${Date.now()}b:`);
    for (const id of ['k-1', 'k-2', 'k-3']) await redis.set(keys.device(id), '{}');
    const items = ['k-1', 'k-2', 'k-3'].map((id) => ({ deviceId: id, hash: 'h', template: template(id, 'img') }));
    await storeChunk(redis, keys, items, 1, '2026-01-01T00:00:00.000Z', '');
    // k-2 was stored again (version 2) before its version-1 PUBACK was recorded.
    await storeChunk(redis, keys, [{ deviceId: 'k-2', hash: 'h2', template: template('k-2', 'img2') }], 2, '2026-01-01T00:00:00.000Z', '');
    const n = await confirmChunk(redis, keys, [
      { deviceId: 'k-1', version: 1, expiresAtMs: 5000 },
      { deviceId: 'k-2', version: 1, expiresAtMs: 5000 },
      { deviceId: 'k-3', version: 1, expiresAtMs: null },
    ]);
    expect(n).toBe(2);
    expect(await redis.smembers(keys.unpublished())).toEqual(['k-2']);
    expect(await redis.hget(keys.desired('k-1'), 'published')).toBe('1');
    expect(await redis.hget(keys.desired('k-2'), 'published')).toBeNull();
    expect(await redis.zrange(keys.expiries(), 0, -1, 'WITHSCORES')).toEqual(['k-1', '5000']);
  });

  it('splits a chunk larger than one script call', async () => {
    const keys = new Keys(`chunk${Date.now()}c:`);
    const ids = Array.from({ length: 2100 }, (_, i) => `big-${i}`);
    const p = redis.pipeline();
    for (const id of ids) p.set(keys.device(id), '{}');
    await p.exec();
    const results = await storeChunk(redis, keys, ids.map((id) => ({ deviceId: id, hash: 'h', template: template(id, 'img') })), 1, '2026-01-01T00:00:00.000Z', '');
    expect(results.every((r, i) => r.kind === 'stored' && r.deviceId === ids[i])).toBe(true);
    expect(await redis.scard(keys.unpublished())).toBe(2100);
    expect(await confirmChunk(redis, keys, ids.map((id) => ({ deviceId: id, version: 1, expiresAtMs: 1 })))).toBe(2100);
    expect(await redis.scard(keys.unpublished())).toBe(0);
    expect(await redis.zcard(keys.expiries())).toBe(2100);
  });
});
