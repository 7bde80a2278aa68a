import { SimulatedRuntime } from '../../agent/runtime/simulated-runtime.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { describeRuntimeContract } from '../helpers/runtime-contract.js';

const REGISTRY = '127.0.0.1:5999';

/** The same contract on the simulated engine, set up as a world like the Docker one: two local images, one registry. */
describeRuntimeContract('SimulatedRuntime', async () => {
  const runtime = new SimulatedRuntime({
    seed: 7,
    pullLatencyMs: 20,
    startLatencyMs: 5,
    preloadedImages: [TEST_IMAGE, TEST_IMAGE_2],
    registryImages: [`${REGISTRY}/contract/busybox:1`],
    unreachableRegistries: ['127.0.0.1:1'],
    missingExecutables: ['/no/such/binary'],
  });
  return {
    runtime,
    image: TEST_IMAGE,
    image2: TEST_IMAGE_2,
    pullable: `${REGISTRY}/contract/busybox:1`,
    missingInRegistry: `${REGISTRY}/contract/busybox:no-such-tag`,
    unreachable: '127.0.0.1:1/contract/unreachable:1',
    missingExecutable: '/no/such/binary',
    async cleanup(deviceId, extra) {
      for (const c of await runtime.listContainers(deviceId)) await runtime.removeContainer(c.id);
      for (const i of extra.images) await runtime.removeImage(i);
    },
    async close() {
      runtime.close();
    },
  };
});
