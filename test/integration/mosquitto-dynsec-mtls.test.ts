import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { executeDynsecSteps } from '../../controller/broker-admin/dynsec-steps.js';
import { Topics } from '../../shared/topics.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { freePort } from '../helpers/free-port.js';
import { startMosquittoDynsecServer, type MosquittoDynsecServer } from '../helpers/mosquitto-dynsec.js';

/** The SUBACK return code for one filter (MQTT.js rejects a refused one). */
async function grantedQos(client: MqttClient, filter: string): Promise<number | undefined> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 }))[0]?.qos;
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted?.[0];
  }
}

/**
 * DD-030, device certificates on Mosquitto: a listener with
 * `require_certificate` + `use_identity_as_username` logs a device in as the
 * dynsec client named by its certificate's CN, without a password, and
 * gives it that client's role. Pins what differs from Outpost's broker: the
 * client id is not bound, and an unknown certificate connects with no access.
 */
describe('device certificates on Mosquitto with dynamic security', () => {
  const topics = new Topics();
  let pki: TestPki;
  let broker: MosquittoDynsecServer;
  let tlsPort: number;
  const open: MqttClient[] = [];

  const connectWithCert = async (id: string, clientId = id): Promise<MqttClient> => {
    const cert = await pki.ca.device(id);
    const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, {
      ca: readFileSync(pki.ca.cert),
      cert: readFileSync(cert.cert),
      key: readFileSync(cert.key),
      clientId,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    pki = await makeTestPki();
    tlsPort = await freePort();
    broker = await startMosquittoDynsecServer({
      extraConfig: [
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${pki.ca.cert}`,
        `certfile ${pki.server.cert}`,
        `keyfile ${pki.server.key}`,
        'require_certificate true',
        'use_identity_as_username true',
      ],
    });
  });

  afterAll(async () => {
    for (const c of open) await c.endAsync(true).catch(() => undefined);
    await broker?.stop();
    await pki?.remove();
  });

  it('a certificate whose CN is an enrolled device id gets exactly that device role, no password needed', async () => {
    await broker.enroll('cert-dev');
    // As the repair pass creates a client whose secret is unknown: no password at all.
    const [created] = await executeDynsecSteps(await broker.adminClient(), topics, [{ kind: 'create', deviceId: 'cert-nopw', secret: null }]);
    expect(created?.error).toBeNull();
    for (const id of ['cert-dev', 'cert-nopw']) {
      const c = await connectWithCert(id);
      expect(await grantedQos(c, topics.desired(id))).toBe(1);
      expect(await grantedQos(c, topics.desired('someone-else'))).toBe(128);
      expect(await grantedQos(c, `${topics.prefix}/devices/+/desired`)).toBe(128);
    }
  });

  it('differs from the Outpost broker: no client-id binding, and an unknown certificate connects with no access', async () => {
    const other = await connectWithCert('cert-dev', 'not-its-id');
    expect(await grantedQos(other, topics.desired('cert-dev'))).toBe(1);
    const unknown = await connectWithCert('never-enrolled');
    expect(await grantedQos(unknown, topics.desired('never-enrolled'))).toBe(128);
    // Decommissioned: the client and its role are gone, the certificate is left with nothing.
    const [deleted] = await executeDynsecSteps(await broker.adminClient(), topics, [{ kind: 'delete', deviceId: 'cert-nopw' }]);
    expect(deleted?.error).toBeNull();
    const revoked = await connectWithCert('cert-nopw');
    expect(await grantedQos(revoked, topics.desired('cert-nopw'))).toBe(128);
  });
});
