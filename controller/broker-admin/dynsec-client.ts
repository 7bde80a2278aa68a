import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { redactUrl } from '../../shared/redact-url.js';
import { serviceConnectOptions } from '../mqtt/service-connect-options.js';
import { BrokerAdminError } from './broker-admin-error.js';
import { DYNSEC_RESPONSE_TOPIC, DYNSEC_TOPIC, DynsecResponseMessage, type DynsecCommand, type DynsecResponse } from './dynsec-schemas.js';

export interface DynsecClientOptions {
  brokerUrl: string;
  username: string;
  password: string;
  /** Never a valid device id (DD-008). */
  clientId: string;
  /** How long one message of commands may wait for its answer. */
  timeoutMs: number;
  /** CA of the broker's certificate, for mqtts:// (DD-023). */
  ca?: Buffer;
}

/**
 * Most commands in one message. Mosquitto 2.0 rewrites its whole dynamic-security file after every
 * command (measured: ~30 ms of broker CPU per command at 2,000 clients, growing with the client
 * count) and runs a message's commands in one go: small messages let it serve other clients in
 * between, and keep one answer well inside the time-out.
 */
export const DYNSEC_BATCH = 10;

interface Waiter {
  resolve: (r: DynsecResponse) => void;
  reject: (err: Error) => void;
}

/**
 * The admin connection to Mosquitto's dynamic-security plugin: sends
 * commands, matches every answer to its command by `correlationData` (other
 * controllers share the response topic), and fails a command that is not
 * answered within the time-out with BROKER_ADMIN_TIMEOUT. Fails at once with
 * BROKER_ADMIN_UNAVAILABLE while disconnected, so nothing is queued to run
 * late. MQTT.js reconnects.
 */
export class DynsecClient {
  private client: MqttClient | null = null;
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly options: DynsecClientOptions,
    private readonly logger: Logger,
    private readonly connect: (url: string, opts: IClientOptions) => MqttClient = mqtt.connect,
  ) {}

  /** Starts connecting; resolves on the first ready connection. `onReady` runs after every (re)connect. */
  start(onReady: () => void = () => undefined): Promise<void> {
    const client = this.connect(this.options.brokerUrl, { ...serviceConnectOptions(this.options), queueQoSZero: false });
    this.client = client;
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => this.logger.warn({ err: err.message }, 'broker admin connection error'));
    client.on('close', () => this.failAll(new BrokerAdminError('BROKER_ADMIN_UNAVAILABLE', 'the broker admin connection closed before the answer')));
    return new Promise((resolve) => {
      client.on('connect', () => {
        client.subscribe(DYNSEC_RESPONSE_TOPIC, { qos: 1 }, (err, granted) => {
          if (err || granted?.[0]?.qos === 128) {
            this.logger.error({ err: err?.message }, 'broker admin cannot subscribe to the dynamic-security responses; is the admin client given the admin role?');
            return;
          }
          this.logger.info({ broker: redactUrl(this.options.brokerUrl) }, 'broker admin connected');
          resolve();
          try {
            onReady();
          } catch (e) {
            this.logger.warn({ err: errorMessage(e) }, 'broker admin ready handler failed');
          }
        });
      });
    });
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Sends the commands (in messages of at most DYNSEC_BATCH) and returns the answers in order. */
  async send(commands: readonly DynsecCommand[]): Promise<DynsecResponse[]> {
    const out: DynsecResponse[] = [];
    for (let i = 0; i < commands.length; i += DYNSEC_BATCH) out.push(...(await this.sendBatch(commands.slice(i, i + DYNSEC_BATCH))));
    return out;
  }

  /** One command; its answer's `error` becomes BROKER_ADMIN_REFUSED unless listed in `tolerate`. */
  async one(command: DynsecCommand, tolerate: readonly string[] = []): Promise<DynsecResponse> {
    const [response] = await this.send([command]);
    if (!response) throw new BrokerAdminError('BROKER_ADMIN_BAD_RESPONSE', `no answer for ${command.command}`);
    return checked(response, tolerate);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    this.failAll(new BrokerAdminError('BROKER_ADMIN_UNAVAILABLE', 'the broker admin connection was closed'));
    if (client) await client.endAsync(true).catch(() => undefined);
  }

  private sendBatch(commands: readonly DynsecCommand[]): Promise<DynsecResponse[]> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(new BrokerAdminError('BROKER_ADMIN_UNAVAILABLE', 'not connected to the broker as its admin'));
    const ids = commands.map(() => randomUUID());
    const answers = ids.map(
      (id) =>
        new Promise<DynsecResponse>((resolve, reject) => {
          this.waiters.set(id, { resolve, reject });
        }),
    );
    const timer = setTimeout(() => {
      for (const id of ids) {
        const w = this.waiters.get(id);
        this.waiters.delete(id);
        w?.reject(new BrokerAdminError('BROKER_ADMIN_TIMEOUT', `no answer from the dynamic-security plugin within ${this.options.timeoutMs} ms`));
      }
    }, this.options.timeoutMs);
    const payload = JSON.stringify({ commands: commands.map((c, i) => ({ ...c, correlationData: ids[i] })) });
    client.publish(DYNSEC_TOPIC, payload, { qos: 1 }, (err) => {
      if (!err) return;
      for (const id of ids) {
        const w = this.waiters.get(id);
        this.waiters.delete(id);
        w?.reject(new BrokerAdminError('BROKER_ADMIN_UNAVAILABLE', 'the admin command could not be sent', { cause: err }));
      }
    });
    return Promise.all(answers).finally(() => clearTimeout(timer));
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic !== DYNSEC_RESPONSE_TOPIC) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      this.logger.warn({ bytes: payload.length }, 'dynamic-security answer is not JSON');
      return;
    }
    const parsed = DynsecResponseMessage.safeParse(json);
    if (!parsed.success) {
      this.logger.warn({ err: parsed.error.message.slice(0, 300) }, 'dynamic-security answer has an unexpected shape');
      return;
    }
    for (const response of parsed.data.responses) {
      // Answers to other controllers' commands arrive here too.
      const id = response.correlationData;
      const w = id === undefined ? undefined : this.waiters.get(id);
      if (!w || id === undefined) continue;
      this.waiters.delete(id);
      w.resolve(response);
    }
  }

  private failAll(err: Error): void {
    for (const [id, w] of this.waiters) {
      this.waiters.delete(id);
      w.reject(err);
    }
  }
}

/** The answer, or BROKER_ADMIN_REFUSED with the broker's text (unless it is one of `tolerate`). */
export function checked(response: DynsecResponse, tolerate: readonly string[] = []): DynsecResponse {
  if (response.error === undefined || tolerate.includes(response.error)) return response;
  throw new BrokerAdminError('BROKER_ADMIN_REFUSED', `${response.command}: ${response.error}`, { brokerError: response.error });
}
