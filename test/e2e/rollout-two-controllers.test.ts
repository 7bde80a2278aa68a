import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/client/api-client.js';
import { createRollout, getRollout, operateRollout } from '../../cli/client/rollout-client.js';
import { startBrokerRig, startControllerProcess, type BrokerRig, type ControllerProcess } from '../helpers/controller-process.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { assertWavesInOrder, logCount, RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Two controller processes on the same Redis and broker at once, both
 * running the rollout worker: the outcome is the same as with one — each
 * device notified once with one new version, waves in order, succeeded —
 * and operations through either API steer the same rollout.
 */
describe('rollout with two controllers', () => {
  let rig: BrokerRig;
  let fleet: RolloutFleet;
  const controllers: ControllerProcess[] = [];
  const role = `two-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}), ...Object.fromEntries(controllers.map((c, i) => [`controller ${i}`, c.proc.output()])) }));

  beforeAll(async () => {
    rig = await startBrokerRig();
    for (const name of ['controller-a', 'controller-b']) {
      controllers.push(
        await startControllerProcess({
          name,
          redisUrl: rig.redis.url,
          brokerUrl: rig.brokerUrl,
          servicePassword: rig.servicePassword,
          adminToken: rig.adminToken,
          extraArgs: ['--rollout-poll', '0.5'],
        }),
      );
    }
    fleet = await RolloutFleet.start({ api: { url: controllers[0]!.apiUrl, token: rig.adminToken }, brokerUrl: rig.brokerUrl, serviceAuth: rig.serviceAuth, prefix: 'two', count: 4, labels: () => ({ role }) });
    await fleet.client.createRelease({ app: 'gw', version: '1', workloads: { relay: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
    await fleet.client.createRelease({ app: 'gw', version: '2', workloads: { relay: { image: TEST_IMAGE_2, stopTimeoutSeconds: 1 } } });
    await fleet.client.createDeployment({ app: 'gw', version: '1', target: { kind: 'selector', selector: `role=${role}` } });
    await Promise.all(fleet.ids.map((id) => fleet.converged(id, 1)));
  });

  afterAll(async () => {
    await fleet?.close();
    for (const c of controllers) await c.proc.stop();
    await rig?.close();
  });

  it('succeeds exactly as with one controller; pause and resume through different controllers', async () => {
    const b = new ApiClient({ baseUrl: controllers[1]!.apiUrl, token: rig.adminToken });
    const id = `gw-2-${role}`;
    await createRollout(fleet.client, { id, app: 'gw', toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, 2, '100%'] } });

    await waitFor(async () => (await getRollout(b, id)).waves[1]?.startedAt, { timeoutMs: 60_000, intervalMs: 100, description: 'wave 1 started' });
    const paused = await operateRollout(b, id, 'pause');
    expect(paused.phase).toBe('paused');
    // Paused: nothing more is notified, whichever controller ticks.
    const pending = paused.devices.filter((d) => d.status === 'pending').map((d) => d.deviceId);
    await new Promise((r) => setTimeout(r, 2_000));
    const still = await fleet.rollout(id);
    expect(still.phase).toBe('paused');
    for (const d of pending) expect(still.devices.find((x) => x.deviceId === d)?.status).toBe('pending');
    await operateRollout(fleet.client, id, 'resume');

    const done = await fleet.waitForPhase(id, ['succeeded'], 90_000);
    expect(assertWavesInOrder(done)).toEqual([]);
    expect(done.waves.map((w) => [w.size, w.outcome])).toEqual([
      [1, 'passed'],
      [1, 'passed'],
      [2, 'passed'],
    ]);
    for (const deviceId of fleet.ids) {
      await fleet.converged(deviceId, 2);
      expect(fleet.received(deviceId)).toEqual([1, 2]);
      expect(await fleet.desiredVersion(deviceId)).toBe(2);
    }

    const logs = controllers.map((c) => c.proc.output());
    expect(logCount(logs, 'rollout advanced to the next wave')).toBe(2);
    // Every device was notified exactly once, by one of the two.
    const notified = logs
      .join('\n')
      .split('\n')
      .filter((l) => l.includes('"msg":"rollout notified devices"'))
      .reduce((n, l) => n + Number(/"devices":(\d+)/.exec(l)?.[1] ?? 0), 0);
    expect(notified).toBe(4);
    expect((await getRollout(b, id)).revision).toBe(done.revision);
    // The lock serialized them: no tick failed, no write lost a revision race.
    expect(logCount(logs, 'rollout tick failed; BullMQ retries it')).toBe(0);
    expect(logCount(logs, 'rollout changed while a tick ran; planning again')).toBe(0);
  });
});
