import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/**
 * A device reboots while its broker is unreachable: Docker comes back with no
 * containers, the agent starts with no network, and the workloads come back
 * from the cached desired state anyway.
 */
describe('offline autonomy', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  const web = { image: TEST_IMAGE, env: { V: '1' } };

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'auto');
    await rig.startAgent();
    await rig.publish(1, { web });
    await rig.converged(1);
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
  });

  it('workloads come back from the cache after a reboot with the broker unreachable', async () => {
    await rig.stopAgent();
    await controller.close();
    await broker.kill9();
    await removeDeviceContainers(rig.deviceId); // the reboot
    const rebootAt = Date.now();
    expect(await deviceContainers(rig.deviceId)).toEqual([]);

    const agent = await rig.startAgent();
    const containers = await waitFor(
      async () => {
        const cs = await deviceContainers(rig.deviceId);
        return cs.length === 1 && cs[0]?.state === 'running' ? cs : undefined;
      },
      { timeoutMs: 30_000, description: 'web container back without a broker' },
    );
    expect(containers[0]?.specHash).toBe(expectedHash(web));
    expect(agent.output()).toMatch(/reconciling cached desired state/);

    // The broker returns: the agent reconnects on its own and reports converged.
    await broker.restart();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    const watch = await controller.watch(rig.deviceId);
    // Only a report from the agent started after the reboot counts (the retained one from before is stale).
    await watch.waitForReport(
      (r) => r.phase === 'converged' && r.desired.appliedVersion === 1 && Date.parse(r.agent.startedAt) >= rebootAt,
      30_000,
      'converged after reconnect',
    );
    await controller.close();
  });
});
