import { Redis } from 'ioredis';
import mqemitterRedis from 'mqemitter-redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { OutpostPersistence } from '../../broker/persistence/outpost-persistence.js';
import { silentLogger } from '../../shared/logger.js';
import { persistenceInstance, type PersistenceInstance } from '../helpers/persistence-instance.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * DD-028 behaviour beyond aedes-persistence's abstract suite: what Outpost
 * relies on across restarts and brokers, on a real Redis.
 */

async function instance(redis: RedisServer, brokerId: string, options: { maxQueuedMessages?: number } = {}): Promise<PersistenceInstance> {
  return persistenceInstance(redis.url, brokerId, options);
}

const sub = (topic: string, qos = 1) => ({ topic, qos, rh: 0, rap: false, nl: false });
const publish = (broker: PersistenceInstance['broker'], payload: string) => ({
  cmd: 'publish',
  topic: 'devices/d1/commands',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  dup: false,
  brokerId: broker.id,
  brokerCounter: ++broker.counter,
});

async function drain(stream: AsyncIterable<unknown>): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for await (const item of stream) out.push(item as Record<string, unknown>);
  return out;
}

describe('OutpostPersistence (DD-028)', () => {
  it('a restarted broker loads every stored session into its subscription index', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const first = await instance(redis, 'b1');
    await first.persistence.addSubscriptions({ id: 'd1' }, [sub('devices/d1/desired'), sub('devices/d1/commands')]);
    await first.persistence.addSubscriptions({ id: 'svc' }, [sub('devices/+/reported'), sub('quiet', 0)]);
    await first.persistence.destroy();

    const second = await instance(redis, 'b2');
    expect(await second.persistence.subscriptionsByTopic('devices/d1/desired')).toEqual([expect.objectContaining({ clientId: 'd1', topic: 'devices/d1/desired', qos: 1 })]);
    expect(await second.persistence.subscriptionsByTopic('devices/d9/reported')).toEqual([expect.objectContaining({ clientId: 'svc', topic: 'devices/+/reported' })]);
    expect(await second.persistence.subscriptionsByTopic('quiet')).toEqual([]);
    expect(await second.persistence.countOffline()).toEqual({ subsCount: 3, clientsCount: 2 });
  });

  it("brokers on one Redis learn of each other's subscription changes, and ignore their own", async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const a = await instance(redis, 'a');
    const b = await instance(redis, 'b');
    await a.persistence.addSubscriptions({ id: 'd1' }, [sub('devices/d1/desired')]);
    await waitFor(async () => (await b.persistence.subscriptionsByTopic('devices/d1/desired')).length === 1, { description: 'b learns of the subscription' });
    await a.persistence.cleanSubscriptions({ id: 'd1' });
    await waitFor(async () => (await b.persistence.subscriptionsByTopic('devices/d1/desired')).length === 0, { description: 'b learns of the clean session' });
    // a's own message came back too: it must not have re-added anything.
    expect(await a.persistence.subscriptionsByTopic('devices/d1/desired')).toEqual([]);
  });

  it('keeps the newest maxQueuedMessages per queue, and an acknowledged or dropped entry is never recreated', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const { persistence, broker } = await instance(redis, 'b1', { maxQueuedMessages: 3 });
    const client = { id: 'd1' };
    const packets = Array.from({ length: 5 }, (_, i) => publish(broker, `m${i + 1}`));
    for (const p of packets) await persistence.outgoingEnqueueCombi([{ clientId: client.id }], p);
    const queued = await drain(persistence.outgoingStream(client));
    expect(queued.map((p) => String(p['payload']))).toEqual(['m3', 'm4', 'm5']);

    // A late update of a dropped message does not bring it back.
    await persistence.outgoingUpdate(client, { ...packets[0], messageId: 7 });
    await persistence.outgoingUpdate(client, { ...packets[2], messageId: 8 });
    expect(await persistence.outgoingClearMessageId(client, { messageId: 8 })).toMatchObject({ payload: Buffer.from('m3'), messageId: 8 });
    expect(await persistence.outgoingClearMessageId(client, { messageId: 8 })).toBeUndefined();
    await persistence.outgoingUpdate(client, { ...packets[2], messageId: 9 });
    expect((await drain(persistence.outgoingStream(client))).map((p) => String(p['payload']))).toEqual(['m4', 'm5']);
  });

  it('a will is one per client: CONNECT replaces it, and a named broker deletes only its own', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const old = await instance(redis, 'dead');
    await old.persistence.putWill({ id: 'd1' }, { topic: 'presence', payload: Buffer.from('offline-1') });
    await old.persistence.destroy();

    const now = await instance(redis, 'alive');
    expect(await drain(now.persistence.streamWill({ alive: Date.now() }))).toEqual([expect.objectContaining({ clientId: 'd1', brokerId: 'dead' })]);
    // aedes's CONNECT: delWill(client) without a broker id, then putWill.
    expect(await now.persistence.delWill({ id: 'd1' })).toMatchObject({ brokerId: 'dead' });
    await now.persistence.putWill({ id: 'd1' }, { topic: 'presence', payload: Buffer.from('offline-2') });
    // The will sweep of a late snapshot names the dead broker: the new will stays.
    expect(await now.persistence.delWill({ id: 'd1', brokerId: 'dead' })).toBeNull();
    expect(await now.persistence.getWill({ id: 'd1' })).toMatchObject({ brokerId: 'alive', payload: Buffer.from('offline-2') });
    expect(await drain(now.persistence.streamWill({ alive: Date.now() }))).toEqual([]);
  });

  it('a refused PUBREC leaves the queue entry a plain PUBLISH', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const mq = mqemitterRedis({ connectionString: redis.url });
    onTestFinished(() => new Promise<void>((resolve) => mq.close(() => resolve())));
    const broker = { id: 'b', counter: 0, publish: mq.emit.bind(mq), subscribe: mq.on.bind(mq), unsubscribe: mq.removeListener.bind(mq) } as unknown as PersistenceInstance['broker'];
    const persistence = new OutpostPersistence({ redis: new Redis(redis.url), keyPrefix: 't:', logger: silentLogger(), outboundQos2: false });
    await persistence.setup(broker);
    onTestFinished(() => persistence.destroy());
    const p = publish(broker, 'cmd');
    await persistence.outgoingEnqueueCombi([{ clientId: 'd1' }], p);
    await persistence.outgoingUpdate({ id: 'd1' }, { ...p, messageId: 3 });
    await expect(persistence.outgoingUpdate({ id: 'd1' }, { cmd: 'pubrel', messageId: 3 })).rejects.toMatchObject({ code: 'QOS_NOT_ALLOWED' });
    expect(await drain(persistence.outgoingStream({ id: 'd1' }))).toEqual([expect.objectContaining({ cmd: 'publish', messageId: 3 })]);
  });
});
