import { randomBytes } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../../shared/logger.js';
import type { Topics } from '../../shared/topics.js';
import { errorMessage } from '../../shared/errors.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import { deviceScope, RegistryTx } from '../registry/registry-tx.js';
import type { IntentDrain } from './intent-drain.js';
import { readRetained } from './retained-reader.js';

export interface AntiEntropyDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  drain: IntentDrain;
  /** Opens a short-lived service connection to read what the broker retains. */
  openReader: (options: IClientOptions) => Promise<MqttClient>;
  logger: Logger;
  /** Quiet time that ends a retained read when not every topic answered. */
  settleMs?: number;
  maxWaitMs?: number;
  /** Devices audited per pass while the broker's marker shows its retained store intact (default 1000). */
  auditBatch?: number;
}

export type AntiEntropyScope = 'full' | 'slice';

export interface AntiEntropyResult {
  /** `full`: every device was compared (first pass, or the broker or the registry lost state); `slice`: the next audit slice. */
  scope: AntiEntropyScope;
  /** Why a full pass ran, when it did. */
  reason?: string;
  checked: number;
  republished: string[];
  /** Devices whose retained version was above the controller's counter (controller state lost). */
  bumped: string[];
}

/** Exact topics per retained read, and reads at a time (see retainedVersions). */
const READ_CHUNK = 1000;
const READ_PARALLEL = 4;

/** What the controller keeps retained on the broker: its token and the registry generation it had seen. */
const Marker = z.object({ token: z.string().min(1), generation: z.number().int().nonnegative() });
type Marker = z.infer<typeof Marker>;

/**
 * Compares what the broker retains with what the controller last stored,
 * and repairs the difference: a retained document that is missing or older
 * is marked unpublished, so the drain publishes it again (same version —
 * agents treat it as a no-op if they have it); one that is newer than the
 * controller's record means the controller lost state, so its counter is
 * lifted past it (an atomic max: never lowered, whoever else raises it) and
 * the device marked dirty for a fresh version. Every pass ends with a drain,
 * which also publishes whatever a crash left dirty or unpublished.
 *
 * The cost follows what changed, not the fleet (DD-031): a retained marker
 * (a token created once in Redis, and the registry generation) tells whether
 * the broker lost its retained store (marker gone or another token) or the
 * registry went back in time (the broker's generation is ahead): only then is
 * every device compared. Otherwise a pass reads one exact marker topic and
 * audits the next `auditBatch` devices (a cursor over the device set), so a
 * partial loss is still found within one audit cycle.
 * Runs at start, after every broker reconnect and periodically.
 */
export class AntiEntropy {
  constructor(private readonly deps: AntiEntropyDeps) {}

  async run(options: { full?: boolean } = {}): Promise<AntiEntropyResult> {
    const { deps } = this;
    const client = await deps.openReader({ clean: true, reconnectPeriod: 0 });
    try {
      const local = await this.localMarker();
      const remote = await this.remoteMarker(client);
      const reason = options.full
        ? 'requested'
        : local.created
          ? 'no marker in the registry'
          : remote === null
            ? 'the broker holds no marker: its retained store was lost or is new'
            : remote.token !== local.token
              ? 'the broker holds another registry’s marker'
              : remote.generation > local.generation
                ? 'the broker saw a newer registry generation: the registry went back in time'
                : undefined;
      const scope: AntiEntropyScope = reason === undefined ? 'slice' : 'full';
      const ids = scope === 'full' ? await deps.devices.ids() : await this.nextSlice();
      const retained = await this.retainedVersions(client, ids);
      const { republished, bumped } = await this.repair(ids, retained);
      let drained = true;
      try {
        await deps.drain.request();
      } catch (err) {
        drained = false;
        deps.logger.warn({ err: errorMessage(err) }, 'drain after anti-entropy failed; it is retried');
      }
      // The marker is renewed only once the registry's view is on the broker again.
      if (drained && (scope === 'full' || remote === null || remote.generation < local.generation)) {
        const marker = JSON.stringify({ token: local.token, generation: local.generation } satisfies Marker);
        await client.publishAsync(deps.topics.controllerMarker(), marker, { qos: 1, retain: true }).catch((err: unknown) => {
          // Correct without it, only dearer: every pass is then a full one.
          deps.logger.warn({ err: errorMessage(err), topic: deps.topics.controllerMarker() }, 'the broker did not take the anti-entropy marker; passes stay full');
        });
      }
      if (scope === 'full' || republished.length || bumped.length) {
        deps.logger.info({ scope, ...(reason ? { reason } : {}), checked: ids.length, republished: republished.length, bumped: bumped.length }, 'anti-entropy pass');
      }
      return { scope, ...(reason ? { reason } : {}), checked: ids.length, republished, bumped };
    } finally {
      await client.endAsync().catch(() => undefined);
    }
  }

  private async repair(ids: readonly string[], retained: Map<string, number>): Promise<{ republished: string[]; bumped: string[] }> {
    const { deps } = this;
    const pipeline = deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(deps.keys.desired(id), 'version', 'doc');
    const rows = ids.length ? ((await pipeline.exec()) ?? []) : [];
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
    return { republished, bumped };
  }

  /** The registry's marker: its token (created once, by whichever controller comes first) and generation. */
  private async localMarker(): Promise<Marker & { created: boolean }> {
    const { redis, keys } = this.deps;
    const created = (await redis.set(keys.retainedMarker(), randomBytes(12).toString('base64url'), 'NX')) === 'OK';
    const [token, generation] = await redis.mget(keys.retainedMarker(), keys.generation());
    return { token: token ?? '', generation: Number(generation ?? 0), created };
  }

  private async remoteMarker(client: MqttClient): Promise<Marker | null> {
    const { deps } = this;
    const topic = deps.topics.controllerMarker();
    const payload = (await readRetained(client, [topic], this.readOptions())).get(topic);
    if (!payload) return null;
    try {
      const parsed = Marker.safeParse(JSON.parse(payload.toString('utf8')));
      return parsed.success ? parsed.data : null;
    } catch {
      return null; // a malformed marker counts as none: a full pass writes a good one
    }
  }

  /** The next `auditBatch` device ids (SSCAN: every device present throughout a cycle is audited in it). */
  private async nextSlice(): Promise<string[]> {
    const { redis, keys } = this.deps;
    const want = this.deps.auditBatch ?? 1000;
    let cursor = (await redis.get(keys.auditCursor())) ?? '0';
    const ids = new Set<string>();
    // At most one wrap-around per pass: a small fleet is audited whole, once.
    let wrapped = false;
    while (ids.size < want) {
      const [next, batch] = await redis.sscan(keys.devices(), cursor, 'COUNT', Math.min(want, 1000));
      for (const id of batch) ids.add(id);
      cursor = next;
      if (cursor === '0') {
        if (wrapped) break;
        wrapped = true;
        if (ids.size >= (await redis.scard(keys.devices()))) break;
      }
    }
    await redis.set(keys.auditCursor(), cursor);
    return [...ids].sort();
  }

  /**
   * device id → version of the retained desired document the broker holds.
   * Exact topics, READ_CHUNK per read and READ_PARALLEL reads at a time: a
   * read ends as soon as every topic answered, so only devices whose
   * document is missing cost a settle time. (A wildcard read of the whole
   * fleet has no end but a quiet time, and at 100,000 devices ran into its
   * time limit with a third of the documents still unread.)
   */
  private async retainedVersions(client: MqttClient, ids: readonly string[]): Promise<Map<string, number>> {
    const { deps } = this;
    const out = new Map<string, number>();
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += READ_CHUNK) chunks.push(ids.slice(i, i + READ_CHUNK).map((id) => deps.topics.desired(id)));
    const readOne = async (topics: string[]): Promise<void> => {
      for (const [topic, payload] of await readRetained(client, topics, this.readOptions())) {
        const parsed = deps.topics.parseDevice(topic);
        if (parsed?.channel !== 'desired') continue;
        try {
          const version = (JSON.parse(payload.toString('utf8')) as { version?: unknown }).version;
          if (typeof version === 'number') out.set(parsed.deviceId, version);
        } catch {
          // a malformed retained document counts as missing and is replaced
        }
      }
    };
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let c = chunks[next++]; c !== undefined; c = chunks[next++]) await readOne(c);
    };
    await Promise.all(Array.from({ length: Math.min(READ_PARALLEL, chunks.length) }, lane));
    return out;
  }

  private readOptions(): { settleMs: number; maxWaitMs: number } {
    return { settleMs: this.deps.settleMs ?? 500, maxWaitMs: this.deps.maxWaitMs ?? 30_000 };
  }
}
