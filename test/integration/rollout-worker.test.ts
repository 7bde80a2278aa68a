import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Job } from 'bullmq';
import { DeploymentStore } from '../../controller/registry/deployment-store.js';
import { DeviceStore } from '../../controller/registry/device-store.js';
import { Keys } from '../../controller/registry/keys.js';
import { createRollout } from '../../controller/rollout/create-rollout.js';
import { RolloutSpec } from '../../controller/rollout/model.js';
import { RolloutEffects } from '../../controller/rollout/rollout-effects.js';
import type { HeldLock } from '../../controller/rollout/rollout-lock.js';
import { RolloutScheduler } from '../../controller/rollout/rollout-scheduler.js';
import { RolloutStore } from '../../controller/rollout/rollout-store.js';
import { RolloutTicker } from '../../controller/rollout/rollout-tick.js';
import { RolloutWorker } from '../../controller/rollout/rollout-worker.js';
import { silentLogger } from '../../shared/logger.js';
import { freshId } from '../helpers/api.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';

const HELD: HeldLock = { held: true, release: async () => undefined };

/**
 * A controller killed between a tick's effects (devices moved, versions
 * published) and its save re-plans the same step: no device gets a second
 * version. Simulated deterministically with a store whose first save fails.
 */
describe('rollout tick after a crash between effects and save', () => {
  let rig: ControlPlaneRig;
  let redis: Redis;

  beforeAll(async () => {
    rig = await startControlPlane();
    redis = new Redis(rig.redis.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await rig?.close();
  });

  it('re-plans the same notify; versions are recorded, not bumped again', async () => {
    const cp = rig.controller.controlPlane;
    const app = freshId('app');
    const role = freshId('role');
    await cp.createRelease({ app, version: '1', workloads: { main: { image: 'busybox:1' } } });
    await cp.createRelease({ app, version: '2', workloads: { main: { image: 'busybox:2' } } });
    const ids = [freshId('d'), freshId('d'), freshId('d')];
    for (const id of ids) await cp.addDevice({ id, labels: { role } });
    await cp.createDeployment({ app, version: '1', target: { kind: 'selector', selector: `role=${role}` } });

    const keys = new Keys('outpost:');
    // The rollout's own keys under another prefix: the running controller's engine never sees this rollout.
    const store = new RolloutStore(redis, new Keys(`${freshId('sim')}:`));
    const devices = new DeviceStore(redis, keys, Date.now);
    const spec = RolloutSpec.parse({ id: freshId('ro'), app, toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: ['100%'] } });
    const state = createRollout(spec.id ?? 'x', spec, ids.map((id) => ({ id, labels: { role } })), new Date());
    await store.create(state);

    let crash = true;
    const crashing = Object.create(store) as RolloutStore;
    crashing.save = async (next, expected) => {
      if (crash) {
        crash = false;
        throw new Error('kill -9 before the save');
      }
      return store.save(next, expected);
    };
    const dedicated = new Redis(rig.redis.url);
    try {
      const ticker = new RolloutTicker({
        store: crashing,
        devices,
        status: rig.controller.status,
        effects: new RolloutEffects({ redis, keys, deployments: new DeploymentStore(dedicated, keys, Date.now), publisher: rig.controller.publisher, logger: silentLogger() }),
        publishStatus: async () => undefined,
        now: Date.now,
        logger: silentLogger(),
      });
      await expect(ticker.tick(state.id, HELD)).rejects.toThrow(/kill -9/);
      // The effects happened: every device has its one new version, the state does not know yet.
      for (const id of ids) expect((await cp.desiredOf(id))?.version).toBe(2);
      expect((await store.require(state.id)).devices[ids[0]!]?.status).toBe('pending');

      const result = await ticker.tick(state.id, HELD);
      expect(result.kind).toBe('continue');
      const saved = await store.require(state.id);
      for (const id of ids) {
        expect(saved.devices[id]).toMatchObject({ status: 'notified', version: 2 });
        expect((await cp.desiredOf(id))?.version).toBe(2);
        expect(await redis.get(keys.version(id))).toBe('2');
      }
      // And once more: nothing changes.
      await ticker.tick(state.id, HELD);
      expect((await store.require(state.id)).revision).toBe(saved.revision);
    } finally {
      dedicated.disconnect();
    }
  });
});

/** Workers have failed to resume after Redis restarts (bullmq #2466, #2964): the health check replaces them. */
describe('rollout worker health check', () => {
  let server: RedisServer;
  let bull: Redis;
  let plain: Redis;
  let scheduler: RolloutScheduler;
  let worker: RolloutWorker;
  const seen: string[] = [];

  beforeAll(async () => {
    server = await startRedis({ appendonly: true });
    bull = new Redis(server.url, { maxRetriesPerRequest: null });
    plain = new Redis(server.url, { maxRetriesPerRequest: 3 });
    const keys = new Keys('hc:');
    scheduler = new RolloutScheduler({ connection: bull, redis: plain, keys, logger: silentLogger(), now: Date.now });
    worker = new RolloutWorker({
      redisUrl: server.url,
      prefix: keys.bullPrefix(),
      queue: scheduler.queue,
      process: async (job: Job) => void seen.push(String(job.id)),
      logger: silentLogger(),
      now: Date.now,
      stuckAfterMs: 2_000,
    });
    worker.start();
  });
  afterAll(async () => {
    await worker?.close();
    await scheduler?.close();
    bull?.disconnect();
    plain?.disconnect();
    await server?.stop();
  });

  const processed = (rolloutId: string) =>
    waitFor(() => seen.some((j) => j.startsWith(`tick-${rolloutId}-`)), { timeoutMs: 30_000, intervalMs: 200, description: `tick of ${rolloutId} processed` });

  it('recreates a worker that stopped running, and the jobs are processed', async () => {
    await scheduler.kick('first');
    await processed('first');
    // Behind the engine's back, as a crashed run loop would leave it.
    await (worker as unknown as { worker: { close(force: boolean): Promise<void> } }).worker.close(true);
    await waitFor(() => !worker.running, { description: 'inner worker stopped' });
    await worker.check();
    expect(worker.recreated).toBe(1);
    expect(worker.running).toBe(true);
    await scheduler.kick('second');
    await processed('second');
  });

  it('after a Redis restart, jobs are processed again (by the same worker or a recreated one)', async () => {
    await server.kill9();
    await server.restart();
    const timer = setInterval(() => void worker.check(), 500);
    try {
      await waitFor(
        async () => {
          await scheduler.kick('after-restart');
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 500, description: 'queue reachable again' },
      );
      await processed('after-restart');
    } finally {
      clearInterval(timer);
    }
  });
});
