import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

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
