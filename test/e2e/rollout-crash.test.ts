import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout } from '../../cli/client/rollout-client.js';
import { startBrokerRig, startControllerProcess, type BrokerRig, type ControllerProcess } from '../helpers/controller-process.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { assertWavesInOrder, logCount, RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * kill -9 of the controller (a real `outpost controller` process) in the
 * middle of a wave, twice, and restarts: the rollout finishes, no device gets
 * two version bumps for one step, no wave is skipped or evaluated twice.
 */
describe('rollout survives kill -9 of the controller', () => {
  let rig: BrokerRig;
  let fleet: RolloutFleet;
  let controller: ControllerProcess;
  const outputs: string[] = [];
  const role = `crash-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}), controller: controller?.proc.output() ?? '' }));

  const start = async (apiPort?: number): Promise<void> => {
    controller = await startControllerProcess({
      name: 'controller',
      redisUrl: rig.redis.url,
      brokerUrl: rig.brokerUrl,
      servicePassword: rig.servicePassword,
      adminToken: rig.adminToken,
      extraArgs: ['--rollout-poll', '0.5'],
      ...(apiPort !== undefined ? { apiPort } : {}),
    });
  };
  const kill9 = async (): Promise<void> => {
    controller.proc.kill('SIGKILL');
    await controller.proc.waitForExit(10_000);
    outputs.push(controller.proc.output());
    await start(controller.apiPort);
  };

  beforeAll(async () => {
    rig = await startBrokerRig();
    await start();
    fleet = await RolloutFleet.start({ api: { url: controller.apiUrl, token: rig.adminToken }, brokerUrl: rig.brokerUrl, serviceAuth: rig.serviceAuth, prefix: 'cr', count: 4, labels: () => ({ role }) });
    await fleet.client.createRelease({ app: 'gw', version: '1', workloads: { relay: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
    await fleet.client.createRelease({ app: 'gw', version: '2', workloads: { relay: { image: TEST_IMAGE_2, stopTimeoutSeconds: 1 } } });
    await fleet.client.createDeployment({ app: 'gw', version: '1', target: { kind: 'selector', selector: `role=${role}` } });
    await Promise.all(fleet.ids.map((id) => fleet.converged(id, 1)));
  });

  afterAll(async () => {
    await fleet?.close();
    await controller?.proc.stop();
    await rig?.close();
  });

  it('finishes after kill -9 mid-wave, with one version per device and every wave evaluated once, in order', async () => {
    const id = `gw-2-${role}`;
    await createRollout(fleet.client, { id, app: 'gw', toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, 2, '100%'] } });

    // Kill while wave 1 is in progress: started, its device moved, not yet succeeded.
    await waitFor(
      async () => {
        const r = await fleet.rollout(id);
        const w = r.waves[1];
        return w?.startedAt && w.counts.succeeded === 0 && w.counts.pending + w.counts.notified + w.counts.applying > 0;
      },
      { timeoutMs: 60_000, intervalMs: 50, description: 'wave 1 in progress' },
    );
    await kill9();
    // And once more, a moment after the restart, wherever the rollout is by then.
    await new Promise((r) => setTimeout(r, 500 + Math.floor(Math.random() * 1500)));
    await kill9();

    const done = await fleet.waitForPhase(id, ['succeeded', 'paused'], 90_000);
    expect(done.phase).toBe('succeeded');
    expect(assertWavesInOrder(done)).toEqual([]);
    expect(done.waves.map((w) => [w.size, w.outcome])).toEqual([
      [1, 'passed'],
      [1, 'passed'],
      [2, 'passed'],
    ]);
    for (const deviceId of fleet.ids) {
      await fleet.converged(deviceId, 2);
      // One new version for the one step: no device was bumped twice, whatever the kills interrupted.
      expect(fleet.received(deviceId)).toEqual([1, 2]);
      expect(await fleet.desiredVersion(deviceId)).toBe(2);
    }
    expect(done.devices.every((d) => d.status === 'succeeded' && d.version === 2)).toBe(true);

    // Across every controller process: each wave advanced once, the rollout finished once.
    const all = [...outputs, controller.proc.output()];
    expect(logCount(all, 'rollout advanced to the next wave')).toBe(2);
    expect(all.join('\n').split('\n').filter((l) => l.includes('"msg":"rollout phase changed"') && l.includes('"phase":"succeeded"'))).toHaveLength(1);
  });
});
