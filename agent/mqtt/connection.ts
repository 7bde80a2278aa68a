import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffPolicy } from '../../shared/backoff.js';
import type { Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { TlsMaterial } from './tls-files.js';
import { redactUrl } from '../../shared/redact-url.js';
import { connectRefusalHint } from './connect-refusal.js';

export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

export interface ConnectionOptions {
  deviceId: string;
  brokerUrl: string;
  /**
   * Further brokers of the same cluster (DD-046): after a failed attempt or a
   * lost connection the next attempt goes to the next URL, round robin, with
   * the same back-off. Absent or empty: always brokerUrl.
   */
  failoverUrls?: readonly string[];
  /** Absent: the client certificate (deps.currentTls) authenticates the device. */
  secret?: string | undefined;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
  reconnect: BackoffPolicy;
  /** Recreate the client when disconnected this long, whatever the reconnect loop thinks. */
  watchdogMs: number;
  /** Topics to subscribe (QoS 1) explicitly on every connect. */
  subscriptions: readonly string[];
  presenceTopic: string;
  publishTimeoutMs: number;
  /** Where the credential comes from, named in the error when the broker refuses the device (connect-refusal.ts). */
  credential?: string;
}

export interface ConnectionDeps {
  connect: ConnectFn;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** Next connection epoch (persisted by the caller), see Presence.epoch. */
  nextEpoch: () => Promise<number>;
  presencePayload: (status: 'online' | 'offline', epoch: number) => string;
  /**
   * Inbound messages. The PUBACK is sent only after this resolves, so a
   * desired document is acknowledged after it was persisted (or rejected).
   */
  onMessage: (topic: string, payload: Buffer) => Promise<void>;
  /**
   * The secret to present, asked before every attempt: a secret file the
   * operator replaced after `outpost device rotate-secret` is picked up by the
   * next reconnect without restarting the agent. Absent: options.secret.
   */
  currentSecret?: () => string;
  /** CA, client certificate and key for mqtts://, asked before every attempt (renewed files are picked up). */
  currentTls?: () => TlsMaterial;
}

interface ConnectionEvents {
  connected: [{ sessionPresent: boolean; epoch: number }];
  /** SUBACK for the explicit subscriptions received: retained documents follow. */
  subscribed: [];
  disconnected: [];
}

/**
 * The agent's MQTT session (DD-004). Persistent (clean: false, client id =
 * device id, QoS 1). MQTT.js's own reconnect is off: it has a fixed period,
 * stops after a refused CONNACK and has latched off in the field, and its
 * `resubscribe` skips SUBSCRIBE on session restore (pitfalls.md). Instead
 * every attempt is a fresh client with a fresh epoch in its will, spaced by
 * the shared full-jitter backoff, and a watchdog recreates the client if the
 * device has been disconnected for too long anyway.
 */
export class DeviceConnection extends EventEmitter<ConnectionEvents> {
  private client: MqttClient | null = null;
  private epoch = 0;
  private connected = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastChangeAt = 0;
  /** Index into brokerUrls of the broker the current (or next) attempt uses. */
  private brokerIndex = 0;
  private opening = false;
  private closed = false;
  private started = false;
  /** Publishes waiting for their PUBACK, per client: failed at once when that client's connection goes. */
  private readonly pendingPublishes = new WeakMap<MqttClient, Set<(err?: Error) => void>>();
  /** Bytes of the connections already discarded (telemetry). */
  private readonly pastBytes = { bytesIn: 0, bytesOut: 0 };

  constructor(
    private readonly options: ConnectionOptions,
    private readonly deps: ConnectionDeps,
  ) {
    super();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  private get brokerUrls(): readonly string[] {
    return [this.options.brokerUrl, ...(this.options.failoverUrls ?? [])];
  }

  /** The broker the current (or next) attempt uses. */
  get currentBrokerUrl(): string {
    return this.brokerUrls[this.brokerIndex] ?? this.options.brokerUrl;
  }

  /** Bytes read and written on the sockets of this device's MQTT connections, current and past (telemetry). */
  get bytes(): { bytesIn: number; bytesOut: number } {
    const current = streamBytes(this.client);
    return { bytesIn: this.pastBytes.bytesIn + current.bytesIn, bytesOut: this.pastBytes.bytesOut + current.bytesOut };
  }

  private failPending(client: MqttClient): void {
    const pending = this.pendingPublishes.get(client);
    if (!pending) return;
    this.pendingPublishes.delete(client);
    for (const settle of pending) settle(new Error('connection lost before the PUBACK'));
  }

  private retireBytes(client: MqttClient): void {
    const b = streamBytes(client);
    this.pastBytes.bytesIn += b.bytesIn;
    this.pastBytes.bytesOut += b.bytesOut;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.lastChangeAt = this.deps.clock.now();
    this.scheduleWatchdog();
    void this.open();
  }

  /** The watchdog looks four times per watchdogMs, on the injected clock. */
  private scheduleWatchdog(): void {
    this.watchdog = this.deps.clock.setTimeout(
      () => {
        this.checkWatchdog();
        if (!this.closed) this.scheduleWatchdog();
      },
      Math.max(250, Math.floor(this.options.watchdogMs / 4)),
    );
    this.watchdog.unref?.();
  }

  /** Publish QoS 1; resolves on PUBACK. Rejects at once when offline (callers keep what they must resend). */
  publish(topic: string, payload: string | Buffer, opts: { retain: boolean; qos?: 0 | 1 }): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      // MQTT.js keeps a persistent session's unacknowledged PUBLISH for a resend on *its* next
      // connection and never calls back; this client has none (each attempt is a new client).
      // So a publish still waiting when its connection goes fails then, not at the time-out, and
      // the caller resends it on the connection that follows (a failover takes well under that).
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        this.pendingPublishes.get(client)?.delete(settle);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => settle(new Error('publish timed out')), this.options.publishTimeoutMs);
      let pending = this.pendingPublishes.get(client);
      if (!pending) this.pendingPublishes.set(client, (pending = new Set()));
      pending.add(settle);
      client.publish(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain }, (err) => settle(err ?? undefined));
    });
  }

  /**
   * Publishes this connection's online presence again, same epoch (DD-061):
   * the controller stores it as before and answers with its clock, so a
   * device's clock is re-read without reconnecting. False when not connected
   * (the next connection's presence does it).
   */
  announceOnline(): boolean {
    const client = this.client;
    if (!client || !this.connected) return false;
    client.publish(this.options.presenceTopic, this.deps.presencePayload('online', this.epoch), { qos: 1, retain: true }, (err) => {
      if (err) this.deps.logger.debug({ err: err.message }, 'online presence not delivered');
    });
    return true;
  }

  /** Clean shutdown: publish offline presence (a clean DISCONNECT suppresses the will), then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deps.clock.clearTimeout(this.reconnectTimer);
    this.deps.clock.clearTimeout(this.watchdog);
    const client = this.client;
    this.client = null;
    if (!client) return;
    this.retireBytes(client);
    if (this.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(
          this.options.presenceTopic,
          this.deps.presencePayload('offline', this.epoch),
          { qos: 1, retain: true },
          () => {
            clearTimeout(t);
            resolve();
          },
        );
      });
    }
    this.connected = false;
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  private async open(): Promise<void> {
    if (this.closed || this.opening) return;
    this.opening = true;
    try {
      this.discardClient();
      this.epoch = await this.deps.nextEpoch();
      if (this.closed) return;
      this.lastChangeAt = this.deps.clock.now();
      const brokerUrl = this.currentBrokerUrl;
      const failover = this.brokerUrls.length > 1;
      const log = this.deps.logger.child(failover ? { epoch: this.epoch, broker: redactUrl(brokerUrl) } : { epoch: this.epoch });
      const password = this.deps.currentSecret?.() ?? this.options.secret;
      const client = this.deps.connect(brokerUrl, {
        clientId: this.options.deviceId,
        username: this.options.deviceId,
        ...(password ? { password } : {}),
        ...this.deps.currentTls?.(),
        clean: false,
        protocolVersion: 4,
        keepalive: this.options.keepaliveSeconds,
        connectTimeout: this.options.connectTimeoutMs,
        reconnectPeriod: 0,
        resubscribe: false,
        // mqtt-packet's number cache is 65,536 pre-built Buffers (~6 MB) for a client that sends a few packets a minute.
        writeCache: false,
        will: {
          topic: this.options.presenceTopic,
          payload: Buffer.from(this.deps.presencePayload('offline', this.epoch)),
          qos: 1,
          retain: true,
        },
      });
      this.client = client;
      client.handleMessage = (packet, callback) => {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        this.deps.onMessage(packet.topic, payload).then(
          () => callback(),
          (err: unknown) => {
            log.error({ err: errorMessage(err), topic: packet.topic }, 'message handler failed');
            callback();
          },
        );
      };
      client.on('connect', (connack) => {
        if (this.client !== client) return;
        this.connected = true;
        this.attempt = 0;
        this.lastChangeAt = this.deps.clock.now();
        log.info({ sessionPresent: connack.sessionPresent }, 'connected');
        this.emit('connected', { sessionPresent: connack.sessionPresent, epoch: this.epoch });
        this.subscribe(client, log);
        client.publish(
          this.options.presenceTopic,
          this.deps.presencePayload('online', this.epoch),
          { qos: 1, retain: true },
          (err) => {
            if (err) log.warn({ err: err.message }, 'online presence not delivered');
          },
        );
      });
      client.on('close', () => {
        this.failPending(client);
        if (this.client !== client) return;
        const wasConnected = this.connected;
        this.connected = false;
        this.lastChangeAt = this.deps.clock.now();
        if (wasConnected) {
          log.warn('disconnected');
          this.emit('disconnected');
        }
        this.nextBroker();
        this.scheduleReconnect();
      });
      client.on('error', (err) => {
        const code = (err as { code?: unknown }).code;
        const hint = connectRefusalHint(code, { deviceId: this.options.deviceId, credential: this.options.credential ?? 'the device secret' });
        // Same message as any MQTT error (what log searches look for), at error level and with what to check.
        if (hint) log.error({ err: err.message, code, deviceId: this.options.deviceId, hint }, 'mqtt error');
        else log.warn({ err: err.message, code }, 'mqtt error');
      });
    } catch (err) {
      this.deps.logger.error({ err: errorMessage(err) }, 'cannot open mqtt client');
      this.nextBroker();
      this.scheduleReconnect();
    } finally {
      this.opening = false;
    }
  }

  private subscribe(client: MqttClient, log: Logger): void {
    // Explicit SUBSCRIBE on every connect: the broker then sends the retained
    // desired document, which it does not do on session restore.
    const topics = Object.fromEntries(this.options.subscriptions.map((t) => [t, { qos: 1 as const }]));
    // A SUBACK that never comes leaves the device deaf: start over on a fresh connection.
    const subackTimer = setTimeout(() => {
      if (this.client !== client) return;
      log.warn('no SUBACK; reconnecting');
      client.end(true);
    }, this.options.connectTimeoutMs);
    client.subscribe(topics, (err, granted) => {
      clearTimeout(subackTimer);
      if (this.client !== client) return;
      if (err) {
        log.error({ err: err.message }, 'subscribe failed');
        return;
      }
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length) log.error({ topics: refused }, 'broker refused subscriptions');
      else log.info({ topics: Object.keys(topics) }, 'subscribed');
      this.emit('subscribed');
    });
  }

  /** After a failed attempt or a lost connection: the next broker of the list, if there are several. */
  private nextBroker(): void {
    const urls = this.brokerUrls;
    if (urls.length < 2) return;
    this.brokerIndex = (this.brokerIndex + 1) % urls.length;
    this.deps.logger.info({ broker: redactUrl(this.currentBrokerUrl) }, 'next attempt goes to the next broker');
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = backoffDelayMs(this.attempt, this.options.reconnect, this.deps.random);
    this.attempt++;
    this.deps.logger.debug({ delayMs: delay, attempt: this.attempt }, 'reconnect scheduled');
    this.reconnectTimer = this.deps.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  private checkWatchdog(): void {
    if (this.closed || this.connected || this.opening) return;
    const downFor = this.deps.clock.now() - this.lastChangeAt;
    if (downFor < this.options.watchdogMs) return;
    this.deps.logger.warn({ downForMs: downFor }, 'watchdog: recreating mqtt client');
    this.deps.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    void this.open();
  }

  private discardClient(): void {
    const old = this.client;
    this.client = null;
    this.connected = false;
    if (old) {
      this.failPending(old);
      this.retireBytes(old);
      old.removeAllListeners('connect');
      old.removeAllListeners('close');
      old.on('error', () => undefined);
      old.end(true);
    }
  }
}

/** Byte counters of a client's socket (net.Socket and tls.TLSSocket have them; other streams count as 0). */
function streamBytes(client: MqttClient | null): { bytesIn: number; bytesOut: number } {
  const stream = (client as { stream?: { bytesRead?: unknown; bytesWritten?: unknown } } | null)?.stream;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return { bytesIn: n(stream?.bytesRead), bytesOut: n(stream?.bytesWritten) };
}
