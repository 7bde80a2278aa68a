import type { Redis } from 'ioredis';
import { errorMessage } from '../../shared/errors.js';
import type { Keys } from '../registry/keys.js';
import { ALL_SCOPE, RegistryTx } from '../registry/registry-tx.js';
import type { IntentDrain } from './intent-drain.js';

export { EMPTY_CONTENT_HASH } from './desired-writer.js';

export interface RecomputeResult {
  considered: number;
  published: { deviceId: string; version: number }[];
  unchanged: number;
  problems: Record<string, string[]>;
  /** Devices in scope whose change is stored but not yet on the broker; the drain keeps retrying. */
  pending: string[];
  /** Why the change is not published yet (MQTT down, another controller's drain, an error), or null. */
  deferred: string | null;
}

export interface DesiredPublisherDeps {
  redis: Redis;
  keys: Keys;
  drain: IntentDrain;
}

/**
 * What callers use to get desired documents out: mark, then drain
 * (intent-drain.ts). Registry changes mark their own scopes atomically, so
 * they only `settle`; `recompute` marks first (anti-entropy, tests, tools).
 */
export class DesiredPublisher {
  constructor(private readonly deps: DesiredPublisherDeps) {}

  /** Recompute the given devices (all devices when omitted) and publish what changed. */
  async recompute(deviceIds?: readonly string[]): Promise<RecomputeResult> {
    const tx = new RegistryTx(this.deps.redis, this.deps.keys);
    if (deviceIds) tx.dirtyDevices(deviceIds);
    else tx.dirty(ALL_SCOPE);
    await tx.commit();
    return this.settle(deviceIds);
  }

  /**
   * Drains, and tells what became of the given devices (all when omitted).
   * Never throws for a failed drain: the change is durable, so it is
   * reported as pending, with why.
   */
  async settle(deviceIds?: readonly string[]): Promise<RecomputeResult> {
    const scope = deviceIds ? new Set(deviceIds) : null;
    const inScope = (id: string): boolean => scope === null || scope.has(id);
    let deferred: string | null = null;
    let result: Awaited<ReturnType<IntentDrain['request']>> | null = null;
    try {
      result = await this.deps.drain.request();
      deferred = result.deferred;
    } catch (err) {
      deferred = `publishing failed: ${errorMessage(err)}; it is retried until it succeeds`;
    }
    let unpublished: string[] = [];
    try {
      unpublished = (await this.deps.drain.backlog()).unpublished.filter(inScope);
    } catch {
      // Redis unreachable: the drain error above already says so.
    }
    const pending = [...new Set([...(result?.pending.filter(inScope) ?? []), ...unpublished])].sort();
    if (pending.length > 0 && deferred === null) deferred = 'the broker has not acknowledged every document yet (is it reachable?); retried until it does';
    const problems = Object.fromEntries(Object.entries(result?.problems ?? {}).filter(([id]) => inScope(id)));
    const published = result?.published.filter((p) => inScope(p.deviceId)) ?? [];
    return {
      considered: scope ? scope.size : (result?.considered ?? 0),
      published,
      unchanged: result?.unchanged ?? 0,
      problems,
      pending,
      deferred,
    };
  }
}
