import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PacketSeal } from '../../broker/persistence/packet-seal.js';
import { persistenceInstance, type PersistenceInstance } from '../helpers/persistence-instance.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { keysHolding } from '../helpers/redis-scan.js';

/**
 * DD-047: the outpost persistence with a store key, on a real Redis: what it
 * stores holds no payload in clear, survives a restart, reads what was stored
 * in clear before the key was set, and drops (never crashes on) what another
 * key sealed.
 */

interface Instance extends PersistenceInstance {
  unreadable: string[];
}

async function instance(redis: RedisServer, brokerId: string, seal: PacketSeal | undefined): Promise<Instance> {
  const unreadable: string[] = [];
  const { persistence, broker } = await persistenceInstance(redis.url, brokerId, {
    ...(seal ? { seal } : {}),
    onUnreadable: (kind) => void unreadable.push(kind),
  });
  return { persistence, broker, unreadable };
}

const DEVICE = 'd-7f3a';
const DESIRED = `outpost/v1/devices/${DEVICE}/desired`;
const sub = (topic: string) => ({ topic, qos: 1, rh: 0, rap: false, nl: false });
const publish = (broker: Instance['broker'], payload: string, retain = false) => ({
  cmd: 'publish',
  topic: DESIRED,
  payload: Buffer.from(payload),
  qos: 1,
  retain,
  dup: false,
  brokerId: broker.id,
  brokerCounter: ++broker.counter,
});

async function drain(stream: AsyncIterable<unknown>): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for await (const item of stream) out.push(item as Record<string, unknown>);
  return out;
}

/** Stores one of everything that carries a payload: retained, queued, in flight, inbound QoS 2, will. */
async function storeAll(at: Instance, marker: string): Promise<void> {
  const { persistence, broker } = at;
  await persistence.addSubscriptions({ id: DEVICE }, [sub(DESIRED)]);
  await persistence.storeRetained(publish(broker, `retained ${marker}`, true));
  await persistence.outgoingEnqueueCombi([{ clientId: DEVICE }], publish(broker, `queued ${marker}`));
  const inFlight = publish(broker, `in flight ${marker}`);
  await persistence.outgoingEnqueueCombi([{ clientId: DEVICE }], inFlight);
  await persistence.outgoingUpdate({ id: DEVICE }, { ...inFlight, messageId: 42 });
  await persistence.incomingStorePacket({ id: DEVICE }, { ...publish(broker, `incoming ${marker}`), messageId: 7 });
  await persistence.putWill({ id: DEVICE }, { cmd: 'publish', topic: `outpost/v1/devices/${DEVICE}/status`, payload: Buffer.from(`will ${marker}`), qos: 1, retain: true });
}

/** Reads back everything storeAll stored, as payload strings. */
async function readAll(at: Instance): Promise<string[]> {
  const { persistence } = at;
  const retained = await drain(persistence.createRetainedStreamCombi([DESIRED]));
  const queued = await drain(persistence.outgoingStream({ id: DEVICE }));
  const incoming = await persistence.incomingGetPacket({ id: DEVICE }, { messageId: 7 }).then(
    (p) => [p],
    () => [],
  );
  const will = await persistence.getWill({ id: DEVICE });
  return [...retained, ...queued, ...incoming, ...(will ? [will] : [])].map((p) => String(p['payload']));
}

describe('broker store key (DD-047)', () => {
  it('stores no payload in clear, and everything survives a restart with the same key', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const key = randomBytes(32);
    const first = await instance(redis, 'b1', new PacketSeal(key));
    const marker = `marker-${randomBytes(6).toString('hex')}`;
    await storeAll(first, marker);

    expect(await keysHolding(redis.url, marker)).toEqual([]);
    // Not blind: the same scan finds the device id, which subscriptions keep in clear.
    expect(await keysHolding(redis.url, DEVICE)).toEqual(expect.arrayContaining([`t:subs:${DEVICE}`, 't:clients']));
    await first.persistence.destroy();

    const second = await instance(redis, 'b2', new PacketSeal(key));
    expect(await readAll(second)).toEqual([`retained ${marker}`, `queued ${marker}`, `in flight ${marker}`, `incoming ${marker}`, `will ${marker}`]);
    const acked = await second.persistence.outgoingClearMessageId({ id: DEVICE }, { messageId: 42 });
    expect(String(acked?.['payload'])).toBe(`in flight ${marker}`);
    expect(second.unreadable).toEqual([]);
  });

  it('reads what was stored in clear before the key was set, and seals what it stores next', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const before = await instance(redis, 'b1', undefined);
    const marker = `clear-${randomBytes(6).toString('hex')}`;
    await storeAll(before, marker);
    expect((await keysHolding(redis.url, marker)).length).toBeGreaterThanOrEqual(4);
    await before.persistence.destroy();

    const after = await instance(redis, 'b2', new PacketSeal(randomBytes(32)));
    expect(await readAll(after)).toEqual([`retained ${marker}`, `queued ${marker}`, `in flight ${marker}`, `incoming ${marker}`, `will ${marker}`]);
    const next = `sealed-${randomBytes(6).toString('hex')}`;
    await after.persistence.storeRetained(publish(after.broker, `retained ${next}`, true));
    expect(await keysHolding(redis.url, next)).toEqual([]);
    expect(after.unreadable).toEqual([]);
  });

  it('drops what another key sealed, counts it, and keeps serving the rest', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const sealed = await instance(redis, 'b1', new PacketSeal(randomBytes(32)));
    await storeAll(sealed, 'old-key');
    await sealed.persistence.destroy();

    const other = await instance(redis, 'b2', new PacketSeal(randomBytes(32)));
    const otherTopic = 'outpost/v1/devices/d-other/desired';
    await other.persistence.storeRetained({ ...publish(other.broker, 'readable', true), topic: otherTopic });
    expect((await drain(other.persistence.createRetainedStreamCombi([DESIRED, otherTopic]))).map((p) => String(p['payload']))).toEqual(['readable']);
    expect(await readAll(other)).toEqual([]);
    expect([...other.unreadable].sort()).toEqual(['incoming', 'queue', 'queue', 'retained', 'retained', 'will']);
    // Dropped, not left to trip every CONNECT: the queue is empty now, and nothing is counted again.
    expect(await drain(other.persistence.outgoingStream({ id: DEVICE }))).toEqual([]);
    expect(other.unreadable).toHaveLength(6);
    // And a broker without any key reports them too instead of crashing.
    const none = await instance(redis, 'b3', undefined);
    expect(await drain(none.persistence.createRetainedStreamCombi([DESIRED]))).toEqual([]);
    expect(none.unreadable).toEqual(['retained']);
  });
});

