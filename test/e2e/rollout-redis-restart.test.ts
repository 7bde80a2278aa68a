import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { createRollout } from '../../cli/client/rollout-client.js';
import { startBrokerRig, startControllerProcess, type BrokerRig, type ControllerProcess } from '../helpers/controller-process.js';
import { containerCreates, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { assertWavesInOrder, logCount, RolloutFleet } from '../helpers/rollout-fleet.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 13 F2: Redis (AOF, `appendfsync always`) goes away twice in the
 * middle of a rollout — a restart (SIGTERM) while wave 1 runs, a kill -9
 * while wave 2 runs — under a real `outpost controller` and real agents.
 * The rollout resumes and succeeds, every wave is started and evaluated
 * once and in order, every device converges with exactly one new version,
 * and the history checker finds nothing lost, repeated or unexpected.
 * On the Outpost broker its sessions and retained documents live in the
 * same Redis, so the broker rides out the outages too; on Mosquitto only
 * the controller does.
 */
describe('rollout survives Redis restarts (F2)', () => {
  let rig: BrokerRig;
  let fleet: RolloutFleet;
  let controller: ControllerProcess;
  const role = `redis-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(fleet?.outputs() ?? {}), controller: controller?.proc.output() ?? '' }));

  beforeAll(async () => {
    rig = await startBrokerRig({ redis: { appendonly: true, appendfsync: 'always' } });
    controller = await startControllerProcess({
      name: 'controller',
      redisUrl: rig.redis.url,
      brokerUrl: rig.brokerUrl,
      servicePassword: rig.servicePassword,
      adminToken: rig.adminToken,
      extraArgs: ['--rollout-poll', '0.5'],
      bufferLines: 20_000,
    });
    fleet = await RolloutFleet.start({ api: { url: controller.apiUrl, token: rig.adminToken }, brokerUrl: rig.brokerUrl, serviceAuth: rig.serviceAuth, prefix: 'rr', count: 4, labels: () => ({ role }) });
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

  /** Waits until wave `index` has started and not all of its devices are done. */
  const waveInProgress = (id: string, index: number): Promise<unknown> =>
    waitFor(
      async () => {
        const r = await fleet.rollout(id);
        const w = r.waves[index];
        return w?.startedAt && w.counts.pending + w.counts.notified + w.counts.applying > 0;
      },
      { timeoutMs: 60_000, intervalMs: 50, description: `wave ${index} in progress` },
    );

  /** Redis goes down (`how`), stays down until the controller has noticed, then comes back on the same port and data. */
  const outage = async (how: 'terminate' | 'kill9'): Promise<void> => {
    const errorsBefore = logCount([controller.proc.output()], 'controller redis error');
    await (how === 'terminate' ? rig.redis.terminate() : rig.redis.kill9());
    await waitFor(() => logCount([controller.proc.output()], 'controller redis error') > errorsBefore, {
      timeoutMs: 30_000,
      description: 'the controller noticed Redis is gone',
    });
    await rig.redis.restart();
  };

  it('resumes and finishes: no wave skipped or run twice, one version per device, checker clean', async () => {
    const since = Date.now() / 1000;
    const id = `gw-2-${role}`;
    await createRollout(fleet.client, { id, app: 'gw', toVersion: '2', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, 2, '100%'] } });

    await waveInProgress(id, 1);
    await outage('terminate');
    await waveInProgress(id, 2);
    await outage('kill9');

    const done = await fleet.waitForPhase(id, ['succeeded', 'paused'], 120_000);
    expect(done.phase).toBe('succeeded');
    expect(assertWavesInOrder(done)).toEqual([]);
    expect(done.waves.map((w) => [w.size, w.outcome])).toEqual([
      [1, 'passed'],
      [1, 'passed'],
      [2, 'passed'],
    ]);
    expect(done.devices.every((d) => d.status === 'succeeded' && d.version === 2)).toBe(true);
    expect(logCount([controller.proc.output()], 'rollout advanced to the next wave')).toBe(2);
    expect(controller.proc.output().split('\n').filter((l) => l.includes('"msg":"rollout phase changed"') && l.includes('"phase":"succeeded"'))).toHaveLength(1);

    const v2Hash = expectedHash({ image: TEST_IMAGE_2, stopTimeoutSeconds: 1 });
    for (const deviceId of fleet.ids) {
      await fleet.converged(deviceId, 2);
      // From the agent's own log: its events of the instant Redis was killed may not reach the observer (agentReceived).
      expect(fleet.agentReceived(deviceId)).toEqual([1, 2]);
      expect(await fleet.desiredVersion(deviceId)).toBe(2);
      const creates = await containerCreates(deviceId, since);
      expect(creates.filter((c) => c.specHash === v2Hash)).toHaveLength(1);
      const verdict = checkHistory(deviceId, {
        published: [...fleet.agentReceived(deviceId), (await fleet.desiredVersion(deviceId)) ?? 0],
        applied: fleet.watches[deviceId]!.reports.map((r) => r.desired.appliedVersion),
        creates,
      });
      expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
    }
  });
});
