import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAgent } from '../helpers/agent-process.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { deviceContainers, expectedHash } from '../helpers/device-containers.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import type { ManagedProcess } from '../helpers/process.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, desiredDoc, type DeviceWatch, type TestController } from '../helpers/test-controller.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';

const run = promisify(execFile);

/** The agent's state directory fills up: a clear failure, the old workload keeps running, state intact after space returns. */
describe('disk full', () => {
  let broker: BrokerFixture;
  let controller: TestController;
  let dir: TempDir;
  let agent: ManagedProcess | undefined;
  let watch: DeviceWatch;
  const deviceId = `full-${Math.random().toString(36).slice(2, 8)}`;
  dumpOnFailure((): Record<string, string> => (agent ? { agent: agent.output() } : {}));
  const v = (n: number) => ({ app: { image: TEST_IMAGE, env: { V: String(n), PAD: 'x'.repeat(2000) } } });

  beforeAll(async () => {
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    dir = await makeTempDir('diskfull');
    // A small tmpfs as the agent's state directory.
    await run('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir.path]);
    watch = await controller.watch(deviceId);
    const secret = await broker.enroll(deviceId);
    agent = await startAgent({ deviceId, brokerUrl: broker.url, secret, stateDir: dir.path, extraArgs: ['--locks-dir', join(dir.path, '..', `${deviceId}-locks`)] });
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 1, v(1)));
    await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 1, 60_000);
  });

  afterAll(async () => {
    await agent?.stop();
    await controller?.close();
    await broker?.stop();
    await removeDeviceContainers(deviceId);
    await run('umount', [dir.path]).catch(() => undefined);
    await dir?.remove();
    await rm(join(dir.path, '..', `${deviceId}-locks`), { recursive: true, force: true });
  });

  it('reports the failure, keeps the old workload, and applies once space returns', async () => {
    const [before] = await deviceContainers(deviceId);
    const cachedBefore = await readFile(join(dir.path, 'desired.json'), 'utf8');
    // Fill the disk (dd stops at ENOSPC).
    await run('sh', ['-c', `dd if=/dev/zero of=${join(dir.path, 'filler')} bs=4k 2>/dev/null || true`]);
    await controller.publishDesired(deviceId, desiredDoc(deviceId, 2, v(2)));
    const failed = await watch.waitForReport((r) => r.phase === 'failed' && r.errors.some((e) => e.code === 'STATE_WRITE_FAILED'), 30_000, 'STATE_WRITE_FAILED');
    expect(failed.errors.find((e) => e.code === 'STATE_WRITE_FAILED')?.message).toMatch(/ENOSPC|no space/i);
    expect(failed.desired.appliedVersion).toBe(1);
    expect((await deviceContainers(deviceId)).map((c) => [c.id, c.state])).toEqual([[before?.id, 'running']]);
    // No state file is half-written: the cached document is still the complete v1.
    expect(await readFile(join(dir.path, 'desired.json'), 'utf8')).toBe(cachedBefore);
    expect(DesiredState.parse(JSON.parse(cachedBefore)).version).toBe(1);

    await rm(join(dir.path, 'filler'));
    const done = await watch.waitForReport((r) => r.phase === 'converged' && r.desired.appliedVersion === 2, 90_000, 'converged after space returned');
    expect(done.errors.filter((e) => e.code === 'STATE_WRITE_FAILED')).toEqual([]);
    expect((await deviceContainers(deviceId))[0]?.specHash).toBe(expectedHash(v(2).app));
    expect(DesiredState.parse(JSON.parse(await readFile(join(dir.path, 'desired.json'), 'utf8'))).version).toBe(2);
    await writeFile(join(dir.path, 'probe'), 'ok'); // the disk is writable again
  });
});
