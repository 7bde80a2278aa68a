import type { IClientOptions, MqttClient } from 'mqtt';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import { errorMessage } from '../../shared/errors.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import { deviceScope, RegistryTx } from '../registry/registry-tx.js';
import type { IntentDrain } from './intent-drain.js';

export interface AntiEntropyDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  drain: IntentDrain;
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
 * Compares what the broker retains with what the controller last stored,
 * and repairs the difference: a retained document that is missing or older
 * is marked unpublished, so the drain publishes it again (same version —
 * agents treat it as a no-op if they have it); one that is newer than the
 * controller's record means the controller lost state, so its counter is
 * lifted past it (an atomic max: never lowered, whoever else raises it) and
 * the device marked dirty for a fresh version. Every pass ends with a drain,
 * which also publishes whatever a crash left dirty or unpublished.
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
        await new RegistryTx(deps.redis, deps.keys).hdel(deps.keys.desired(id), 'published').sadd(deps.keys.unpublished(), id).commit();
        republished.push(id);
      } else if (broker !== null && (stored === null || broker > stored)) {
        // The stored hash no longer describes what the broker holds: drop it to force a fresh version.
        await new RegistryTx(deps.redis, deps.keys).max(deps.keys.version(id), broker).hdel(deps.keys.desired(id), 'hash').dirty(deviceScope(id)).commit();
        bumped.push(id);
      }
    }
    try {
      await deps.drain.request();
    } catch (err) {
      deps.logger.warn({ err: errorMessage(err) }, 'drain after anti-entropy failed; it is retried');
    }
    if (republished.length || bumped.length) {
      deps.logger.info({ checked: ids.length, republished: republished.length, bumped: bumped.length }, 'anti-entropy repaired desired states');
    }
    return { checked: ids.length, republished, bumped };
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
