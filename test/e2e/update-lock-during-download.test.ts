import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { RELEASE_UPDATE_LOCK, TAKE_UPDATE_LOCK, execIn, execStatus } from '../helpers/container-exec.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { startGateProxy, type GateProxy } from '../helpers/gate-proxy.js';
import { TEST_IMAGE, TEST_IMAGE_2, pushToRegistry } from '../helpers/images.js';
import { startRegistry, type RegistryServer } from '../helpers/registry.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';

const docker = new Docker();
/** The test follows the update's steps as they happen: every step as its own event. */
const STEP_EVENTS = ['--lock-poll-ms', '300', '--event-detail', 'steps'];

/**
 * DD-018: the lock decision comes after the download, and the agent takes the
 * lock itself (O_EXCL) before it stops anything, so a workload that locks
 * while a pull is in progress is not stopped.
 */
describe('update lock taken while the update downloads', () => {
  let broker: BrokerFixture;
  let registry: RegistryServer;
  let gate: GateProxy;
  let controller: TestController;
  const rigs: DeviceRig[] = [];
  dumpOnFailure((): Record<string, string> => Object.fromEntries(rigs.filter((r) => r.agent).map((r) => [`agent ${r.deviceId}`, r.agent!.output()])));

  beforeAll(async () => {
    [broker, registry] = await Promise.all([startAedesFixture(), startRegistry()]);
    gate = await startGateProxy(registry.port);
    controller = await connectTestController(broker.url, broker.serviceAuth);
  });

  afterAll(async () => {
    await controller?.close();
    await gate?.close();
    await Promise.all([broker?.stop(), registry?.stop()]);
  });

  async function deviceAt(prefix: string, v1: WorkloadSpecInput): Promise<DeviceRig> {
    const rig = await createDeviceRig(broker, controller, prefix);
    rigs.push(rig);
    onTestFinished(() => rig.dispose());
    await rig.startAgent({ extraArgs: STEP_EVENTS });
    await rig.publish(1, { app: v1 });
    await rig.converged(1);
    return rig;
  }
  const appContainers = async (rig: DeviceRig) => (await deviceContainers(rig.deviceId)).filter((c) => c.workload === 'app');
  const lockFile = (rig: DeviceRig) => join(rig.stateDir.path, 'locks', 'app', 'updates.lock');

  it('a lock taken during the pull defers the update, the old container keeps running, and it applies once released', async () => {
    const rig = await deviceAt('lockpull', { image: TEST_IMAGE, env: { V: '1' }, stopTimeoutSeconds: 2 });
    const [old] = await appContainers(rig);
    const digest = await pushToRegistry(TEST_IMAGE_2, registry.host, 'slow/app', '2');
    // Pulled through the gate: the pull stays in progress until the test opens it.
    const next: WorkloadSpecInput = { image: `${gate.host}/slow/app@${digest}`, env: { V: '2' }, stopTimeoutSeconds: 2 };
    onTestFinished(() => docker.getImage(next.image).remove({ noprune: true }).then(() => undefined, () => undefined));
    gate.hold(/\/manifests\//);
    onTestFinished(() => gate.open());
    await rig.publish(2, { app: next });

    await rig.watch.waitForEvent((e) => e.type === 'step.started' && e.version === 2 && e.data.step === 'pull', 30_000, 'pull of v2 started');
    await gate.waitForHeld();
    // The workload enters its critical section while the agent is still downloading.
    await execIn(old!.id, TAKE_UPDATE_LOCK);
    gate.open();

    const report = await rig.watch.waitForReport((r) => r.phase === 'deferred' && r.deferred?.version === 2, 30_000, 'deferred: locked');
    expect(report.deferred).toMatchObject({ version: 2, reason: 'locked', workloads: ['app'] });
    expect(report.workloads.app).toMatchObject({ state: 'deferred', containerId: old!.id.slice(0, 12) }); // compact reports: 12-digit ids (DD-037)
    expect(await docker.getImage(next.image).inspect()).toBeTruthy();
    expect((await appContainers(rig)).map((c) => [c.id, c.state])).toEqual([[old!.id, 'running']]);
    expect(rig.watch.events.filter((e) => e.version === 2 && e.data.step === 'stop')).toEqual([]);
    // The workload's own lock is untouched.
    expect((await readFile(lockFile(rig), 'utf8')).trim()).toMatch(/^\d+$/);

    const releasedAt = rig.watch.events.length;
    await execIn(old!.id, RELEASE_UPDATE_LOCK);
    await rig.converged(2);
    const [now] = await appContainers(rig);
    expect(now).toMatchObject({ specHash: expectedHash(next), state: 'running' });
    // The old container was stopped only after the workload released its lock.
    const firstStop = rig.watch.events.findIndex((e) => e.version === 2 && e.type === 'step.started' && e.data.step === 'stop');
    expect(firstStop).toBeGreaterThanOrEqual(releasedAt);
    // The agent's own lock is gone with the update: the new container starts unlocked.
    await execIn(now!.id, TAKE_UPDATE_LOCK);
    await execIn(now!.id, RELEASE_UPDATE_LOCK);
  });

  it('while the agent replaces a workload it holds the lock itself; a lock it left when killed does not block the update', async () => {
    const v1: WorkloadSpecInput = { image: TEST_IMAGE, env: { V: '1' }, strategy: 'hand-over', stopTimeoutSeconds: 2 };
    const rig = await deviceAt('lockkill', v1);
    const [old] = await appContainers(rig);
    await rig.stopAgent();
    const agent = await rig.startAgent({ env: { OUTPOST_FAULT_CRASH_AFTER: 'start' }, extraArgs: STEP_EVENTS });
    const v2: WorkloadSpecInput = { ...v1, env: { V: '2' } };
    await rig.publish(2, { app: v2 });
    // hand-over: the new container started beside the old one, and the agent is killed before the commit.
    expect((await agent.waitForExit(60_000)).signal, agent.output()).toBe('SIGKILL');
    expect((await appContainers(rig)).map((c) => c.state)).toEqual(['running', 'running']);
    // The lock the agent took before touching the workload is still there: the old container cannot take it.
    expect(await readFile(lockFile(rig), 'utf8')).toMatch(/^outpost-agent\b/);
    expect(await execStatus(old!.id, TAKE_UPDATE_LOCK)).not.toBe(0);

    await rig.startAgent({ extraArgs: STEP_EVENTS });
    await rig.converged(2);
    const after = await appContainers(rig);
    expect(after.map((c) => [c.specHash, c.state])).toEqual([[expectedHash(v2), 'running']]);
    await execIn(after[0]!.id, TAKE_UPDATE_LOCK);
    await execIn(after[0]!.id, RELEASE_UPDATE_LOCK);
  });
});
