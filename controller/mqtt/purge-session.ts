import { randomBytes } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';

export interface SessionPurgeDeps {
  brokerUrl: string;
  connect: (url: string, options: IClientOptions) => Promise<MqttClient>;
  /** Sets a device credential (the broker checks it on CONNECT). */
  setSecret: (deviceId: string, secret: string) => Promise<void>;
}

/**
 * Removes a device's persistent session and queued messages using nothing but
 * MQTT semantics: a CONNECT with CleanSession=1 discards the stored session
 * [MQTT-3.1.2-6] (and takes over any live connection). aedes has no session
 * expiry (pitfalls.md), so without this a decommissioned device's queue would
 * live forever. The caller revokes the credential afterwards.
 */
export async function purgeDeviceSession(deviceId: string, deps: SessionPurgeDeps): Promise<void> {
  const secret = randomBytes(24).toString('base64url');
  await deps.setSecret(deviceId, secret);
  const client = await deps.connect(deps.brokerUrl, {
    clientId: deviceId,
    username: deviceId,
    password: secret,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  await client.endAsync();
}
