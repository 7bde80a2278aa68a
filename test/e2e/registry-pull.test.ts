import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers } from '../helpers/device-containers.js';
import Docker from 'dockerode';
import { ensureTestImage, pushToRegistry, TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/** Real pulls by digest from a local docker-registry, and a reference the registry does not have. */
describe('pulling from a registry', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let controller: TestController;
  let rig: DeviceRig;
  let v1Image = '';
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry()]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'pull');
    // Pull progress is step detail: sent with --event-detail steps.
    await rig.startAgent({ extraArgs: ['--event-detail', 'steps'] });
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
  });

  it('pulls by digest, runs it, and reports the digest actually running', async () => {
    const digest = await pushToRegistry(TEST_IMAGE, registry.host, 'edge/web', '1');
    const image = `${registry.host}/edge/web@${digest}`;
    v1Image = image;
    await rig.publish(1, { web: { image } });
    const report = await rig.converged(1);
    expect(report.workloads.web?.imageDigest).toBe(image);
    expect(rig.watch.events.some((e) => e.type === 'step.succeeded' && e.data.step === 'pull')).toBe(true);
    const progress = rig.watch.events.filter((e) => e.type === 'pull.progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]?.data.image).toBe(image);
    const [c] = await deviceContainers(rig.deviceId);
    expect(c?.image).toBe(image);
    expect(c?.state).toBe('running');
  });

  it('an image the registry does not have → clear failed report, the old workload keeps running', async () => {
    const [before] = await deviceContainers(rig.deviceId);
    const missing = `${registry.host}/edge/web@sha256:${'0'.repeat(64)}`;
    await rig.publish(2, { web: { image: missing } });
    const report = await rig.watch.waitForReport((r) => r.phase === 'failed' && r.desired.applyingVersion === 2, 60_000, 'failed at v2');
    expect(report.desired.appliedVersion).toBe(1);
    expect(report.errors.at(-1)?.code).toBe('IMAGE_NOT_FOUND');
    expect(report.errors.at(-1)?.message).toContain(missing);
    expect(report.workloads.web?.state).toBe('failed');
    expect(report.workloads.web?.reason).toMatch(/previous container .* is left running/);
    const failedEvent = await rig.watch.waitForEvent((e) => e.type === 'reconcile.failed' && e.version === 2, 10_000);
    expect(failedEvent.code).toBe('IMAGE_NOT_FOUND');
    const after = await deviceContainers(rig.deviceId);
    expect(after.map((c) => [c.id, c.state])).toEqual([[before?.id, 'running']]);
  });

  it('a later good version recovers without anyone touching the device', async () => {
    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, 'edge/web', '3');
    await rig.publish(3, { web: { image: `${registry.host}/edge/web@${digest}` } });
    const report = await rig.converged(3);
    expect(report.errors).toEqual([]);
    const after = await deviceContainers(rig.deviceId);
    expect(after).toHaveLength(1);
    expect(after[0]?.image).toContain(digest);
  });

  it('keeps the images of the current and the previous version, removes older ones it pulled', async () => {
    const docker = new Docker();
    const v3Image = (await deviceContainers(rig.deviceId))[0]?.image ?? '';
    const tag = `outpost-test/gc-${Math.random().toString(36).slice(2, 8)}:4`;
    await ensureTestImage(tag, { label: `gc-${tag.slice(14, 20)}` });
    try {
      const digest = await pushToRegistry(tag, registry.host, 'edge/web', '4');
      await rig.publish(4, { web: { image: `${registry.host}/edge/web@${digest}` } });
      await rig.converged(4);
      const removed = await rig.watch.waitForEvent((e) => e.type === 'image.removed' && e.version === 4, 10_000, 'image.removed');
      expect(removed.data.image).toBe(v1Image);
      await expect(docker.getImage(v1Image).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(await docker.getImage(v3Image).inspect()).toBeTruthy(); // the previous version's image stays for a rollback
    } finally {
      await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    }
  });
});
