import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

describe('controller publishes desired states', () => {
  let rig: ControlPlaneRig;
  let observer: TestController;
  beforeAll(async () => {
    rig = await startControlPlane();
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
  });
  afterAll(async () => {
    await observer?.close();
    await rig?.close();
  });

  it('deploy by selector publishes a versioned retained document per targeted device', async () => {
    const cp = rig.controller.controlPlane;
    await cp.addDevice({ id: 'k-a', labels: { role: 'kiosk', site: 'a' } });
    await cp.addDevice({ id: 'k-b', labels: { role: 'kiosk', site: 'b' } });
    await cp.addDevice({ id: 's-x', labels: { role: 'sensor' } });
    await cp.createRelease({ app: 'kiosk', version: '1.0.0', workloads: { web: { image: 'busybox:1' } } });
    const { deployment, result } = await cp.createDeployment({ app: 'kiosk', version: '1.0.0', target: { kind: 'selector', selector: 'role=kiosk' } });
    expect(deployment.targeted).toEqual(['k-a', 'k-b']);
    expect(result.published.map((p) => [p.deviceId, p.version])).toEqual([['k-a', 1], ['k-b', 1]]);
    const again = await rig.controller.publisher.recompute();
    expect(again.published).toEqual([]);
    const desired = await cp.desiredOf('k-a');
    expect(desired?.workloads['kiosk-web']?.image).toBe('busybox:1');
    expect(desired?.provenance['kiosk-web']).toEqual({ deployment: deployment.id, release: 'kiosk@1.0.0' });
  });
});

describe('two controllers recomputing the same devices at once', () => {
  let rig: ControlPlaneRig;
  beforeAll(async () => {
    rig = await startControlPlane();
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('publish each new content once: no device gets two versions for one change', async () => {
    const cp = rig.controller.controlPlane;
    const seen = new Map<string, number[]>();
    const watcher = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    watcher.client.on('message', (topic, payload) => {
      const id = /devices\/([^/]+)\/desired$/.exec(topic)?.[1];
      if (!id || payload.length === 0) return;
      seen.set(id, [...(seen.get(id) ?? []), (JSON.parse(payload.toString()) as { version: number }).version]);
    });
    await watcher.client.subscribeAsync('outpost/v1/devices/+/desired', { qos: 1 });
    for (let i = 0; i < 20; i++) await cp.addDevice({ id: `twin-${i}`, labels: { fleet: 'twins' } });
    await cp.createRelease({ app: 'twin', version: '1', workloads: { w: { image: 'busybox:1' } } });
    // Registered directly, so that no recompute runs yet; then two publishers race over the same devices.
    const { DeploymentStore } = await import('../../controller/registry/deployment-store.js');
    const { Keys } = await import('../../controller/registry/keys.js');
    await new DeploymentStore(rig.controller.redis, new Keys('outpost:'), Date.now).create({ app: 'twin', version: '1', target: { kind: 'selector', selector: 'fleet=twins' } });
    const second = (await import('../../controller/create-controller.js')).createController;
    const other = second(
      (await import('../../controller/config.js')).parseControllerConfig({
        redisUrl: rig.redis.url,
        brokerUrl: rig.brokerUrl,
        servicePassword: rig.serviceAuth.password,
        adminTokens: [rig.adminToken],
        antiEntropyIntervalSeconds: 0,
      }),
      { logger: (await import('../../shared/logger.js')).silentLogger() },
    );
    try {
      // The second controller's start drains the registered deployment too; all three race.
      const [a, b] = await Promise.all([rig.controller.publisher.recompute(), other.publisher.recompute(), other.start()]);
      expect(a.pending).toEqual([]);
      expect(b.pending).toEqual([]);
      for (let i = 0; i < 20; i++) expect((await cp.desiredOf(`twin-${i}`))?.version).toBe(1);
      // A sentinel after everything: all earlier publishes have arrived once it does.
      await cp.addDevice({ id: 'twin-sentinel', labels: { fleet: 'twins' } });
      await waitFor(() => seen.has('twin-sentinel'), { description: 'sentinel document' });
      for (let i = 0; i < 20; i++) expect(seen.get(`twin-${i}`)).toEqual([1]);
    } finally {
      await other.close();
      await watcher.close();
    }
  });
});
