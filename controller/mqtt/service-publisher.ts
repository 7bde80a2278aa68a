/** What the controller needs from its MQTT connection to publish: QoS 1 publishes resolved on PUBACK. */
export interface ServicePublisher {
  publish(topic: string, payload: string | Buffer, opts: { retain: boolean; qos?: 0 | 1 }): Promise<void>;
}
