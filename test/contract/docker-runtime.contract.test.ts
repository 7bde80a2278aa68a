import Docker from 'dockerode';
import { DockerRuntime } from '../../agent/runtime/docker-runtime.js';
import { removeDeviceContainers } from '../helpers/docker.js';
import { ensureStandardTestImages, ensureTestImage, pushToRegistry, TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { startRegistry } from '../helpers/registry.js';
import { describeRuntimeContract } from '../helpers/runtime-contract.js';

async function ignoreMissing(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 404) throw err;
  }
}

/** The contract on a real engine: images built locally (no public registry), pulls from a local registry. */
describeRuntimeContract('DockerRuntime on a real engine', async () => {
  const docker = new Docker();
  await ensureStandardTestImages(docker);
  const registry = await startRegistry();
  const repo = `contract/busybox-${Math.random().toString(36).slice(2, 8)}`;
  // An image of its own, known to the engine only by the registry reference once pulled (as on a device).
  const local = `outpost-contract/pullable:${repo.slice(-6)}`;
  await ensureTestImage(local, { label: `contract-${repo.slice(-6)}`, docker });
  await pushToRegistry(local, registry.host, repo, '1');
  await docker.getImage(local).remove();
  return {
    runtime: new DockerRuntime({ docker }),
    image: TEST_IMAGE,
    image2: TEST_IMAGE_2,
    pullable: `${registry.host}/${repo}:1`,
    missingInRegistry: `${registry.host}/${repo}:no-such-tag`,
    unreachable: '127.0.0.1:1/contract/unreachable:1',
    missingExecutable: '/no/such/binary',
    async cleanup(deviceId, extra) {
      await removeDeviceContainers(deviceId, docker);
      for (const v of extra.volumes) await ignoreMissing(docker.getVolume(v).remove());
      for (const i of extra.images) await ignoreMissing(docker.getImage(i).remove({ noprune: true }));
    },
    async close() {
      await registry.close();
    },
  };
});
