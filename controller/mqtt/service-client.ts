import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import { redactUrl } from '../../shared/redact-url.js';
import { KeyedSerial } from '../registry/serial.js';
import { serviceConnectOptions } from './service-connect-options.js';
import type { ServicePublisher } from './service-publisher.js';

export interface ServiceClientOptions {
  brokerUrl: string;
  username: string;
  password: string;
  /** Must not be a valid device id (DD-008). */
  clientId: string;
  subscriptions: readonly string[];
  publishTimeoutMs?: number;
  /** CA of the broker's certificate, for mqtts:// (DD-023). */
  ca?: Buffer;
  /** Messages with the same key are handled one after the other, in arrival order (default: per topic). */
  orderKey?: (topic: string) => string;
  /** Messages being handled at once, over all keys (default 64); beyond it the connection is not read. */
  maxInFlight?: number;
}

const DEFAULT_MAX_IN_FLIGHT = 64;

interface ServiceClientEvents {
  /** Every (re)connect, after the subscriptions were granted. */
  ready: [];
}

/**
 * The controller's MQTT connection (the service identity). Clean session: the
 * state the controller needs is retained (reported, presence) and arrives on
 * every subscribe; events missed while the controller was down are history.
 * MQTT.js reconnects (resubscribe is correct with clean sessions) and keeps
 * trying after a refused CONNACK.
 */
export class ServiceClient extends EventEmitter<ServiceClientEvents> implements ServicePublisher {
  private client: MqttClient | null = null;
  private readonly serial = new KeyedSerial();
  private inFlight = 0;
  /** MQTT.js's callback of the message that filled the window: it reads no further until called. */
  private blocked: (() => void) | undefined;

  constructor(
    private readonly options: ServiceClientOptions,
    private readonly onMessage: (topic: string, payload: Buffer) => Promise<unknown>,
    private readonly logger: Logger,
    private readonly connect: (url: string, opts: IClientOptions) => MqttClient = mqtt.connect,
  ) {
    super();
  }

  /** Resolves on the first successful connect. */
  start(): Promise<void> {
    const client = this.connect(this.options.brokerUrl, serviceConnectOptions(this.options));
    this.client = client;
    // In arrival order per key (a device's messages), different keys at once
    // up to maxInFlight: one device's report waits for its earlier event,
    // not for every other device's (a fleet's reports in a rollout came one
    // Redis round trip after another). MQTT.js sends the PUBACK when the
    // callback runs and reads the next packet only then, so the window is
    // also the flow control. The PUBACK no longer waits for the store: with a
    // clean session (above) an unacknowledged message is never redelivered
    // anyway, so holding it bought nothing but the one-at-a-time pace.
    const max = this.options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const keyOf = this.options.orderKey ?? ((topic: string) => topic);
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.inFlight += 1;
      void this.serial
        .run(keyOf(packet.topic), () => this.onMessage(packet.topic, payload))
        .catch((err: unknown) => this.logger.error({ topic: packet.topic, err: errorMessage(err) }, 'message handler failed'))
        .finally(() => {
          this.inFlight -= 1;
          const release = this.blocked;
          this.blocked = undefined;
          release?.();
        });
      if (this.inFlight < max) callback();
      else this.blocked = callback;
    };
    client.on('error', (err) => this.logger.warn({ err: err.message }, 'controller mqtt error'));
    client.on('close', () => this.logger.debug('controller mqtt connection closed'));
    return new Promise((resolve) => {
      client.on('connect', () => {
        this.logger.info({ broker: redactUrl(this.options.brokerUrl) }, 'controller connected to broker');
        if (this.options.subscriptions.length === 0) {
          this.emit('ready');
          resolve();
          return;
        }
        client.subscribe([...this.options.subscriptions], { qos: 1 }, (err) => {
          if (err) this.logger.error({ err: err.message }, 'controller subscribe failed');
          this.emit('ready');
          resolve();
        });
      });
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Resolves on PUBACK. Fails at once while disconnected instead of queueing:
   * a document queued inside MQTT.js could reach the broker long after this
   * controller gave up on it, after a newer version another controller
   * published meanwhile. The caller keeps it unpublished and retries (DD-021).
   */
  publish(topic: string, payload: string | Buffer, opts: { retain: boolean; qos?: 0 | 1 }): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('controller mqtt client not started'));
    if (!client.connected) return Promise.reject(new Error('not connected to the broker'));
    return new Promise((resolve, reject) => {
      const onAck = (err?: Error): void => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        withdraw(client, onAck);
        reject(new Error(`publish to ${topic} timed out`));
      }, this.options.publishTimeoutMs ?? 30_000);
      client.publish(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain }, onAck);
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync().catch(() => undefined);
  }
}

/**
 * Takes a publish MQTT.js still holds (in flight, to be resent on
 * reconnect, or not yet sent) back, so it can never be sent late.
 */
function withdraw(client: MqttClient, callback: (err?: Error) => void): void {
  const outgoing = (client as unknown as { outgoing: Record<string, { cb: unknown }> }).outgoing;
  for (const [id, entry] of Object.entries(outgoing)) {
    if (entry.cb === callback) client.removeOutgoingMessage(Number(id));
  }
  const queue = (client as unknown as { _storeProcessingQueue?: { callback?: unknown }[] })._storeProcessingQueue;
  if (queue) {
    const i = queue.findIndex((q) => q.callback === callback);
    if (i >= 0) queue.splice(i, 1);
  }
}
