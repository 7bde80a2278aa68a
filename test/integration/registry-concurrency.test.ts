import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialRecord } from '../../shared/device-credentials.js';
import { Keys } from '../../controller/registry/keys.js';
import { DeploymentStore } from '../../controller/registry/deployment-store.js';
import { DeviceStore } from '../../controller/registry/device-store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { DesiredWriter, type WriteOutcome } from '../../controller/desired-state/desired-writer.js';
import { prepareDeployments } from '../../controller/desired-state/compose-desired.js';
import { ServiceClient } from '../../controller/mqtt/service-client.js';
import { ReleaseStore } from '../../controller/registry/release-store.js';
import { RegistryTx } from '../../controller/registry/registry-tx.js';
import { silentLogger } from '../../shared/logger.js';
import { Topics } from '../../shared/topics.js';
import { startBrokerRig } from '../helpers/controller-process.js';

/**
 * Two controller processes (two connections), each with its device and
 * deployment stores sharing that process's one connection, as in
 * create-controller.ts. Transactions of different stores interleave on a
 * connection while the other process writes the same records. (With the
 * former WATCH/MULTI stores this lost updates or gave up with "too much
 * contention": one store's EXEC cleared the other's WATCH.)
 */
describe('registry writes under concurrency', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('transactions of different stores interleaved on one connection never lose an update, and each marks its change exactly once', async () => {
    const keys = new Keys(`cc${Date.now()}:`);
    const conns = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const procs = conns.map((c) => ({ devices: new DeviceStore(c, keys, Date.now), deployments: new DeploymentStore(c, keys, Date.now) }));
      const [p0] = procs;
      if (!p0) throw new Error('no process');
      await p0.devices.enrol('dev-a', {}, credentialRecord('s'.repeat(32)));
      const gen0 = Number(await conns[0]?.get(keys.generation()));
      const spec = { app: 'kiosk', version: '1', priority: 5 };
      const N = 150;
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        for (const [p, proc] of procs.entries()) {
          work.push(proc.devices.setLabels('dev-a', { [`l${p}-${i}`]: 'x' }, []));
          work.push(proc.deployments.addDevices('dep-x', spec, [`m${p}-${i}`]));
          work.push(proc.devices.setOverrides('dev-a', (o) => ({ ...o, env: { ...o.env, [`E${p}_${i}`]: 'y' } })));
        }
      }
      await Promise.all(work);
      const device = await p0.devices.require('dev-a');
      const deployment = await p0.deployments.require('dep-x');
      const members = deployment.target.kind === 'devices' ? deployment.target.devices : [];
      expect(Object.keys(device.labels)).toHaveLength(2 * N);
      expect(Object.keys(device.overrides.env)).toHaveLength(2 * N);
      expect(new Set(members).size).toBe(2 * N);
      expect(members).toHaveLength(2 * N);
      // Every committed change raised the generation once, in the same step as its write.
      expect(Number(await conns[0]?.get(keys.generation())) - gen0).toBe(3 * 2 * N);
      // And marked what it affects dirty: the device, and every device added to the deployment.
      const dirty = await conns[0]?.zrange(keys.dirty(), 0, -1);
      expect(dirty).toContain('d:dev-a');
      for (const m of members) expect(dirty).toContain(`d:${m}`);
    } finally {
      for (const c of conns) c.disconnect();
    }
  });

  it('a deployment created twice with the same id and content is one deployment; other content is a conflict', async () => {
    const keys = new Keys(`cd${Date.now()}:`);
    const conns = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const stores = conns.map((c) => new DeploymentStore(c, keys, Date.now));
      const input = { id: 'dep-same', app: 'kiosk', version: '1', target: { kind: 'selector' as const, selector: 'role=kiosk' }, priority: 0 };
      const results = await Promise.all([...stores, ...stores].map((s) => s.create(input)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.deployment.seq)).size).toBe(1);
      await expect(stores[0]?.create({ ...input, version: '2' })).rejects.toMatchObject({ code: 'DEPLOYMENT_EXISTS' });
      const removed = await Promise.all(stores.map((s) => s.remove('dep-same')));
      expect(removed.map((r) => r.alreadyRemoved).sort()).toEqual([false, true]);
      await expect(stores[0]?.remove('never-was')).rejects.toMatchObject({ code: 'DEPLOYMENT_NOT_FOUND' });
    } finally {
      for (const c of conns) c.disconnect();
    }
  });

  it('the version counter is only ever raised: an atomic max racing increments never lowers it', async () => {
    const keys = new Keys(`cm${Date.now()}:`);
    const conns = [new Redis(redis.url), new Redis(redis.url)];
    try {
      const [a, b] = conns as [Redis, Redis];
      const counter = keys.version('dev-m');
      await a.set(counter, '10');
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        work.push(a.incr(counter));
        if (i % 4 === 0) work.push(new RegistryTx(b, keys).max(counter, 11 + (i % 50)).commit());
      }
      await Promise.all(work);
      // Every increment counted: had a lift lowered the counter, some would be lost (and versions reused).
      expect(Number(await a.get(counter))).toBeGreaterThanOrEqual(210);
    } finally {
      for (const c of conns) c.disconnect();
    }
  });

  it('a document composed from an older registry generation is never stored over a newer one', async () => {
    const rig = await startBrokerRig();
    const conn = new Redis(rig.redis.url);
    const mqtt = new ServiceClient(
      { brokerUrl: rig.brokerUrl, username: 'svc:outpost', password: rig.servicePassword, clientId: 'svc:writer-test', subscriptions: [] },
      async () => undefined,
      silentLogger(),
    );
    try {
      await mqtt.start();
      const keys = new Keys('outpost:');
      const devices = new DeviceStore(conn, keys, Date.now);
      const deployments = new DeploymentStore(conn, keys, Date.now);
      const releases = new ReleaseStore(conn, keys, Date.now);
      const writer = new DesiredWriter({ redis: conn, keys, topics: new Topics(), mqtt, logger: silentLogger(), now: Date.now });
      await releases.create({ app: 'gen', version: '1', workloads: { main: { image: 'busybox:1' } } });
      await releases.create({ app: 'gen', version: '2', workloads: { main: { image: 'busybox:2' } } });
      const device = await devices.enrol('gen-dev', { role: 'x' }, credentialRecord('s'.repeat(32)));
      await deployments.create({ id: 'gen-1', app: 'gen', version: '1', target: { kind: 'selector', selector: 'role=x' } });
      const generation = async () => Number(await conn.get(keys.generation()));
      const write = async (gen: number) => {
        const out: WriteOutcome = { published: [], unchanged: 0, pending: [], superseded: 0, problems: {} };
        const ctx = { generation: gen, deployments: prepareDeployments(await deployments.all()), releases: await releases.byRefs(['gen@1', 'gen@2']), stillHeld: () => true };
        return { ctx, out, run: () => writer.write([device], ctx, out) };
      };
      // Controller A reads the registry at generation g1 (release 1) ...
      const stale = await write(await generation());
      // ... controller B sees the newer deployment (release 2) and stores it first.
      await deployments.create({ id: 'gen-2', app: 'gen', version: '2', target: { kind: 'selector', selector: 'role=x' }, priority: 5 });
      const fresh = await write(await generation());
      await fresh.run();
      expect(fresh.out.published).toEqual([{ deviceId: 'gen-dev', version: 1 }]);
      // A's composition, older, arrives late: refused, no version spent.
      await stale.run();
      expect(stale.out).toMatchObject({ published: [], superseded: 1 });
      expect(await conn.get(keys.version('gen-dev'))).toBe('1');
      const stored = JSON.parse((await conn.hget(keys.desired('gen-dev'), 'doc')) ?? '{}') as { workloads: Record<string, { image: string }> };
      expect(stored.workloads['gen-main']?.image).toBe('busybox:2');
    } finally {
      await mqtt.close();
      conn.disconnect();
      await rig.close();
    }
  });
});
