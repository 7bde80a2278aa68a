import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { ensureTestImage, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';

const docker = new Docker();
const USER = 'edge-puller';
const PASSWORD = 'Restart-proof-registry-password';

/**
 * DD-019: credentials are memory only, so after a restart they come back with
 * the retained document of the version the agent already holds.
 */
describe('private registry across an agent restart', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let controller: TestController;
  let rig: DeviceRig;
  // Content of its own: Docker 20.10 "pulls" a digest whose image it still holds under another name without asking the registry.
  const source = `outpost-test/privrestart-${Math.random().toString(36).slice(2, 8)}:1`;
  let image = '';
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry({ htpasswd: { user: USER, password: PASSWORD } })]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'privrestart');
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
    for (const ref of [image, source]) if (ref) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
  });

  it('re-pulls a credentialed image after a restart with the credentials of the retained same-version document', async () => {
    await rig.startAgent();
    await ensureTestImage(source, { label: source.split(/[/:]/)[1]! });
    const digest = await pushToRegistry(source, registry.host, 'private/restart', '1', { username: USER, password: PASSWORD });
    await docker.getImage(source).remove({ noprune: true });
    image = `${registry.host}/private/restart@${digest}`;
    await controller.publishDesired(rig.deviceId, {
      ...desiredDoc(rig.deviceId, 1, { app: { image } }),
      registryAuth: { [registry.host]: { username: USER, password: PASSWORD } },
    });
    const first = await rig.converged(1);

    // While the agent is down the device loses the container and the image: only a pull can bring them back.
    await rig.stopAgent();
    await removeDeviceContainers(rig.deviceId);
    await docker.getImage(image).remove({ noprune: true });
    await expect(docker.getImage(image).inspect()).rejects.toMatchObject({ statusCode: 404 });

    const eventsBefore = rig.watch.events.length;
    await rig.startAgent();
    const report = await rig.watch.waitForReport(
      (r) => r.agent.startedAt !== first.agent.startedAt && r.phase === 'converged' && r.workloads.app?.state === 'running',
      60_000,
      'converged again after the restart',
    );
    expect(report.desired).toMatchObject({ seenVersion: 1, appliedVersion: 1, applyingVersion: null });
    expect(report.workloads.app?.imageDigest).toBe(image);
    const [app] = await deviceContainers(rig.deviceId);
    expect(app).toMatchObject({ workload: 'app', image, state: 'running' });

    const since = rig.watch.events.slice(eventsBefore);
    expect(since.some((e) => e.type === 'step.succeeded' && e.data.step === 'pull' && e.data.ms !== undefined)).toBe(true);
    // The retained re-delivery of version 1 is not news: no event about it.
    expect(since.filter((e) => e.type.startsWith('desired.'))).toEqual([]);
    expect(rig.agent?.output()).not.toContain(PASSWORD);
    expect(JSON.stringify(rig.watch.events)).not.toContain(PASSWORD);
  });
});
