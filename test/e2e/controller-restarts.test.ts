import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent-process.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { removeDeviceContainers, waitFor } from '../helpers/docker.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type DeviceWatch, type TestController } from '../helpers/test-controller.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';

/** Controller and broker restarts never make a version go down; a wiped retained store is repaired. */
describe('controller and broker restarts', () => {
  let rig: ControlPlaneRig;
  let observer: TestController;
  const agents: ManagedProcess[] = [];
  const dirs: TempDir[] = [];
  const suffix = Math.random().toString(36).slice(2, 7);
  const ids = [`gw-1-${suffix}`, `gw-2-${suffix}`];
  const watches: DeviceWatch[] = [];
  dumpOnFailure(() => Object.fromEntries(agents.map((a) => [a.name, a.output()])));
  /** Every desired version each device was ever sent, in order (from the agents' events). */
  const received = (i: number) => watches[i]!.events.filter((e) => e.type === 'desired.received').map((e) => e.version ?? 0);

  beforeAll(async () => {
    rig = await startControlPlane();
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    const cp = rig.controller.controlPlane;
    for (const v of ['1', '2', '3']) await cp.createRelease({ app: 'gw', version: v, workloads: { relay: { image: TEST_IMAGE, env: { V: v } } } });
    for (const id of ids) {
      const { secret } = await cp.addDevice({ id, labels: { kind: 'gateway' } });
      const dir = await makeTempDir('restarts');
      dirs.push(dir);
      watches.push(await observer.watch(id));
      agents.push(await startAgent({ deviceId: id, brokerUrl: rig.brokerUrl, secret, stateDir: dir.path }));
    }
    await cp.createDeployment({ app: 'gw', version: '1', target: { kind: 'selector', selector: 'kind=gateway' } });
    for (const w of watches) await w.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 60_000);
  });

  afterAll(async () => {
    for (const a of agents) await a.stop();
    await observer?.close();
    await rig?.close();
    for (const id of ids) await removeDeviceContainers(id);
    for (const d of dirs) await d.remove();
  });

  it('after a controller restart, versions continue upwards', async () => {
    await rig.restartController();
    const { result } = await rig.controller.controlPlane.createDeployment({ app: 'gw', version: '2', target: { kind: 'selector', selector: 'kind=gateway' } });
    expect(result.published.map((p) => p.version)).toEqual([2, 2]);
    for (const w of watches) await w.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 2, 60_000);
  });

  it('after a broker restart with its retained store wiped, anti-entropy republishes and devices stay converged', async () => {
    const containersBefore = await Promise.all(ids.map((id) => deviceContainers(id)));
    // On Mosquitto the sessions go too: the agents come back on new ones and ask for the retained document again.
    await rig.restartBrokerWithoutRetained();
    // The controller reconnects, notices the broker lost the documents, and publishes them again.
    const fresh = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    try {
      for (const id of ids) {
        const retained = await new Promise<number>((resolve, reject) => {
          const topic = `outpost/v1/devices/${id}/desired`;
          const timer = setTimeout(() => reject(new Error(`no retained desired for ${id}`)), 20_000);
          const poll = setInterval(() => void fresh.client.unsubscribeAsync(topic).then(() => fresh.client.subscribeAsync(topic, { qos: 1 })), 1000);
          fresh.client.on('message', (t, payload) => {
            if (t !== topic || payload.length === 0) return;
            clearTimeout(timer);
            clearInterval(poll);
            resolve((JSON.parse(payload.toString('utf8')) as { version: number }).version);
          });
          void fresh.client.subscribeAsync(topic, { qos: 1 });
        });
        expect(retained).toBe(2);
      }
    } finally {
      await fresh.close();
    }
    // Devices stayed converged, nothing was recreated, and a new deployment still flows through.
    expect(await Promise.all(ids.map((id) => deviceContainers(id)))).toEqual(containersBefore);
    await rig.controller.controlPlane.createDeployment({ app: 'gw', version: '3', target: { kind: 'selector', selector: 'kind=gateway' } });
    for (const w of watches) await w.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 3, 60_000);
  });

  it('no device ever saw its version go down', async () => {
    await waitFor(async () => (await rig.controller.controlPlane.getDevice(ids[0]!)).inSync, { timeoutMs: 10_000 });
    for (let i = 0; i < ids.length; i++) {
      const versions = received(i);
      expect(versions.length).toBeGreaterThanOrEqual(3);
      for (let j = 1; j < versions.length; j++) expect(versions[j]).toBeGreaterThan(versions[j - 1]!);
      const ignored = watches[i]!.events.filter((e) => e.type === 'desired.ignored').map((e) => e.version ?? 0);
      // Republished copies arrive as duplicates and are ignored; never anything lower than what was applied.
      expect(Math.min(...ignored, Infinity)).toBeGreaterThanOrEqual(1);
    }
  });
});
