import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deviceContainers } from '../helpers/device-containers.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';

/**
 * Bad desired payloads are refused with a failed report and an event saying
 * why; the running containers stay exactly as they were, and the next good
 * version is applied normally.
 */
describe('bad desired payloads', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'bad');
    await rig.startAgent();
    await rig.publish(1, { web: { image: TEST_IMAGE, env: { V: '1' } } });
    await rig.converged(1);
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
  });

  const good = (version: number) => desiredDoc('placeholder', version, { web: { image: TEST_IMAGE, env: { V: String(version) } } });
  const cases: { name: string; payload: (deviceId: string, version: number) => string | Buffer; code: string; reason: RegExp }[] = [
    { name: 'invalid JSON', payload: () => '{"protocol":1,"version":', code: 'DESIRED_INVALID_JSON', reason: /invalid JSON/ },
    {
      name: 'schema violation (bad image, unknown field)',
      payload: (id, v) => JSON.stringify({ ...good(v), deviceId: id, workloads: { web: { image: 'NOT A REF', privileged: true } } }),
      code: 'DESIRED_SCHEMA',
      reason: /workloads\.web/,
    },
    {
      name: 'another deviceId',
      payload: (_id, v) => JSON.stringify({ ...good(v), deviceId: 'somebody-else' }),
      code: 'DESIRED_WRONG_DEVICE',
      reason: /somebody-else/,
    },
    {
      name: 'oversized',
      payload: (id, v) => JSON.stringify({ ...good(v), deviceId: id, workloads: { web: { image: TEST_IMAGE, env: { BIG: 'x'.repeat(300 * 1024) } } } }),
      code: 'DESIRED_TOO_LARGE',
      reason: /limit is 262144/,
    },
    {
      name: 'unsupported protocol version',
      payload: (id, v) => JSON.stringify({ ...good(v), deviceId: id, protocol: 2 }),
      code: 'DESIRED_PROTOCOL',
      reason: /protocol 2/,
    },
    {
      name: 'host bind mount the device does not allow',
      payload: (id, v) =>
        JSON.stringify({ ...good(v), deviceId: id, workloads: { web: { image: TEST_IMAGE, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/s' }] } } }),
      code: 'DESIRED_POLICY',
      reason: /container engine/,
    },
  ];

  let version = 1;
  it.each(cases)('$name → failed report + event, containers untouched', async ({ payload, code, reason }) => {
    const before = await deviceContainers(rig.deviceId);
    version++;
    await controller.publishDesired(rig.deviceId, payload(rig.deviceId, version));
    const event = await rig.watch.waitForEvent((e) => e.type === 'desired.rejected' && e.code === code, 20_000, `desired.rejected ${code}`);
    expect(event.message).toMatch(reason);
    const report = await rig.watch.waitForReport((r) => r.rejected?.code === code, 20_000, `rejected ${code}`);
    expect(report.phase).toBe('failed');
    expect(report.desired.appliedVersion).toBe(1);
    expect(report.rejected?.reason).toMatch(reason);
    expect(report.errors.some((e) => e.code === code)).toBe(true);
    const after = await deviceContainers(rig.deviceId);
    expect(after.map((c) => [c.id, c.state, c.startedAt])).toEqual(before.map((c) => [c.id, c.state, c.startedAt]));
  });

  it('the agent process survived all of it and applies the next good version', async () => {
    expect(rig.agent?.exitInfo).toBeUndefined();
    version++;
    await rig.publish(version, { web: { image: TEST_IMAGE, env: { V: 'good' } } });
    const report = await rig.converged(version);
    expect(report.rejected).toBeNull();
    expect(report.errors).toEqual([]);
    const after = await deviceContainers(rig.deviceId);
    expect(after).toHaveLength(1);
    expect(after[0]?.env).toContain('V=good');
    expect(rig.watch.invalid).toEqual([]);
  });
});
