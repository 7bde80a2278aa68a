import type { IClientOptions } from 'mqtt';

/** Who a controller connection is, and the broker's CA for mqtts:// (DD-023). */
export interface ServiceIdentity {
  username: string;
  password: string;
  /** Never a valid device id (DD-008). */
  clientId: string;
  ca?: Buffer;
}

/**
 * MQTT.js options of the controller's own connections (service client, broker
 * admin): a clean session that reconnects every second, also after a refused
 * CONNACK (credentials a starting broker does not know yet), keepalive 30 s.
 */
export function serviceConnectOptions(identity: ServiceIdentity): IClientOptions {
  return {
    clientId: identity.clientId,
    username: identity.username,
    password: identity.password,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    keepalive: 30,
    ...(identity.ca ? { ca: identity.ca } : {}),
  };
}
