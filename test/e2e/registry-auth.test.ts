import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';

const USER = 'edge-puller';
const PASSWORD = 'Sup3r-secret-registry-password';

/** Private registry with htpasswd auth: credentials from the desired document, never logged, never on the agent's disk. */
describe('private registry', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry({ htpasswd: { user: USER, password: PASSWORD } })]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'priv');
    await rig.startAgent();
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
  });

  it('pulls with the credentials the desired document references', async () => {
    const digest = await pushToRegistry(TEST_IMAGE, registry.host, 'private/app', '1', { username: USER, password: PASSWORD });
    const image = `${registry.host}/private/app@${digest}`;
    await controller.publishDesired(rig.deviceId, {
      ...desiredDoc(rig.deviceId, 1, { app: { image } }),
      registryAuth: { [registry.host]: { username: USER, password: PASSWORD } },
    });
    const report = await rig.converged(1, 60_000);
    expect(report.workloads.app?.imageDigest).toBe(image);
  });

  it('wrong credentials → a clear failed report, the old workload untouched', async () => {
    const [before] = await deviceContainers(rig.deviceId);
    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, 'private/app', '2', { username: USER, password: PASSWORD });
    await controller.publishDesired(rig.deviceId, {
      ...desiredDoc(rig.deviceId, 2, { app: { image: `${registry.host}/private/app@${digest}` } }),
      registryAuth: { [registry.host]: { username: USER, password: 'wrong-password' } },
    });
    const report = await rig.watch.waitForReport((r) => r.phase === 'failed' && r.desired.applyingVersion === 2, 60_000, 'failed with REGISTRY_AUTH');
    expect(report.errors.at(-1)?.code).toBe('REGISTRY_AUTH');
    expect(report.errors.at(-1)?.message).toMatch(/unauthorized|authentication/i);
    expect(report.desired.appliedVersion).toBe(1);
    const after = await deviceContainers(rig.deviceId);
    expect(after.map((c) => [c.id, c.state])).toEqual([[before?.id, 'running']]);
  });

  it('the password is never in the agent logs, its events or its state files', async () => {
    expect(rig.agent?.output()).not.toContain(PASSWORD);
    expect(JSON.stringify(rig.watch.events)).not.toContain(PASSWORD);
    expect(JSON.stringify(rig.watch.reports)).not.toContain(PASSWORD);
    for (const file of await readdir(rig.stateDir.path)) {
      if (!file.endsWith('.json')) continue;
      expect(await readFile(join(rig.stateDir.path, file), 'utf8'), file).not.toContain(PASSWORD);
    }
  });
});
