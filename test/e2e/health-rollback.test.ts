import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

const HTTPD = ['sh', '-c', 'echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'];

/**
 * An unhealthy new version is rolled back by the agent itself: the previous
 * container runs (and is healthy) again, and the report says why.
 */
describe('health gate and automatic rollback', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  const good: WorkloadSpecInput = {
    image: TEST_IMAGE,
    command: HTTPD,
    stopTimeoutSeconds: 1,
    health: { type: 'http', port: 8080, intervalSeconds: 1, timeoutSeconds: 1, retries: 2 },
  };

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'gate');
    await rig.startAgent();
    await rig.publish(1, { web: good, side: { image: TEST_IMAGE } });
    await rig.converged(1, 60_000);
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
  });

  async function expectRolledBack(version: number, workloads: Record<string, WorkloadSpecInput>, reason: RegExp) {
    const before = await deviceContainers(rig.deviceId);
    await rig.publish(version, workloads);
    const report = await rig.watch.waitForReport((r) => r.phase === 'rolled-back' && r.rollback?.version === version, 90_000, `rolled back v${version}`);
    expect(report.desired.appliedVersion).toBe(1);
    expect(report.rollback?.reason).toMatch(reason);
    expect(report.errors.at(-1)?.code).toBe('UPDATE_UNHEALTHY');
    expect(report.workloads.web?.state).toBe('rolled-back');
    const event = await rig.watch.waitForEvent((e) => e.type === 'update.rolled-back' && e.version === version, 10_000);
    expect(event.code).toBe('UPDATE_UNHEALTHY');
    // The old containers run again — the very same containers, healthy — and nothing of the new version is left.
    const after = await deviceContainers(rig.deviceId);
    expect(after.map((c) => [c.id, c.workload, c.state])).toEqual(before.map((c) => [c.id, c.workload, 'running']));
    expect(after.find((c) => c.workload === 'web')?.specHash).toBe(expectedHash(good));
    return report;
  }

  it('a new version failing its health check is rolled back, with the health output in the report', async () => {
    // Serves nothing on 8080: the http check fails.
    const report = await expectRolledBack(2, { web: { ...good, image: TEST_IMAGE_2, command: ['sleep', '3600'] }, side: { image: TEST_IMAGE } }, /health check failed/);
    expect(report.rollback?.health).toMatch(/8080/);
  });

  it('a new version whose container exits at once is rolled back, with its exit code and last log lines', async () => {
    const report = await expectRolledBack(
      3,
      { web: { ...good, command: ['sh', '-c', 'echo starting v3; echo missing config >&2; exit 3'], restart: 'no' }, side: { image: TEST_IMAGE } },
      /exited \(exit code 3\)/,
    );
    expect(report.rollback?.exitCode).toBe(3);
    expect(report.rollback?.logs).toContain('missing config');
  });

  it('a rolled-back version is not retried; the next version applies normally', async () => {
    await new Promise((r) => setTimeout(r, 3000));
    const last = rig.watch.latestReport();
    expect(last?.phase).toBe('rolled-back');
    expect(rig.watch.events.filter((e) => e.type === 'update.rolled-back' && e.version === 3)).toHaveLength(1);
    const next: WorkloadSpecInput = { ...good, env: { V: '4' } };
    const report = await (async () => {
      await rig.publish(4, { web: next, side: { image: TEST_IMAGE } });
      return rig.converged(4, 60_000);
    })();
    expect(report.rollback).toBeNull();
    expect((await deviceContainers(rig.deviceId)).find((c) => c.workload === 'web')?.specHash).toBe(expectedHash(next));
  });
});
