import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * Like mqtt.connectAsync, but `attach` runs on the client before it connects.
 * A broker may write a session's queued messages right behind the CONNACK;
 * MQTT.js emits them before an `await connectAsync(...)` continuation runs,
 * so listeners attached after it can miss them.
 *
 * Rejects when the connection closes before a CONNACK: MQTT.js emits only
 * `close` then (no `error`), which would otherwise leave the caller waiting
 * until the test's own time-out, with nothing to say what happened.
 */
export function connectEarly(url: string, options: IClientOptions, attach: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, options);
  attach(client);
  return new Promise((resolve, reject) => {
    const settle = (): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const onConnect = (): void => {
      settle();
      resolve(client);
    };
    const onError = (err: Error): void => {
      settle();
      client.end(true);
      reject(err);
    };
    const onClose = (): void => {
      settle();
      client.end(true);
      reject(new Error(`${options.clientId ?? 'client'}: the connection to ${url} closed before a CONNACK`));
    };
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
}
