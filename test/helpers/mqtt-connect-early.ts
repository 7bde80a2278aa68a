import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * Like mqtt.connectAsync, but `attach` runs on the client before it connects.
 * A broker may write a session's queued messages right behind the CONNACK;
 * MQTT.js emits them before an `await connectAsync(...)` continuation runs,
 * so listeners attached after it can miss them.
 */
export function connectEarly(url: string, options: IClientOptions, attach: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, options);
  attach(client);
  return new Promise((resolve, reject) => {
    const onConnect = (): void => {
      client.off('error', onError);
      resolve(client);
    };
    const onError = (err: Error): void => {
      client.off('connect', onConnect);
      client.end(true);
      reject(err);
    };
    client.once('connect', onConnect);
    client.once('error', onError);
  });
}
