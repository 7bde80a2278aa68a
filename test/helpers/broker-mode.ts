/**
 * Which broker the device plane of the end-to-end suite runs on:
 * `OUTPOST_TEST_BROKER=outpost` (default: Outpost's aedes broker) or
 * `mosquitto-dynsec` (Mosquitto 2.0 with its dynamic-security plugin, device
 * credentials managed by the controller, DD-030). Read when a fixture starts,
 * never at import time. `npm run test:e2e:mosquitto` sets it, and leaves out
 * the files that test Outpost's broker itself rather than the device plane:
 * broker-restart (kill -9 and Redis restarts of the aedes broker, its Redis),
 * quickstart (`outpost up`, whose embedded broker is the product), tls (the
 * aedes broker's TLS and certificate flags), controller-restarts (wipes aedes's
 * retained hash in Redis) and device-lifecycle (its injected purge writes the
 * Redis credential record, and it expects the will on rotation, which
 * Mosquitto's dynsec kick does not send).
 */
export type TestBrokerKind = 'outpost' | 'mosquitto-dynsec';

export function testBrokerKind(env: NodeJS.ProcessEnv = process.env): TestBrokerKind {
  const v = env.OUTPOST_TEST_BROKER;
  if (v === undefined || v === '' || v === 'outpost' || v === 'aedes') return 'outpost';
  if (v === 'mosquitto-dynsec') return 'mosquitto-dynsec';
  throw new Error(`OUTPOST_TEST_BROKER=${v}: use outpost or mosquitto-dynsec`);
}
