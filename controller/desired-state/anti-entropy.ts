import type { IClientOptions, MqttClient } from 'mqtt';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import { errorMessage } from '../../shared/errors.js';
import type { ServicePublisher } from '../mqtt/service-publisher.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { DesiredPublisher } from './desired-publisher.js';

export interface AntiEntropyDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  publisher: DesiredPublisher;
  mqtt: ServicePublisher;
  /** Opens a short-lived service connection to read what the broker retains. */
  openReader: (options: IClientOptions) => Promise<MqttClient>;
  logger: Logger;
  /** Quiet time that ends the retained burst after a SUBSCRIBE. */
  settleMs?: number;
  maxWaitMs?: number;
}

export interface AntiEntropyResult {
  checked: number;
  republished: string[];
  /** Devices whose retained version was above the controller's counter (controller state lost). */
  bumped: string[];
}

/**
 * Compares what the broker retains with what the controller last published,
 * and repairs the difference: a retained document that is missing or older
 * is published again (same version — agents treat it as a no-op if they have
 * it); one that is newer than the controller's record means the controller
 * lost state, so its counter is lifted past it and the device recomputed.
 * Runs at start, after every broker reconnect and periodically.
 */
export class AntiEntropy {
  constructor(private readonly deps: AntiEntropyDeps) {}

  async run(): Promise<AntiEntropyResult> {
    const { deps } = this;
    const retained = await this.readRetainedVersions();
    const ids = await deps.devices.ids();
    const pipeline = deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(deps.keys.desired(id), 'version', 'doc');
    const rows = (await pipeline.exec()) ?? [];
    const republished: string[] = [];
    const bumped: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string;
      const [err, value] = rows[i] ?? [null, null];
      if (err) continue;
      const [versionText, doc] = (value ?? [null, null]) as [string | null, string | null];
      const stored = versionText ? Number(versionText) : null;
      const broker = retained.get(id) ?? null;
      if (stored !== null && doc && (broker === null || broker < stored)) {
        try {
          await deps.mqtt.publish(deps.topics.desired(id), doc, { retain: true, qos: 1 });
          republished.push(id);
        } catch (e) {
          deps.logger.warn({ deviceId: id, err: errorMessage(e) }, 'anti-entropy republish failed');
        }
      } else if (broker !== null && (stored === null || broker > stored)) {
        await this.liftCounter(id, broker);
        bumped.push(id);
      }
    }
    if (bumped.length) await deps.publisher.recompute(bumped);
    if (republished.length || bumped.length) {
      deps.logger.info({ checked: ids.length, republished: republished.length, bumped: bumped.length }, 'anti-entropy repaired desired states');
    }
    return { checked: ids.length, republished, bumped };
  }

  private async liftCounter(id: string, atLeast: number): Promise<void> {
    const key = this.deps.keys.version(id);
    const current = Number((await this.deps.redis.get(key)) ?? 0);
    if (current < atLeast) await this.deps.redis.set(key, String(atLeast));
    // Force a fresh document: the stored hash no longer describes what the broker holds.
    await this.deps.redis.hdel(this.deps.keys.desired(id), 'hash');
  }

  /** device id → version of the retained desired document the broker holds. */
  private async readRetainedVersions(): Promise<Map<string, number>> {
    const { deps } = this;
    const out = new Map<string, number>();
    const client = await deps.openReader({ clean: true, reconnectPeriod: 0 });
    try {
      await new Promise<void>((resolveOuter, reject) => {
        const settleMs = deps.settleMs ?? 500;
        const resolve = (): void => {
          clearTimeout(timer);
          clearTimeout(hardStop);
          resolveOuter();
        };
        let timer = setTimeout(resolve, settleMs);
        const hardStop = setTimeout(resolve, deps.maxWaitMs ?? 30_000);
        client.on('message', (topic, payload) => {
          const parsed = deps.topics.parseDevice(topic);
          if (parsed?.channel === 'desired' && payload.length > 0) {
            try {
              const version = (JSON.parse(payload.toString('utf8')) as { version?: unknown }).version;
              if (typeof version === 'number') out.set(parsed.deviceId, version);
            } catch {
              // a malformed retained document counts as missing and is replaced
            }
          }
          clearTimeout(timer);
          timer = setTimeout(resolve, settleMs);
        });
        client.subscribe(deps.topics.allDevices('desired'), { qos: 0 }, (err) => {
          if (err) {
            clearTimeout(timer);
            clearTimeout(hardStop);
            reject(err);
          }
        });
      });
    } finally {
      await client.endAsync().catch(() => undefined);
    }
    return out;
  }
}
