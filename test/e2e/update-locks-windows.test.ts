import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE, TEST_IMAGE_2, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, desiredDoc, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

const docker = new Docker();

async function exec(containerId: string, script: string): Promise<void> {
  const e = await docker.getContainer(containerId).exec({ Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', () => resolve());
    stream.resume();
  });
  const info = await e.inspect();
  if (info.ExitCode !== 0) throw new Error(`exec "${script}" exited ${info.ExitCode}`);
}

/** Update locks defer an update (force overrides); apply windows hold it until they open; both download first. */
describe('update locks and apply windows', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let controller: TestController;
  let rig: DeviceRig;
  dumpOnFailure((): Record<string, string> => (rig?.agent ? { agent: rig.agent.output() } : {}));
  const v = (n: number): WorkloadSpecInput => ({ image: TEST_IMAGE, env: { V: String(n) }, stopTimeoutSeconds: 2 });

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry()]);
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'lock');
    await rig.startAgent({ extraArgs: ['--lock-poll-ms', '500'] });
    await rig.publish(1, { app: v(1) });
    await rig.converged(1, 60_000);
  });

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
  });

  const appContainer = async () => (await deviceContainers(rig.deviceId)).find((c) => c.workload === 'app')!;
  const lockFile = () => join(rig.stateDir.path, 'locks', 'app', 'updates.lock');

  it('a workload holding its lock defers the update (still downloading), which applies once released', async () => {
    const held = await appContainer();
    // The workload takes its lock with O_EXCL (noclobber) in the directory the agent shares with it.
    await exec(held.id, 'set -C; echo $$ > /run/outpost/updates.lock');
    expect(existsSync(lockFile())).toBe(true);

    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, 'locked/app', '2');
    const next: WorkloadSpecInput = { image: `${registry.host}/locked/app@${digest}`, env: { V: '2' }, stopTimeoutSeconds: 2 };
    await rig.publish(2, { app: next });
    const report = await rig.watch.waitForReport((r) => r.phase === 'deferred', 30_000, 'deferred: locked');
    expect(report.deferred).toMatchObject({ version: 2, reason: 'locked', workloads: ['app'] });
    expect(report.workloads.app).toMatchObject({ state: 'deferred', reason: expect.stringMatching(/deferred: locked/) });
    // Downloaded already, container untouched.
    expect(await docker.getImage(next.image).inspect()).toBeTruthy();
    await new Promise((r) => setTimeout(r, 2000));
    expect((await appContainer()).id).toBe(held.id);

    await exec(held.id, 'rm /run/outpost/updates.lock');
    await rig.converged(2, 30_000);
    expect((await appContainer()).specHash).toBe(expectedHash(next));
  });

  it('force in the desired state overrides a held lock', async () => {
    const held = await appContainer();
    await exec(held.id, 'set -C; echo $$ > /run/outpost/updates.lock');
    await controller.publishDesired(rig.deviceId, { ...desiredDoc(rig.deviceId, 3, { app: v(3) }), force: true });
    await rig.converged(3, 30_000);
    expect((await appContainer()).specHash).toBe(expectedHash(v(3)));
  });

  it('a version with an apply time in the future downloads at once and applies only then', async () => {
    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, 'windowed/app', '4');
    const next: WorkloadSpecInput = { image: `${registry.host}/windowed/app@${digest}`, env: { V: '4' } };
    const after = new Date(Date.now() + 8000);
    const before = await appContainer();
    await controller.publishDesired(rig.deviceId, { ...desiredDoc(rig.deviceId, 4, { app: next }), apply: { after: after.toISOString() } });
    const deferred = await rig.watch.waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === 4, 30_000, 'deferred: window');
    expect(deferred.deferred).toMatchObject({ reason: 'window', until: after.toISOString() });
    expect(await docker.getImage(next.image).inspect()).toBeTruthy();
    // What ran when the agent said it waits (read from Docker for the report): the old container. Not looked
    // up now: on a slow machine the apply time may already have come.
    expect(before.id.startsWith(deferred.workloads.app?.containerId ?? '-')).toBe(true);
    const done = await rig.converged(4, 30_000);
    expect(Date.parse(done.reportedAt)).toBeGreaterThanOrEqual(after.getTime());
    expect((await appContainer()).specHash).toBe(expectedHash(next));
  });

  it('a device that comes back outside its maintenance window does not update early', async () => {
    await rig.stopAgent();
    // A window that opens at 03:00 Pacific/Kiritimati only: not now (the test is not run then), and long enough away.
    const window = { cron: '0 3 * * *', durationMinutes: 1, timezone: 'Pacific/Kiritimati' };
    const now = new Date();
    const kiritimatiHour = Number(new Intl.DateTimeFormat('en', { hour: 'numeric', hourCycle: 'h23', timeZone: window.timezone }).format(now));
    if (kiritimatiHour === 3) return; // the one minute a day this case cannot be checked
    const before = await appContainer();
    await controller.publishDesired(rig.deviceId, { ...desiredDoc(rig.deviceId, 5, { app: v(5) }), apply: { window } });
    await rig.startAgent();
    const report = await rig.watch.waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === 5, 30_000, 'deferred until the window');
    expect(Date.parse(report.deferred?.until ?? '')).toBeGreaterThan(Date.now());
    await new Promise((r) => setTimeout(r, 2000));
    expect((await appContainer()).id).toBe(before.id);
    expect(report.desired.appliedVersion).toBe(4);
  });
});
