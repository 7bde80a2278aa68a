/**
 * Which broker the device plane of the end-to-end suite runs on:
 * `OUTPOST_TEST_BROKER=outpost` (default: Outpost's aedes broker) or
 * `mosquitto-dynsec` (Mosquitto 2.0 with its dynamic-security plugin, device
 * credentials managed by the controller, DD-030). Read when a fixture starts,
 * never at import time. `npm test` runs test/e2e a second time with
 * `mosquitto-dynsec` (DD-034); a test that is about Outpost's broker process
 * itself skips there inside its own file (`describe.skipIf`), naming what
 * covers the equivalent on Mosquitto.
 */
export type TestBrokerKind = 'outpost' | 'mosquitto-dynsec';

export function testBrokerKind(env: NodeJS.ProcessEnv = process.env): TestBrokerKind {
  const v = env.OUTPOST_TEST_BROKER;
  if (v === undefined || v === '' || v === 'outpost' || v === 'aedes') return 'outpost';
  if (v === 'mosquitto-dynsec') return 'mosquitto-dynsec';
  throw new Error(`OUTPOST_TEST_BROKER=${v}: use outpost or mosquitto-dynsec`);
}
