import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { pushToRegistry, TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

/**
 * kill -9 of the agent in the middle of an update, right after each kind of
 * step; restarted without the fault it converges with exactly one container
 * per workload, nothing orphaned, nothing duplicated.
 */
describe('agent kill -9 mid-update', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let registry: RegistryServer;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  let version = 1;

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry()]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'crash');
    await rig.startAgent();
    await rig.publish(version, { web: { image: TEST_IMAGE, env: { V: '1' } }, side: { image: TEST_IMAGE } });
    await rig.converged(version);
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
  });

  const faults = ['pull', 'stop', 'remove', 'create', 'start'] as const;

  it.each(faults)('crash right after the %s step, restart → converged, no orphan or duplicate', async (fault) => {
    await rig.stopAgent();
    const agent = await rig.startAgent({ env: { OUTPOST_FAULT_CRASH_AFTER: fault } });
    version++;
    // A pull fault needs an image that is not on the device yet: a fresh push to the local registry.
    const image =
      fault === 'pull'
        ? `${registry.host}/crash/web@${await pushToRegistry(TEST_IMAGE_2, registry.host, 'crash/web', `v${version}`)}`
        : TEST_IMAGE;
    const workloads: Record<string, WorkloadSpecInput> = {
      web: { image, env: { V: String(version) } },
      side: { image: TEST_IMAGE },
    };
    await rig.publish(version, workloads);
    const exit = await agent.waitForExit(60_000);
    expect(exit.signal, agent.output()).toBe('SIGKILL');
    expect(agent.output()).toContain(`fault injection: SIGKILL after ${fault}`);

    // While the agent is dead, the untouched workload keeps running.
    const during = await deviceContainers(rig.deviceId);
    expect(during.find((c) => c.workload === 'side')?.state).toBe('running');

    await rig.startAgent();
    const report = await rig.converged(version);
    const after = await deviceContainers(rig.deviceId);
    expect(after.map((c) => [c.workload, c.specHash, c.state])).toEqual([
      ['side', expectedHash(workloads.side!), 'running'],
      ['web', expectedHash(workloads.web!), 'running'],
    ]);
    expect(report.workloads.web?.containerId).toBe(after.find((c) => c.workload === 'web')?.id.slice(0, 12)); // compact reports: 12-digit ids (DD-037)
    // The side container was never restarted by any of this.
    expect(after.find((c) => c.workload === 'side')?.id).toBe(during.find((c) => c.workload === 'side')?.id);
  });
});
