import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startAgent } from '../helpers/agent-process.js';
import { startAedesFixture, startMosquittoFixture, type BrokerFixture } from '../helpers/brokers.js';
import { containerCreates, deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

/**
 * Outpost's core promise, on two brokers: a device that was offline while
 * versions 1, 2 and 3 were published converges to exactly version 3 when it
 * comes back, by itself, and never applies 1 or 2.
 */
const brokers: [string, () => Promise<BrokerFixture>][] = [
  ['aedes + Redis persistence', () => startAedesFixture()],
  ['Mosquitto', () => startMosquittoFixture()],
];

describe.each(brokers)('offline device converges to the newest version (%s)', (_name, makeBroker) => {
  let broker: BrokerFixture;
  let controller: TestController;
  let stateDir: TempDir;
  let agent: ManagedProcess | undefined;
  const deviceId = `core-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    broker = await makeBroker();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    stateDir = await makeTempDir('agent-state');
  });

  afterAll(async () => {
    await agent?.stop();
    await controller?.close();
    await broker?.stop();
    await removeDeviceContainers(deviceId);
    await stateDir?.remove();
  });

  it('applies only v3 of v1..v3 published while it was offline', async () => {
    const secret = await broker.enroll(deviceId);
    const watch = await controller.watch(deviceId);
    const start = () => startAgent({ deviceId, brokerUrl: broker.url, secret, stateDir: stateDir.path });

    // First run establishes the persistent session (and subscription), with nothing desired yet.
    agent = await start();
    await watch.waitForReport((r) => r.phase === 'idle', 20_000, 'idle report');
    await watch.waitForEvent((e) => e.type === 'agent.started', 10_000);
    await agent.stop();
    await watch.waitForEvent(() => watch.presence.at(-1)?.status === 'offline', 10_000, 'offline presence');

    const v1: Record<string, WorkloadSpecInput> = { web: { image: TEST_IMAGE, env: { V: '1' } } };
    const v2: Record<string, WorkloadSpecInput> = { web: { image: TEST_IMAGE_2, env: { V: '2' } }, db: { image: TEST_IMAGE, env: { V: '2' } } };
    const v3: Record<string, WorkloadSpecInput> = { web: { image: TEST_IMAGE_2, env: { V: '3' } }, api: { image: TEST_IMAGE, env: { V: '3' } } };
    const since = Math.floor(Date.now() / 1000) - 1;
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 1, v1));
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 2, v2));
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 3, v3));

    agent = await start();
    const report = await watch.waitForReport(
      (r) => r.phase === 'converged' && r.desired.appliedVersion === 3,
      60_000,
      'converged at v3',
    );

    // Docker is the ground truth: exactly v3's containers, running.
    const containers = await deviceContainers(deviceId);
    expect(containers.map((c) => [c.workload, c.specHash, c.state])).toEqual([
      ['api', expectedHash(v3.api!), 'running'],
      ['web', expectedHash(v3.web!), 'running'],
    ]);
    expect(containers.find((c) => c.workload === 'web')?.env).toContain('V=3');

    // v1 and v2 were never applied: no container was ever created from their specs.
    const creates = await containerCreates(deviceId, since);
    const neverApplied = [v1.web!, v2.web!, v2.db!].map(expectedHash);
    expect(creates.length).toBe(2);
    expect(creates.filter((c) => neverApplied.includes(c.specHash))).toEqual([]);
    expect(watch.events.filter((e) => e.type === 'reconcile.started').map((e) => e.version)).toEqual([3]);

    // The queue did deliver the old versions (the persistent session worked); the agent ignored them.
    const seen = watch.events.filter((e) => e.type === 'desired.received' || e.type === 'desired.ignored').map((e) => e.version);
    expect(seen).toEqual(expect.arrayContaining([1, 2, 3]));

    expect(report.workloads.web?.state).toBe('running');
    expect(report.workloads.api?.state).toBe('running');
    expect(report.desired.seenVersion).toBe(3);
    expect(report.errors).toEqual([]);
    expect(watch.invalid).toEqual([]);
  });

  it('an agent restart does not restart unchanged containers', async () => {
    const before = await deviceContainers(deviceId);
    await agent?.stop();
    const secret = await broker.enroll(deviceId);
    agent = await startAgent({ deviceId, brokerUrl: broker.url, secret, stateDir: stateDir.path });
    const watch = await controller.watch(deviceId);
    const count = watch.reports.length;
    await watch.waitForReport((r) => r.phase === 'converged' && watch.reports.length > count, 30_000, 'fresh converged report');
    const after = await deviceContainers(deviceId);
    expect(after.map((c) => [c.id, c.startedAt])).toEqual(before.map((c) => [c.id, c.startedAt]));
  });
});
