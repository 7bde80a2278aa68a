import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { waitFor } from '../helpers/docker.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/** Decommission revokes the credential and purges the broker session, its queue and the retained topics. */
describe('device decommission', () => {
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

  const topic = (id: string, channel: string) => `outpost/v1/devices/${id}/${channel}`;

  async function retained(t: string): Promise<string | null> {
    const c = await mqtt.connectAsync(rig.brokerUrl, { ...rig.serviceAuth, clientId: `svc:probe-${Math.random().toString(36).slice(2)}`, clean: true });
    try {
      return await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), 1000);
        c.on('message', (got, payload) => {
          if (got !== t || payload.length === 0) return;
          clearTimeout(timer);
          resolve(payload.toString('utf8'));
        });
        void c.subscribeAsync(t, { qos: 1 });
      });
    } finally {
      await c.endAsync();
    }
  }

  it('leaves nothing of the device on the broker, and its secret stops working', async () => {
    const cp = rig.controller.controlPlane;
    const id = 'retired-1';
    const { secret } = await cp.addDevice({ id, labels: { role: 'kiosk' } });
    // The device establishes a persistent session, reports, and goes offline.
    const device = await mqtt.connectAsync(rig.brokerUrl, { clientId: id, username: id, password: secret, clean: false, protocolVersion: 4 });
    await device.subscribeAsync(topic(id, 'desired'), { qos: 1 });
    await device.publishAsync(topic(id, 'presence'), JSON.stringify({ protocol: 1, deviceId: id, status: 'online', epoch: 1, at: new Date().toISOString() }), { qos: 1, retain: true });
    await device.endAsync();
    // Deployments queue desired states for it while it is away.
    await cp.createRelease({ app: 'kiosk', version: '1', workloads: { web: { image: 'busybox:1' } } });
    await cp.createDeployment({ app: 'kiosk', version: '1', target: { kind: 'selector', selector: 'role=kiosk' } });
    expect(await retained(topic(id, 'desired'))).toContain('"version":1');
    expect(await retained(topic(id, 'presence'))).toContain('online');

    await cp.removeDevice(id);

    expect(await retained(topic(id, 'desired'))).toBeNull();
    expect(await retained(topic(id, 'presence'))).toBeNull();
    await expect(
      mqtt.connectAsync(rig.brokerUrl, { clientId: id, username: id, password: secret, clean: false, reconnectPeriod: 0, protocolVersion: 4 }),
    ).rejects.toThrow(/Not authorized|Bad username or password/i);

    // Re-enrolled under the same id, it starts from an empty session: nothing queued for the old device arrives.
    const again = await cp.addDevice({ id, labels: {} });
    const fresh = await mqtt.connectAsync(rig.brokerUrl, { clientId: id, username: id, password: again.secret, clean: false, protocolVersion: 4 });
    const received: string[] = [];
    fresh.on('message', (_t, payload) => received.push(payload.toString('utf8')));
    await new Promise((r) => setTimeout(r, 1000));
    expect(received).toEqual([]);
    await fresh.endAsync();
    // And its version counter kept counting: the next document is above anything the old device saw.
    await cp.updateLabels(id, { set: { role: 'kiosk' } });
    await waitFor(async () => (await cp.desiredOf(id))?.version === 2, { timeoutMs: 5000, description: 'version 2 after re-enrolment' });
  });
});
