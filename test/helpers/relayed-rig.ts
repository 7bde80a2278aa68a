import type { WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { startAedesFixture, type BrokerFixture } from './brokers.js';
import { createDeviceRig, type DeviceRig } from './device-rig.js';
import { TEST_IMAGE } from './images.js';
import { startMqttRelay, type LinkShape, type MqttRelay } from './mqtt-relay.js';
import { connectTestController, type TestController } from './test-controller.js';

/** A device whose agent reaches the broker through a counting (and optionally slow) MQTT relay. */
export interface RelayedRig {
  broker: BrokerFixture;
  controller: TestController;
  relay: MqttRelay;
  rig: DeviceRig;
  close(): Promise<void>;
}

export async function startRelayedRig(prefix: string, link?: LinkShape): Promise<RelayedRig> {
  const broker = await startAedesFixture();
  const controller = await connectTestController(broker.url, broker.serviceAuth);
  const relay = await startMqttRelay(Number(new URL(broker.url).port), link);
  const rig = await createDeviceRig(broker, controller, prefix);
  return {
    broker,
    controller,
    relay,
    rig,
    async close() {
      await rig.dispose();
      await relay.close();
      await controller.close();
      await broker.stop();
    },
  };
}

/** Three workloads (a, b, c) of the test image; a new `tag` changes all three. */
export function threeWorkloads(tag: string): Record<string, WorkloadSpecInput> {
  return Object.fromEntries(['a', 'b', 'c'].map((w) => [w, { image: TEST_IMAGE, env: { TAG: tag }, stopTimeoutSeconds: 1 }]));
}
