import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent-process.js';
import { testBrokerKind } from '../helpers/broker-mode.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type DeviceWatch, type TestController } from '../helpers/test-controller.js';

/**
 * DD-030 end to end: a real agent on Mosquitto with dynamic security, its
 * credentials managed by the controller (--broker-admin mosquitto-dynsec).
 * It converges on a deployment, comes back after a secret rotation with the
 * secret re-read from its file, and a decommission with --wipe removes its
 * workloads and locks it out.
 */
// Runs on Mosquitto in the default run already; the Mosquitto run of the suite would repeat it.
describe.skipIf(testBrokerKind() === 'mosquitto-dynsec')('a real agent on Mosquitto with Outpost-managed credentials', () => {
  let rig: ControlPlaneRig;
  let observer: TestController;
  let watch: DeviceWatch;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  const id = `dyn-agent-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ agent: agent?.output() ?? '' }));

  beforeAll(async () => {
    rig = await startControlPlane({ brokerKind: 'mosquitto-dynsec' });
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    dir = await makeTempDir('dynsec-agent');
  });

  afterAll(async () => {
    await agent?.stop();
    await observer?.close();
    await rig?.close();
    await removeDeviceContainers(id);
    await dir?.remove();
  });

  it('enrols, converges on a deployment, survives a rotation and is wiped by decommission', async () => {
    const cp = rig.controller.controlPlane;
    const secretFile = join(dir.path, 'secret');
    const { secret } = await cp.addDevice({ id, labels: { role: 'kiosk' } });
    await writeFile(secretFile, secret, { mode: 0o600 });
    watch = await observer.watch(id);
    agent = await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret: '', secretFile, stateDir: join(dir.path, 'state') });

    await cp.createRelease({ app: 'kiosk', version: '1', workloads: { web: { image: TEST_IMAGE, env: { V: '1' } } } });
    await cp.createRelease({ app: 'kiosk', version: '2', workloads: { web: { image: TEST_IMAGE, env: { V: '2' } } } });
    await cp.createDeployment({ app: 'kiosk', version: '1', target: { kind: 'selector', selector: 'role=kiosk' } });
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 90_000, 'converged at v1');
    expect(await deviceContainers(id)).toHaveLength(1);

    // Rotation: Mosquitto drops the session on the old secret; the agent re-reads its file and comes back.
    const onlineBefore = watch.presence.filter((p) => p.status === 'online').length;
    const rotated = await cp.rotateSecret(id);
    expect(rotated.brokersNotified).toBe(1);
    await writeFile(secretFile, rotated.secret, { mode: 0o600 });
    await waitFor(() => watch.presence.filter((p) => p.status === 'online').length > onlineBefore, { timeoutMs: 30_000, description: 'online again after rotation' });
    await cp.createDeployment({ app: 'kiosk', version: '2', target: { kind: 'selector', selector: 'role=kiosk' } });
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 2, 90_000, 'converged at v2');

    // Decommission with --wipe: the device removes its workloads, then loses its client.
    const record = await cp.removeDevice(id, { wipe: true, wipeTimeoutSeconds: 60 });
    expect(record).toMatchObject({ state: 'done', wiped: 'confirmed' });
    await waitFor(async () => (await deviceContainers(id)).length === 0, { timeoutMs: 30_000, description: 'workloads removed' });
    await waitFor(() => (agent?.output().match(/Not authorized|not authori[sz]ed|refused/i) ? true : undefined), { timeoutMs: 30_000, description: 'agent refused after decommission' });
    // The only non-documents are the empty payloads that cleared its retained topics.
    expect(watch.invalid.filter((m) => !m.endsWith(': '))).toEqual([]);
  });
});
