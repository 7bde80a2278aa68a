import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent-process.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type DeviceWatch, type TestController } from '../helpers/test-controller.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';

/**
 * Devices targeted one by one and in groups, through the controller, with
 * real agents running real containers: selector deployments, per-device
 * overrides, priorities and shadowing, and label changes moving devices
 * between deployments.
 */
describe('fleet deployments end to end', () => {
  let rig: ControlPlaneRig;
  let observer: TestController;
  const agents: ManagedProcess[] = [];
  const dirs: TempDir[] = [];
  const suffix = Math.random().toString(36).slice(2, 7);
  const ids = { a: `kiosk-a-${suffix}`, b: `kiosk-b-${suffix}`, c: `sensor-c-${suffix}` };
  const watches: Record<string, DeviceWatch> = {};

  async function enroll(id: string, labels: Record<string, string>): Promise<void> {
    const { secret } = await rig.controller.controlPlane.addDevice({ id, labels });
    const dir = await makeTempDir('fleet');
    dirs.push(dir);
    watches[id] = await observer.watch(id);
    agents.push(await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret, stateDir: dir.path }));
  }
  dumpOnFailure(() => Object.fromEntries(agents.map((a) => [a.name, a.output()])));
  const converged = (id: string, version: number) =>
    watches[id]!.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === version, 60_000, `${id} converged at v${version}`);

  beforeAll(async () => {
    rig = await startControlPlane();
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    await enroll(ids.a, { role: 'kiosk', site: 'a' });
    await enroll(ids.b, { role: 'kiosk', site: 'b' });
    await enroll(ids.c, { role: 'sensor', site: 'c' });
    const cp = rig.controller.controlPlane;
    await cp.createRelease({ app: 'kiosk', version: '1.0.0', workloads: { web: { image: TEST_IMAGE, env: { MODE: 'fleet' } } } });
    await cp.createRelease({ app: 'kiosk', version: '2.0.0', workloads: { web: { image: TEST_IMAGE_2, env: { MODE: 'fleet' } } } });
    await cp.createRelease({ app: 'probe', version: '1', workloads: { probe: { image: TEST_IMAGE } } });
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await observer?.close();
    await rig?.close();
    for (const id of Object.values(ids)) await removeDeviceContainers(id);
    for (const d of dirs) await d.remove();
  });

  it('a deploy by selector converges both kiosks; the sensor gets nothing', async () => {
    const cp = rig.controller.controlPlane;
    const { deployment, result } = await cp.createDeployment({ app: 'kiosk', version: '1.0.0', target: { kind: 'selector', selector: 'role=kiosk' } });
    expect(deployment.targeted).toEqual([ids.a, ids.b].sort());
    expect(result.published.map((p) => p.deviceId).sort()).toEqual([ids.a, ids.b].sort());
    await Promise.all([converged(ids.a, 1), converged(ids.b, 1)]);
    for (const id of [ids.a, ids.b]) {
      const cs = await deviceContainers(id);
      expect(cs.map((c) => [c.workload, c.state])).toEqual([['kiosk-web', 'running']]);
      expect(cs[0]?.env).toContain('MODE=fleet');
    }
    expect(await deviceContainers(ids.c)).toEqual([]);
    expect(await cp.desiredOf(ids.c)).toBeNull();
  });

  it('a per-device env override applies to that device only', async () => {
    const cp = rig.controller.controlPlane;
    await cp.setOverrides(ids.a, { workloadEnv: { 'kiosk-web': { MODE: 'site-a' } } });
    await converged(ids.a, 2);
    expect((await deviceContainers(ids.a))[0]?.env).toContain('MODE=site-a');
    expect((await cp.desiredOf(ids.b))?.version).toBe(1);
    expect((await deviceContainers(ids.b))[0]?.env).toContain('MODE=fleet');
  });

  it('a higher-priority deployment shadows the fleet one on one device, and the API says which runs where', async () => {
    const cp = rig.controller.controlPlane;
    const fleet = (await cp.listDeployments()).find((d) => d.app === 'kiosk');
    const { deployment: canary } = await cp.createDeployment({
      app: 'kiosk',
      version: '2.0.0',
      target: { kind: 'devices', devices: [ids.b] },
      priority: 10,
    });
    await converged(ids.b, 2);
    expect((await deviceContainers(ids.b))[0]?.image).toBe(TEST_IMAGE_2);
    // The override on a survived the new deployment (it was not targeted, nothing changed there).
    expect((await cp.desiredOf(ids.a))?.version).toBe(2);

    // The controller's ingest may trail the observer by a moment.
    await waitFor(async () => (await cp.getDeployment(canary.id)).running.length === 1 && (await cp.getDevice(ids.b)).inSync, {
      timeoutMs: 10_000,
      description: 'controller saw b converge',
    });
    const fleetView = await cp.getDeployment(fleet!.id);
    expect(fleetView.targeted).toEqual([ids.a, ids.b].sort());
    expect(fleetView.applied).toEqual([ids.a]);
    expect(fleetView.shadowed).toEqual([ids.b]);
    expect(fleetView.running).toEqual([ids.a]);
    const canaryView = await cp.getDeployment(canary.id);
    expect(canaryView).toMatchObject({ targeted: [ids.b], applied: [ids.b], shadowed: [], running: [ids.b] });
    const detail = await cp.getDevice(ids.b);
    expect(detail.apps).toEqual([{ app: 'kiosk', deploymentId: canary.id, version: '2.0.0', source: 'deployment', shadowed: [fleet!.id] }]);
    expect(detail).toMatchObject({ phase: 'converged', appliedVersion: 2, desiredVersion: 2, inSync: true, online: true });
  });

  it('a label change moves a device into one selector and out of another; unrelated devices get no new version', async () => {
    const cp = rig.controller.controlPlane;
    await cp.createDeployment({ app: 'probe', version: '1', target: { kind: 'selector', selector: 'site=c' } });
    await converged(ids.c, 1);
    const before = { a: (await cp.desiredOf(ids.a))?.version, b: (await cp.desiredOf(ids.b))?.version };

    // c moves from site=c (probe) to role=kiosk (the fleet kiosk deployment).
    await cp.updateLabels(ids.c, { set: { role: 'kiosk', site: 'a' } });
    const desired = await cp.desiredOf(ids.c);
    expect(desired?.version).toBe(2);
    expect(Object.keys(desired?.workloads ?? {})).toEqual(['kiosk-web']);
    await converged(ids.c, 2);
    expect((await deviceContainers(ids.c)).map((c) => c.workload)).toEqual(['kiosk-web']);

    expect((await cp.desiredOf(ids.a))?.version).toBe(before.a);
    expect((await cp.desiredOf(ids.b))?.version).toBe(before.b);
    // A label change that matches no deployment differently publishes nothing.
    await cp.updateLabels(ids.c, { set: { floor: '2' } });
    expect((await cp.desiredOf(ids.c))?.version).toBe(2);
  });
});
