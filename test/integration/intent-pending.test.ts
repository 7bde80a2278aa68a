import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSecret } from '../../shared/device-credentials.js';
import { runCli } from '../helpers/cli-run.js';
import { startBrokerRig, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane, type InProcessControlPlane } from '../helpers/controller-in-process.js';
import { watchDesired, type DesiredWatch } from '../helpers/desired-watch.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * With the broker away, changes are still accepted: the answer says
 * `pending`, the fleet and the device say so, and once the broker is back
 * the controller publishes by itself (DD-021).
 */
describe('changes while the broker is down', () => {
  let rig: BrokerRig;
  let cp: InProcessControlPlane;
  let watch: DesiredWatch;

  beforeAll(async () => {
    rig = await startBrokerRig();
    cp = await startInProcessControlPlane(rig, { controller: { brokerWaitSeconds: 1 } });
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);
    await cp.client.createRelease({ app: 'pend', version: '1', workloads: { main: { image: 'busybox:1' } } });
    await cp.client.createRelease({ app: 'pend', version: '2', workloads: { main: { image: 'busybox:2' } } });
  });
  afterAll(async () => {
    await watch?.close();
    await cp?.close();
    await rig?.close();
  });

  it('answers pending, shows pending, and publishes by itself once the broker is back', async () => {
    const id = `pend-${Date.now().toString(36)}`;
    await cp.client.addDevice({ id, labels: { role: 'pend' }, secret: newSecret() });
    const first = await cp.client.createDeployment({ id: `dep-${id}`, app: 'pend', version: '1', target: { kind: 'selector', selector: 'role=pend' } });
    expect(first.delivery).toMatchObject({ state: 'published', published: 1, pending: 0 });
    await watch.waitForDoc(id, (d) => d.doc.workloads['pend-main']?.image === 'busybox:1', 'v1 on the broker');

    await rig.stopBroker();
    try {
      const second = await cp.client.createDeployment({ id: `dep2-${id}`, app: 'pend', version: '2', target: { kind: 'devices', devices: [id] }, priority: 5 });
      expect(second.created).toBe(true);
      expect(second.delivery).toMatchObject({ state: 'pending', published: 0, pending: 1, pendingDevices: [id] });
      expect(second.delivery?.reason).toMatch(/broker/);
      const detail = await cp.client.getDevice(id);
      expect(detail.pending).toBe(true);
      const fleet = await cp.client.fleet();
      expect(fleet.pending).toBe(1);
      expect(fleet.pendingDevices).toEqual([id]);
      const status = await runCli(['status'], { url: cp.running.apiUrl, token: rig.adminToken });
      expect(status.stdout).toMatch(new RegExp(`Pending\\s+1 devices with a change not yet on the broker.*${id}`));
      const show = await runCli(['device', 'show', id], { url: cp.running.apiUrl, token: rig.adminToken });
      expect(show.stdout).toContain('a newer change is stored and not yet on the broker');

      // A controller started now, with the broker still away, serves anyway.
      const other = await startInProcessControlPlane(rig, { controller: { brokerWaitSeconds: 1 } });
      try {
        const label = await other.client.updateLabels(id, { set: { floor: '2' } });
        expect(label.delivery?.state).toBe('pending');
      } finally {
        await other.close();
      }
    } finally {
      await rig.startBroker();
    }
    // Nobody retries anything.
    await watch.waitForDoc(id, (d) => d.doc.workloads['pend-main']?.image === 'busybox:2', 'v2 published once the broker is back', 60_000);
    await waitFor(async () => !(await cp.client.getDevice(id)).pending, { timeoutMs: 30_000, description: 'no longer pending' });
    expect((await cp.client.fleet()).pending).toBe(0);
    expect(watch.violations()).toEqual([]);
  });
});
