import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureOutpostImage } from '../helpers/agent-image.js';
import { startAedesFixture, type BrokerFixture } from '../helpers/brokers.js';
import { createDeviceRig, type DeviceRig } from '../helpers/device-rig.js';
import { DEVICE_LABEL } from '../helpers/docker.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';

/**
 * Issue 12: the image of compose/Dockerfile, built from the local base, runs
 * the agent in a container (host network: the test broker listens on
 * loopback; the Docker socket mounted) with a config file, and converges.
 */
describe('the agent image from compose/Dockerfile', () => {
  const docker = new Docker();
  let image: string;
  let broker: BrokerFixture;
  let controller: TestController;
  let rig: DeviceRig;
  let etc: TempDir;
  let state: TempDir;
  let logs = '';
  dumpOnFailure((): Record<string, string> => ({ container: logs }));

  beforeAll(async () => {
    image = await ensureOutpostImage(docker);
    broker = await startAedesFixture();
    controller = await connectTestController(broker.url, broker.serviceAuth);
    rig = await createDeviceRig(broker, controller, 'image');
    etc = await makeTempDir('image-etc');
    state = await makeTempDir('image-state');
  }, 900_000);

  afterAll(async () => {
    await rig?.dispose();
    await controller?.close();
    await broker?.stop();
    await etc?.remove();
    await state?.remove();
  });

  it('runs `outpost agent --config` in a container, reaches the host broker and converges', async () => {
    await writeFile(join(etc.path, 'device.secret'), `${rig.secret}\n`, { mode: 0o600 });
    await writeFile(
      join(etc.path, 'agent.yaml'),
      [`device: ${rig.deviceId}`, `broker: ${broker.url}`, 'secret-file: device.secret', `state-dir: ${state.path}`, 'accept-unsigned: true', 'settle-ms: 300', 'log-level: debug', ''].join('\n'),
    );
    const container = await docker.createContainer({
      Image: image,
      Cmd: ['agent', '--config', '/etc/outpost/agent.yaml'],
      // Not io.outpost.managed: the agent leaves it alone; the rig's clean-up removes it by its device label.
      Labels: { [DEVICE_LABEL]: rig.deviceId },
      // The state directory at the same path as on the host: the engine binds its locks directory into workloads.
      HostConfig: { NetworkMode: 'host', Binds: [`${etc.path}:/etc/outpost:ro`, `${state.path}:${state.path}`, '/var/run/docker.sock:/var/run/docker.sock'] },
    });
    await container.start();
    try {
      await rig.publish(1, { web: { image: TEST_IMAGE } });
      const report = await rig.converged(1);
      expect(report.phase).toBe('converged');
    } finally {
      logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
    }
    expect(logs).toContain('"msg":"agent started"');
    expect(logs).not.toContain(rig.secret);
  });
});
