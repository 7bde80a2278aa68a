import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/** The agent owns exactly its device's labelled containers: never anything else on the engine. */
describe('managed scope', () => {
  const docker = new Docker();
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  const bystanders: Docker.Container[] = [];

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'scope');
    const suffix = Math.random().toString(36).slice(2, 8);
    // An unmanaged container, and one managed by another device's agent on the same engine.
    for (const [name, labels] of [
      [`bystander-${suffix}`, { 'io.outpost.test': 'bystander' }],
      [`other-device-${suffix}`, { 'io.outpost.managed': 'true', 'io.outpost.device': `other-${suffix}`, 'io.outpost.workload': 'b' }],
    ] as const) {
      const c = await docker.createContainer({ name, Image: TEST_IMAGE, Labels: labels });
      await c.start();
      bystanders.push(c);
    }
  });

  afterAll(async () => {
    await rig?.dispose();
    for (const c of bystanders) await c.remove({ force: true }).catch(() => undefined);
    await controller?.close();
    await broker?.stop();
  });

  it('removes a workload dropped from the desired state and nothing else', async () => {
    await rig.startAgent();
    await rig.publish(1, { a: { image: TEST_IMAGE }, b: { image: TEST_IMAGE } });
    await rig.converged(1);
    expect((await deviceContainers(rig.deviceId)).map((c) => c.workload)).toEqual(['a', 'b']);

    await rig.publish(2, { a: { image: TEST_IMAGE } });
    const report = await rig.converged(2);
    expect((await deviceContainers(rig.deviceId)).map((c) => c.workload)).toEqual(['a']);
    expect(report.workloads.b).toMatchObject({ state: 'removed' });
    // Event detail summary (the default): the update's steps are listed in the event that closes it.
    const applied = rig.watch.events.find((e) => e.type === 'reconcile.succeeded' && e.version === 2);
    expect(applied?.data.steps).toEqual(expect.arrayContaining([expect.objectContaining({ step: 'remove', workload: 'b' })]));
    expect(rig.watch.events.filter((e) => e.version === 2 && e.type.startsWith('step.'))).toEqual([]);

    for (const c of bystanders) {
      const info = await c.inspect();
      expect(info.State.Running, info.Name).toBe(true);
      expect(info.RestartCount).toBe(0);
    }
  });
});
